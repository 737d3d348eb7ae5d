"""Performance reports for a known series on the real product database, computed by hand."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from musiccharts.analytics.performance import previous_period, refresh_performance
from musiccharts.charts.load import load_ranking
from musiccharts.db.connection import connect
from tests.integration.db.rankings import day_period, small_ranking, song_uuid

pytestmark = pytest.mark.integration

START, END = date(2026, 3, 1), date(2026, 3, 7)


def setup_data(dsn: str) -> tuple[int, int]:
    with connect(dsn) as conn:
        for day, songs in ((2, [2, 1]), (5, [1, 2]), (9, [1])):
            ranking = small_ranking(datetime(2026, 3, day, 12, tzinfo=UTC), songs)
            start, end = day_period(ranking.date)
            load_ranking(conn, ranking, chart_slug="global-28", period_start=start, period_end=end)
        track_id = conn.execute("SELECT id FROM tracks WHERE uuid = %s", (song_uuid(1),)).fetchone()[0]
        artist_id = conn.execute(
            "INSERT INTO artists (uuid, name) VALUES (%s, 'Artist A') RETURNING id",
            (str(uuid.uuid5(uuid.NAMESPACE_DNS, "artist-a")),),
        ).fetchone()[0]
        conn.execute("INSERT INTO track_artists (track_id, artist_id) VALUES (%s, %s)", (track_id, artist_id))
        # Identifier "a": days 1, 2, 4, 5, 7 (3 and 6 missing); identifier "b" on days 1 and 7 only.
        for offset, value in ((0, 100), (1, 110), (3, 130), (4, 150), (6, 160)):
            conn.execute(
                "INSERT INTO track_audience (track_id, platform, identifier, date, value) VALUES (%s, 'spotify', 'a', %s, %s)",
                (track_id, START + timedelta(days=offset), value),
            )
        for offset in (0, 6):
            conn.execute(
                "INSERT INTO track_audience (track_id, platform, identifier, date, value) VALUES (%s, 'spotify', 'b', %s, 10)",
                (track_id, START + timedelta(days=offset)),
            )
        conn.execute(
            "INSERT INTO track_audience (track_id, platform, identifier, date, value) VALUES (%s, 'spotify', 'a', %s, 999)",
            (track_id, END + timedelta(days=1)),  # outside the period
        )
        for day, value in ((START, 1000), (END, 1200)):
            conn.execute(
                "INSERT INTO artist_audience (artist_id, platform, date, follower_count) VALUES (%s, 'spotify', %s, %s)",
                (artist_id, day, value),
            )
    return track_id, artist_id


def reports(dsn: str) -> dict[tuple, tuple]:
    with connect(dsn) as conn:
        rows = conn.execute(
            "SELECT entity_type, entity_id, platform, start_value, end_value, difference, growth_pct, average,"
            " peak, points, best_chart_position, chart_days FROM performance_reports"
        ).fetchall()
    return {row[:3]: row[3:] for row in rows}


def test_performance_of_a_known_series(clean_product_db):
    track_id, artist_id = setup_data(clean_product_db)
    with connect(clean_product_db) as conn:
        run = refresh_performance(conn, START, END)

    # Per day, both identifiers summed: 110, 110, 130, 150, 170.
    track_row = (
        Decimal(110),
        Decimal(170),
        Decimal(60),
        Decimal("54.5455"),
        Decimal(134),
        Decimal(170),
        5,
        1,
        2,
    )
    assert reports(clean_product_db) == {
        ("track", track_id, "spotify"): track_row,
        ("artist", artist_id, "spotify"): (
            Decimal(1000),
            Decimal(1200),
            Decimal(200),
            Decimal(20),
            Decimal(1100),
            Decimal(1200),
            2,
            1,
            2,
        ),
        ("artist_tracks", artist_id, "spotify"): track_row,
        ("artist_tracks", artist_id, "*"): track_row,
    }
    assert (run.series, run.rows_written) == (2, 4)

    with connect(clean_product_db) as conn:
        again = refresh_performance(conn, START, END)
    assert again.rows_written == 0


def test_platform_and_entity_filters(clean_product_db):
    track_id, _ = setup_data(clean_product_db)
    with connect(clean_product_db) as conn:
        run = refresh_performance(conn, START, END, platforms=["youtube"])
        assert (run.series, run.rows_written) == (0, 0)
        only_track = refresh_performance(conn, START, END, track_ids=[track_id], artist_ids=[0])
    assert (only_track.series, only_track.rows_written) == (1, 1)
    assert list(reports(clean_product_db)) == [("track", track_id, "spotify")]
    with connect(clean_product_db) as conn, pytest.raises(ValueError, match="before its start"):
        refresh_performance(conn, END, START)


@pytest.mark.parametrize(
    ("cadence", "today", "expected"),
    [
        ("weekly", date(2026, 3, 11), (date(2026, 3, 2), date(2026, 3, 8))),
        ("weekly", date(2026, 3, 9), (date(2026, 3, 2), date(2026, 3, 8))),
        ("monthly", date(2026, 3, 1), (date(2026, 2, 1), date(2026, 2, 28))),
        ("monthly", date(2026, 1, 15), (date(2025, 12, 1), date(2025, 12, 31))),
    ],
)
def test_previous_period(cadence, today, expected):
    assert previous_period(cadence, today) == expected
