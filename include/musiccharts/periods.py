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


class PeriodError(ValueError):
    """A run has no period to sync (no data interval and no ``period`` param), or a bad one."""


def period_containing(frequency: Frequency, day: date) -> tuple[datetime, datetime]:
    """The chart period ``[start, end)`` that contains ``day`` (same boundaries as :data:`PERIOD_CRON`)."""
    frequency = Frequency(frequency)
    if frequency is Frequency.DAILY:
        start = day
        end = date.fromordinal(day.toordinal() + 1)
    elif frequency is Frequency.WEEKLY:
        start = date.fromordinal(day.toordinal() - (day.weekday() - 4) % 7)  # back to Friday
        end = date.fromordinal(start.toordinal() + 7)
    else:
        start = day.replace(day=1)
        end = (
            start.replace(year=start.year + 1, month=1)
            if start.month == 12
            else start.replace(month=start.month + 1)
        )
    return start_of_day(start), start_of_day(end)


def resolve_period(
    frequency: Frequency,
    data_interval_start: datetime | None,
    data_interval_end: datetime | None,
    requested_day: str | None = None,
) -> tuple[datetime, datetime]:
    """The period a run syncs: the ``period`` param when given, else the run's data interval."""
    if requested_day:
        try:
            day = date.fromisoformat(requested_day)
        except ValueError:
            raise PeriodError(f"param 'period' must be a date YYYY-MM-DD, got {requested_day!r}") from None
        return period_containing(frequency, day)
    if data_interval_start is None or data_interval_end is None:
        raise PeriodError(
            "this run has no data interval (triggered without a logical date): pass the param "
            "'period' (YYYY-MM-DD, any day inside the chart period) or trigger with a logical date"
        )
    if data_interval_end <= data_interval_start:
        raise PeriodError(f"empty data interval [{data_interval_start}, {data_interval_end})")
    return data_interval_start, data_interval_end
