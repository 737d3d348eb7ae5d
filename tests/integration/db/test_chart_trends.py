"""Chart trends on the real product database, against figures computed by hand.

The sequence (songs at positions 1..N of a daily chart):

    D0: 1 2 3      D1: 2 1 4      D2: 2 4      D3: 3 2 1      D4: 3 1 5

has climbers, fallers, an unchanged entry, exits (3 at D1, 1 at D2, 4 at D3, 2 at D4) and re-entries
(3 and 1 at D3). D2 is also loaded late, after D3 and D4 were computed without it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from musiccharts.analytics.trends import refresh_chart_trends
from musiccharts.charts.load import load_ranking
from musiccharts.db.connection import connect
from tests.integration.db.rankings import day_period, small_ranking

pytestmark = pytest.mark.integration

SLUG = "global-28"
DAY = datetime(2026, 3, 1, 12, tzinfo=UTC)
SEQUENCE = [[1, 2, 3], [2, 1, 4], [2, 4], [3, 2, 1], [3, 1, 5]]


def day(index: int) -> datetime:
    return DAY + timedelta(days=index)


def load_day(dsn: str, index: int, songs: list[int] | None = None) -> None:
    ranking = small_ranking(day(index), songs if songs is not None else SEQUENCE[index], slug=SLUG)
    start, end = day_period(ranking.date)
    with connect(dsn) as conn:
        load_ranking(conn, ranking, chart_slug=SLUG, period_start=start, period_end=end)


def refresh(dsn: str, **kwargs):
    with connect(dsn) as conn:
        return refresh_chart_trends(conn, **kwargs)


def trends(dsn: str) -> dict[tuple[int, int], tuple]:
    """(day index, song number) -> (position, movement, size, previous, peak, peak day, periods, streak)."""
    with connect(dsn) as conn:
        rows = conn.execute(
            """
            SELECT t.ranking_date, tr.name, t.position, t.movement, t.movement_size, t.previous_position,
                   t.peak_position, t.peak_date, t.periods_on_chart, t.current_streak
            FROM chart_trend_entries t JOIN tracks tr ON tr.id = t.track_id
            """
        ).fetchall()
    return {
        ((ranking_date - DAY).days, int(name.split()[-1])): (
            position,
            movement,
            size,
            previous,
            peak,
            (peak_date - DAY).days,
            periods,
            streak,
        )
        for ranking_date, name, position, movement, size, previous, peak, peak_date, periods, streak in rows
    }


def summaries(dsn: str) -> dict[int, tuple]:
    with connect(dsn) as conn:
        rows = conn.execute(
            "SELECT ranking_date, sequence_number, entries, new_entries, re_entries, climbers, fallers,"
            " unchanged, exits FROM chart_trend_rankings"
        ).fetchall()
    return {(row[0] - DAY).days: tuple(row[1:]) for row in rows}


def row_versions(dsn: str) -> dict[tuple, str]:
    """Physical row versions (xmin): any UPDATE, even to equal values, changes them."""
    with connect(dsn) as conn:
        entries = conn.execute(
            "SELECT 'e', ranking_id, position, xmin::text FROM chart_trend_entries"
        ).fetchall()
        rankings = conn.execute("SELECT 'r', ranking_id, 0, xmin::text FROM chart_trend_rankings").fetchall()
    return {row[:3]: row[3] for row in entries + rankings}


# Hand-computed: (position, movement, size, previous position, peak, peak day, periods on chart, streak).
EXPECTED_FULL = {
    (0, 1): (1, "new", 0, None, 1, 0, 1, 1),
    (0, 2): (2, "new", 0, None, 2, 0, 1, 1),
    (0, 3): (3, "new", 0, None, 3, 0, 1, 1),
    (1, 2): (1, "climber", 1, 2, 1, 1, 2, 2),
    (1, 1): (2, "faller", 1, 1, 1, 0, 2, 2),
    (1, 4): (3, "new", 0, None, 3, 1, 1, 1),
    (2, 2): (1, "unchanged", 0, 1, 1, 1, 3, 3),
    (2, 4): (2, "climber", 1, 3, 2, 2, 2, 2),
    (3, 3): (1, "re-entry", 0, None, 1, 3, 2, 1),
    (3, 2): (2, "faller", 1, 1, 1, 1, 4, 4),
    (3, 1): (3, "re-entry", 0, None, 1, 0, 3, 1),
    (4, 3): (1, "unchanged", 0, 1, 1, 3, 3, 2),
    (4, 1): (2, "climber", 1, 3, 1, 0, 4, 2),
    (4, 5): (3, "new", 0, None, 3, 4, 1, 1),
}
# day -> (sequence, entries, new, re-entries, climbers, fallers, unchanged, exits)
EXPECTED_SUMMARIES = {
    0: (1, 3, 3, 0, 0, 0, 0, 0),
    1: (2, 3, 1, 0, 1, 1, 0, 1),
    2: (3, 2, 0, 0, 1, 0, 1, 1),
    3: (4, 3, 0, 2, 0, 1, 0, 1),
    4: (5, 3, 1, 0, 1, 0, 1, 1),
}


def test_trends_of_a_sequence_with_exits_and_re_entries(clean_product_db):
    for index in range(5):
        load_day(clean_product_db, index)

    result = refresh(clean_product_db)

    assert trends(clean_product_db) == EXPECTED_FULL
    assert summaries(clean_product_db) == EXPECTED_SUMMARIES
    assert (result.rankings_recomputed, result.entries_written, result.summaries_written) == (5, 14, 5)
    with connect(clean_product_db) as conn:
        exits = conn.execute(
            "SELECT x.exit_date, tr.name, x.last_position, x.peak_position, x.periods_on_chart, x.streak_length"
            " FROM chart_trend_exits x JOIN tracks tr ON tr.id = x.track_id ORDER BY x.exit_date"
        ).fetchall()
    assert [((row[0] - DAY).days, row[1], *row[2:]) for row in exits] == [
        (1, "Song 3", 3, 3, 1, 1),
        (2, "Song 1", 2, 1, 2, 2),
        (3, "Song 4", 2, 2, 2, 2),
        (4, "Song 2", 2, 1, 4, 4),
    ]


def test_rerun_writes_nothing(clean_product_db):
    for index in range(5):
        load_day(clean_product_db, index)
    refresh(clean_product_db)
    before = row_versions(clean_product_db)

    again = refresh(clean_product_db)
    forced = refresh(clean_product_db, force=True)

    assert again.rankings_recomputed == 0
    assert (forced.rankings_recomputed, forced.rankings_rewritten) == (5, 0)
    assert (forced.entries_written, forced.entries_deleted, forced.summaries_written) == (0, 0, 0)
    assert row_versions(clean_product_db) == before


def test_late_loaded_middle_period_recomputes_only_the_later_rankings(clean_product_db):
    for index in (0, 1, 3, 4):
        load_day(clean_product_db, index)
    refresh(clean_product_db)
    # Without D2, song 1 stayed on the chart from D0 to D4 and song 2 from D0 to D3.
    assert trends(clean_product_db)[(3, 1)] == (3, "faller", 1, 2, 1, 0, 3, 3)
    assert trends(clean_product_db)[(4, 1)] == (2, "climber", 1, 3, 1, 0, 4, 4)
    before = row_versions(clean_product_db)

    load_day(clean_product_db, 2)
    result = refresh(clean_product_db)

    assert trends(clean_product_db) == EXPECTED_FULL
    assert summaries(clean_product_db) == EXPECTED_SUMMARIES
    assert result.rankings_recomputed == 3  # D2 (new), D3 and D4
    assert result.rankings_rewritten == 3  # all three differ: D3 and D4 now follow D2
    after = row_versions(clean_product_db)
    with connect(clean_product_db) as conn:
        early = {
            row[0]
            for row in conn.execute("SELECT id FROM rankings WHERE ranking_date < %s", (day(2),)).fetchall()
        }
    unchanged_early = {key: value for key, value in before.items() if key[1] in early}
    assert unchanged_early, "the early rankings have trend rows"
    assert {key: after[key] for key in unchanged_early} == unchanged_early


def test_a_new_ranking_writes_only_its_own_rows(clean_product_db):
    for index in range(5):
        load_day(clean_product_db, index)
    refresh(clean_product_db)
    before = row_versions(clean_product_db)

    load_day(clean_product_db, 5, [5, 3])
    result = refresh(clean_product_db)

    after = row_versions(clean_product_db)
    assert {key: after[key] for key in before} == before
    with connect(clean_product_db) as conn:
        new_id = conn.execute("SELECT id FROM rankings WHERE ranking_date = %s", (day(5),)).fetchone()[0]
    assert {key for key in after if key not in before} == {
        ("e", new_id, 1),
        ("e", new_id, 2),
        ("r", new_id, 0),
    }
    assert (result.rankings_recomputed, result.entries_written, result.summaries_written) == (1, 2, 1)
    assert trends(clean_product_db)[(5, 5)] == (1, "climber", 2, 3, 1, 5, 2, 2)
    assert trends(clean_product_db)[(5, 3)] == (2, "faller", 1, 1, 1, 3, 4, 3)


def test_reloaded_ranking_with_a_dropped_position_removes_its_trend_row(clean_product_db):
    for index in range(5):
        load_day(clean_product_db, index)
    refresh(clean_product_db)

    load_day(clean_product_db, 4, [3, 1])  # song 5 is gone from D4
    result = refresh(clean_product_db)

    # The ranking's rows differ, so they are rewritten as a whole: three deleted, two written.
    assert (result.rankings_rewritten, result.entries_deleted, result.entries_written) == (1, 3, 2)
    assert (4, 5) not in trends(clean_product_db)
    assert summaries(clean_product_db)[4] == (5, 2, 0, 0, 1, 0, 1, 1)


def test_deleted_ranking_takes_its_trend_rows_and_the_next_one_is_recomputed(clean_product_db):
    for index in range(5):
        load_day(clean_product_db, index)
    refresh(clean_product_db)

    with connect(clean_product_db) as conn:
        conn.execute("DELETE FROM rankings WHERE ranking_date = %s", (day(2),))
    refresh(clean_product_db)

    current = trends(clean_product_db)
    assert not [key for key in current if key[0] == 2]
    # Song 1 was on D1 and D3 with D2 gone: no longer a re-entry, a faller from 2 on a three-ranking streak.
    assert current[(3, 1)] == (3, "faller", 1, 2, 1, 0, 3, 3)


def test_an_earlier_reload_that_only_moves_a_later_streak_start_rewrites_that_ranking(clean_product_db):
    # Song 9 on D0, D1, D3, D4 (a streak of 2 at D4). Reloading D1 without it and D2 with it changes nothing
    # at D4 but where the streak began (D2, a streak of 3): same position, previous position, previous
    # ranking, periods and peak, so only the streak tells the stored D4 row is stale.
    for index, songs in enumerate([[1, 9], [1, 9], [1], [1, 9], [1, 9]]):
        load_day(clean_product_db, index, songs)
    refresh(clean_product_db)
    assert trends(clean_product_db)[(4, 9)] == (2, "unchanged", 0, 2, 2, 0, 4, 2)

    load_day(clean_product_db, 1, [1])
    load_day(clean_product_db, 2, [1, 9])  # song 1 keeps position 1 throughout: its rows do not change
    refresh(clean_product_db)

    assert trends(clean_product_db)[(4, 9)] == (2, "unchanged", 0, 2, 2, 0, 4, 3)
    incremental = trends(clean_product_db)
    with connect(clean_product_db) as conn:
        conn.execute("TRUNCATE chart_trend_entries, chart_trend_rankings")
    refresh(clean_product_db)
    assert trends(clean_product_db) == incremental  # the same as computed from scratch
