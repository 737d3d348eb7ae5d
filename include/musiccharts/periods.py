"""Chart periods: which cron a chart frequency runs on, and how a data interval maps to a ranking.

A chart period is a DAG run's data interval ``[start, end)``. Soundcharts dates rankings inside their
period (daily rankings at 12:00 UTC of the day, weekly ones on the Friday that opens the week, monthly ones
on the 1st), so a run asks for the ranking of ``start`` and checks that the ranking's real date
(``related.date``) lies inside its interval.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from musiccharts.config import Frequency

#: Cron expressions (UTC) whose consecutive points bound one chart period.
PERIOD_CRON: dict[Frequency, str] = {
    Frequency.DAILY: "0 0 * * *",
    Frequency.WEEKLY: "0 0 * * 5",  # weeks start on Friday, the day weekly charts are dated
    Frequency.MONTHLY: "0 0 1 * *",
}


def period_cron(frequency: Frequency) -> str:
    return PERIOD_CRON[Frequency(frequency)]


def start_of_day(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def in_period(moment: datetime, start: datetime, end: datetime) -> bool:
    return start <= moment < end
