"""Incremental audience windows: from the day after the last stored date up to the last crawled day.

Soundcharts refuses periods longer than 90 days, so a range is split into consecutive windows of at most
``max_window_days`` days (inclusive bounds). An entity x platform with nothing stored yet goes back
``first_fetch_days``. A range that is already up to date plans no window: rerunning costs zero calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta

from musiccharts.soundcharts.windows import Window, split_windows

__all__ = [
    "Window",
    "latest_per_platform",
    "plan_entity_windows",
    "plan_windows",
    "resolve_until",
    "split_windows",
]


def plan_windows(
    last_stored: date | None,
    until: date,
    *,
    first_fetch_days: int,
    max_window_days: int,
) -> list[Window]:
    """Windows to fetch for one entity x platform whose newest stored date is ``last_stored``.

    ``until`` is the last crawled day (yesterday: today's numbers are not published yet).
    """
    if last_stored is None:
        start = until - timedelta(days=first_fetch_days - 1)
    else:
        start = last_stored + timedelta(days=1)
    return split_windows(start, until, max_window_days)


def latest_per_platform(last_dates: Iterable[tuple[str, str, str, date]]) -> dict[tuple[str, str], date]:
    """Reduce ``(entity, platform, identifier, last_date)`` rows to the newest date per entity x platform.

    Every identifier of a platform is served in the same response, so the entity x platform is as fresh as
    its newest identifier; an identifier that stopped being served must not pin the window in the past.
    """
    newest: dict[tuple[str, str], date] = {}
    for entity_uuid, platform, _identifier, last_date in last_dates:
        key = (entity_uuid, platform)
        if key not in newest or last_date > newest[key]:
            newest[key] = last_date
    return newest


def plan_entity_windows(
    entity_uuids: Iterable[str],
    platforms: Iterable[str],
    last_dates: Mapping[tuple[str, str], date],
    until: date,
    *,
    first_fetch_days: int,
    max_window_days: int,
) -> dict[tuple[str, str], list[Window]]:
    """Windows for every entity x platform of a batch (entries with nothing to fetch are left out)."""
    plan: dict[tuple[str, str], list[Window]] = {}
    platform_list = list(platforms)
    for entity_uuid in entity_uuids:
        for platform in platform_list:
            windows = plan_windows(
                last_dates.get((entity_uuid, platform)),
                until,
                first_fetch_days=first_fetch_days,
                max_window_days=max_window_days,
            )
            if windows:
                plan[(entity_uuid, platform)] = windows
    return plan


def resolve_until(until: str | date | None, now: datetime | None = None) -> date:
    """The last day to fetch: the ``until`` param, else yesterday (today's numbers are not crawled yet)."""
    if isinstance(until, date):
        return until
    if until:
        return date.fromisoformat(until)
    return (now or datetime.now(UTC)).astimezone(UTC).date() - timedelta(days=1)
