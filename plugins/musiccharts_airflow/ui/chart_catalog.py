"""The configured charts as the UI sees them, and the periods each one should have by now.

The configuration file is re-read when it changes (adding a chart is one YAML line and its DAG appears
within seconds; the coverage page should not need an api-server restart for it).
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

from musiccharts.config import ChartConfig, Frequency, charts_file, parse_chart_configs
from musiccharts.periods import period_containing

_cache_lock = threading.Lock()
_cache: dict[str, tuple[float, tuple[ChartConfig, ...]]] = {}


def configured_charts() -> tuple[ChartConfig, ...]:
    path = charts_file()
    mtime = path.stat().st_mtime
    with _cache_lock:
        cached = _cache.get(str(path))
        if cached and cached[0] == mtime:
            return cached[1]
        charts = tuple(parse_chart_configs(path.read_text(), source=path.name))
        _cache[str(path)] = (mtime, charts)
        return charts


def chart_config(slug: str) -> ChartConfig | None:
    return next((chart for chart in configured_charts() if chart.slug == slug), None)


def complete_periods(
    chart: ChartConfig, first_day: date, last_day: date, now: datetime | None = None
) -> list[tuple[datetime, datetime]]:
    """Periods ``[start, end)`` of ``chart`` that start in ``[first_day, last_day]`` and have ended.

    Periods before the chart's ``history_start`` are not expected (catchup starts there).
    """
    now = now or datetime.now(UTC)
    day = max(first_day, chart.history_start)
    start, end = period_containing(chart.frequency, day)
    if start.date() < chart.history_start:  # history_start inside a period: that period is not synced
        start, end = period_containing(chart.frequency, end.date())
    periods = []
    fixed_step = {Frequency.DAILY: timedelta(days=1), Frequency.WEEKLY: timedelta(days=7)}.get(
        chart.frequency
    )
    while start.date() <= last_day and end <= now:
        periods.append((start, end))
        if fixed_step:  # the common case, without recomputing the calendar for every period
            start, end = end, end + fixed_step
        else:
            start, end = period_containing(chart.frequency, end.date())
    return periods


def default_window(days: int = 365, today: date | None = None) -> tuple[date, date]:
    today = today or datetime.now(UTC).date()
    return today - timedelta(days=days - 1), today
