"""The one splitter of audience date ranges into request windows.

Soundcharts refuses audience periods longer than 90 days. A window here spans at most ``max_window_days``
calendar days, both bounds included (90 days: ``endDate - startDate`` is at most 89), which satisfies the
limit however the API counts it. The client and the incremental audience planner both use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

#: Audience time series accept periods of at most 90 days.
AUDIENCE_WINDOW_DAYS = 90


@dataclass(frozen=True)
class Window:
    """Inclusive date range ``[start, end]`` of one audience request."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def split_windows(start: date, end: date, max_window_days: int = AUDIENCE_WINDOW_DAYS) -> list[Window]:
    """``[start, end]`` as consecutive windows of at most ``max_window_days`` days (oldest first).

    An empty range (``start`` after ``end``) has no window.
    """
    if max_window_days < 1:
        raise ValueError("max_window_days must be >= 1")
    windows: list[Window] = []
    cursor = start
    while cursor <= end:
        window_end = min(end, cursor + timedelta(days=max_window_days - 1))
        windows.append(Window(cursor, window_end))
        cursor = window_end + timedelta(days=1)
    return windows
