"""The E2E harness's period arithmetic (fast, no stack): the charts file gives exactly N complete periods."""

from __future__ import annotations

from datetime import date

import pytest

from musiccharts.config import parse_chart_configs
from musiccharts.periods import period_containing
from musiccharts_stack.e2e import E2EChart, write_charts_file

DAILY = E2EChart("global-28", "spotify", "GLOBAL", "daily", periods=8)
WEEKLY = E2EChart("global-weekly-28", "spotify", "GLOBAL", "weekly", periods=8)


def test_daily_periods_end_yesterday() -> None:
    starts = DAILY.period_starts(date(2026, 11, 29))
    assert starts == [date(2026, 11, day) for day in range(21, 29)]


@pytest.mark.parametrize(
    ("today", "last_start"),
    [
        (date(2026, 11, 29), date(2026, 11, 20)),  # Sunday: the week that began on Friday 20th is complete
        (date(2026, 11, 27), date(2026, 11, 20)),  # Friday 00:00: that week just ended
        (date(2026, 11, 26), date(2026, 11, 13)),  # Thursday: the current week is not complete yet
    ],
)
def test_weekly_periods_are_complete_friday_weeks(today: date, last_start: date) -> None:
    starts = WEEKLY.period_starts(today)
    assert len(starts) == 8
    assert starts[-1] == last_start
    for start in starts:
        period_start, period_end = period_containing("weekly", start)
        assert period_start.date() == start  # every start is a chart-period boundary (a Friday)
        assert period_end.date() <= today


def test_charts_file_is_valid_and_starts_history_at_the_first_period(tmp_path) -> None:
    today = date(2026, 11, 29)
    path = write_charts_file(tmp_path / "charts.yaml", [DAILY, WEEKLY], today)
    charts = parse_chart_configs(path.read_text())
    assert [(chart.dag_id, chart.history_start) for chart in charts] == [
        ("sync_chart_rankings__global-28", date(2026, 11, 21)),
        ("sync_chart_rankings__global-weekly-28", date(2026, 10, 2)),
    ]
