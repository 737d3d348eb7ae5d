"""Audience window planning: incremental, bounded to 90 days, nothing when up to date."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

from musiccharts.catalog.audience import (
    Window,
    latest_per_platform,
    plan_entity_windows,
    plan_windows,
    resolve_until,
    split_windows,
)

UNTIL = date(2026, 11, 28)


def test_first_fetch_goes_back_the_configured_days_in_90_day_windows():
    windows = plan_windows(None, UNTIL, first_fetch_days=200, max_window_days=90)
    assert windows[0].start == UNTIL - timedelta(days=199)
    assert windows[-1].end == UNTIL
    assert [window.days for window in windows] == [90, 90, 20]
    # Contiguous, no overlap, no gap.
    for previous, following in itertools.pairwise(windows):
        assert following.start == previous.end + timedelta(days=1)


def test_increment_starts_the_day_after_the_last_stored_date():
    assert plan_windows(date(2026, 11, 25), UNTIL, first_fetch_days=90, max_window_days=90) == [
        Window(date(2026, 11, 26), UNTIL)
    ]


def test_up_to_date_series_plans_nothing():
    assert plan_windows(UNTIL, UNTIL, first_fetch_days=90, max_window_days=90) == []
    assert plan_windows(UNTIL + timedelta(days=3), UNTIL, first_fetch_days=90, max_window_days=90) == []


def test_split_exactly_90_days_is_one_window():
    assert split_windows(date(2026, 1, 1), date(2026, 3, 31), 90) == [
        Window(date(2026, 1, 1), date(2026, 3, 31))
    ]


def test_newest_identifier_decides_per_platform():
    rows = [
        ("t1", "spotify", "idA", date(2026, 11, 20)),
        ("t1", "spotify", "idB", date(2026, 11, 27)),
        ("t1", "youtube", "yt", date(2026, 11, 1)),
    ]
    assert latest_per_platform(rows) == {
        ("t1", "spotify"): date(2026, 11, 27),
        ("t1", "youtube"): date(2026, 11, 1),
    }


def test_entity_plan_skips_up_to_date_pairs():
    last = {("t1", "spotify"): UNTIL, ("t1", "youtube"): date(2026, 11, 20)}
    plan = plan_entity_windows(
        ["t1"], ["spotify", "youtube", "shazam"], last, UNTIL, first_fetch_days=30, max_window_days=90
    )
    assert set(plan) == {("t1", "youtube"), ("t1", "shazam")}
    assert plan[("t1", "youtube")] == [Window(date(2026, 11, 21), UNTIL)]
    assert plan[("t1", "shazam")] == [Window(UNTIL - timedelta(days=29), UNTIL)]


def test_until_defaults_to_yesterday():
    assert resolve_until(None, now=datetime(2026, 11, 29, 3, tzinfo=UTC)) == date(2026, 11, 28)
    assert resolve_until("2026-10-01") == date(2026, 10, 1)
