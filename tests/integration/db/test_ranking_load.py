"""The set-based ranking loader on the real product database (recorded payload + synthetic neighbours)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

import musiccharts.charts.load as load_module
from musiccharts.charts.load import (
    RankingLoad,
    check_ranking_quality,
    is_period_complete,
    load_ranking,
    load_rankings,
)
from musiccharts.charts.quality import complete_ranking_dates
from musiccharts.charts.validation import InvalidRanking
from musiccharts.db.connection import connect
from tests.db_snapshot import table_snapshot
from tests.integration.db.rankings import (
    day_period,
    ranking_from_pages,
    recorded_page,
    small_ranking,
    song_uuid,
    synthetic_second_page,
)

pytestmark = pytest.mark.integration

SLUG = "global-28"
RECORDED_DATE = datetime(2025, 8, 23, 12, tzinfo=UTC)  # related.date of the recorded response
PERIOD = (datetime(2025, 8, 23, tzinfo=UTC), datetime(2025, 8, 24, tzinfo=UTC))  # the DAG's data interval


def load(dsn, ranking, period=None, slug=SLUG):
    start, end = period or day_period(ranking.date)
    with connect(dsn) as conn:
        return load_ranking(conn, ranking, chart_slug=slug, period_start=start, period_end=end)


def count(dsn, table) -> int:
    with connect(dsn) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


# --- the recorded ranking ------------------------------------------------------------------------------------


def test_full_ranking_stores_every_entry_at_the_real_ranking_date(clean_product_db, full_ranking):
    result = load(clean_product_db, full_ranking, PERIOD)

    assert (result.entries, result.new_tracks, result.entries_changed, result.exits_recorded) == (
        200,
        200,
        200,
        0,
    )
    assert result.ranking_date == RECORDED_DATE
    with connect(clean_product_db) as conn:
        ranking = conn.execute(
            "SELECT id, ranking_date, period_start, period_end, expected_entries, entry_count,"
            " jsonb_array_length(raw_pages), raw_pages->0->'related'->>'date' FROM rankings"
        ).fetchall()
        assert ranking == [
            (result.ranking_id, RECORDED_DATE, *PERIOD, 200, 200, 2, "2025-08-23T12:00:00+00:00")
        ]
        positions = [row[0] for row in conn.execute("SELECT position FROM ranking_entries ORDER BY position")]
        assert positions == list(range(1, 201))
        chart = conn.execute(
            "SELECT c.slug, p.slug, c.name, c.country_code, c.frequency, c.max_entries, c.metric_type, c.sync_enabled,"
            " c.raw->>'countryName' FROM charts c JOIN platforms p ON p.id = c.platform_id"
        ).fetchone()
        assert chart == (SLUG, "spotify", "Top Songs", None, "daily", 200, "streamcount", True, "Worldwide")
        first = conn.execute(
            """
            SELECT t.uuid, t.name, t.credit_name, e.previous_position, e.position_evolution, e.metric,
                   e.time_on_chart, e.time_on_chart_unit, e.entry_state, e.entry_date, e.rank_date, e.raw
            FROM ranking_entries e JOIN tracks t ON t.id = e.track_id WHERE e.position = 1
            """
        ).fetchone()
    recorded_first = recorded_page()["items"][0]
    assert first == (
        "8a927b4b-ac0d-4ca4-83db-43aedbe6a1d2",
        "Golden",
        "HUNTR/X & EJAE & AUDREY NUNA & REI AMI & KPop Demon Hunters Cast",
        1,
        0,
        Decimal(8287561),
        55,
        "DOC",
        None,  # the API's "" means no state
        datetime(2025, 6, 22, 12, tzinfo=UTC),
        RECORDED_DATE,
        recorded_first,  # the entry's payload exactly as the API sent it
    )


def test_complete_ranking_passes_quality_and_completes_its_period(clean_product_db, full_ranking):
    result = load(clean_product_db, full_ranking, PERIOD)
    with connect(clean_product_db) as conn:
        assert check_ranking_quality(conn, result.ranking_id) == []
        assert is_period_complete(conn, SLUG, *PERIOD) is True
        assert is_period_complete(conn, SLUG, PERIOD[1], PERIOD[1] + timedelta(days=1)) is False
        assert is_period_complete(conn, "other-chart", *PERIOD) is False
        # The range form (the history import's) agrees: the ranking is found in its period only.
        moment = conn.execute("SELECT ranking_date FROM rankings").fetchone()[0]
        assert complete_ranking_dates(conn, SLUG, PERIOD[0], PERIOD[1] + timedelta(days=1)) == [moment]
        assert complete_ranking_dates(conn, SLUG, PERIOD[1], PERIOD[1] + timedelta(days=1)) == []
        assert complete_ranking_dates(conn, "other-chart", *PERIOD) == []


def test_first_page_only_is_refused_and_nothing_is_stored(clean_product_db, first_page_only):
    with pytest.raises(InvalidRanking, match="100 entries read, the API announced 200"):
        load(clean_product_db, first_page_only, PERIOD)
    with connect(clean_product_db) as conn:
        assert is_period_complete(conn, SLUG, *PERIOD) is False
        assert conn.execute("SELECT count(*) FROM rankings").fetchone()[0] == 0


def test_rerun_with_identical_data_leaves_every_table_byte_identical(clean_product_db, full_ranking):
    load(clean_product_db, full_ranking, PERIOD)
    before = table_snapshot(clean_product_db)

    again = load(clean_product_db, full_ranking, PERIOD)

    assert table_snapshot(clean_product_db) == before
    assert sum(len(rows) for rows in before.values()) > 400
    assert (again.entries, again.new_tracks, again.entries_changed, again.entries_deleted) == (200, 0, 0, 0)
    assert (again.exits_recorded, again.exits_removed, again.ranking_changed) == (0, 0, False)


def test_rerun_with_changed_data_rewrites_only_what_changed(clean_product_db):
    first = recorded_page()
    second = synthetic_second_page(first)
    load(clean_product_db, ranking_from_pages([first, second]), PERIOD)
    with connect(clean_product_db) as conn:
        stamps_before = dict(conn.execute("SELECT position, updated_at FROM ranking_entries"))
        fetched_before = conn.execute("SELECT fetched_at FROM rankings").fetchone()[0]

    # The API corrected one stream count and the chart shrank by its last entry.
    second["items"][0]["metric"] = 123
    del second["items"][-1]
    for page in (first, second):
        page["page"]["total"] = 199
    result = load(clean_product_db, ranking_from_pages([first, second]), PERIOD)

    assert (result.entries, result.entries_changed, result.entries_deleted, result.ranking_changed) == (
        199,
        1,
        1,
        True,
    )
    with connect(clean_product_db) as conn:
        stamps_after = dict(conn.execute("SELECT position, updated_at FROM ranking_entries"))
        assert conn.execute("SELECT metric FROM ranking_entries WHERE position = 101").fetchone()[0] == 123
        assert conn.execute(
            "SELECT expected_entries, entry_count, fetched_at > %s FROM rankings", (fetched_before,)
        ).fetchone() == (199, 199, True)
        assert check_ranking_quality(conn, result.ranking_id) == []
    assert set(stamps_after) == set(range(1, 200))
    changed = {position for position in stamps_after if stamps_after[position] != stamps_before[position]}
    assert changed == {101}


def test_rankings_never_clobber_track_metadata(clean_product_db, full_ranking):
    load(clean_product_db, full_ranking, PERIOD)
    golden = "8a927b4b-ac0d-4ca4-83db-43aedbe6a1d2"
    with connect(clean_product_db) as conn:
        conn.execute(
            """
            UPDATE tracks SET name = 'Golden (metadata)', isrc = 'QZES82500112', label = 'Republic Records',
                labels = '[{"name": "Republic Records", "type": "Major"}]', metadata_fetched_at = '2025-08-24 08:00+00',
                composers = ARRAY['EJAE']
            WHERE uuid = %s
            """,
            (golden,),
        )
        metadata_before = conn.execute("SELECT t::text FROM tracks t WHERE uuid = %s", (golden,)).fetchone()[
            0
        ]

    page = recorded_page()
    page["items"][0]["song"]["name"] = "Golden (renamed by the chart)"
    page["items"][1]["song"]["name"] = "back to friends (renamed)"
    reloaded = ranking_from_pages([page, synthetic_second_page(recorded_page())])
    load(clean_product_db, reloaded, PERIOD)

    with connect(clean_product_db) as conn:
        assert (
            conn.execute("SELECT t::text FROM tracks t WHERE uuid = %s", (golden,)).fetchone()[0]
            == metadata_before
        )
        # A track the metadata DAG has not fetched yet follows the chart's spelling.
        assert (
            conn.execute(
                "SELECT name FROM tracks WHERE uuid = '04843a5b-b689-4f70-a8e9-efe5e99c5971'"
            ).fetchone()[0]
            == "back to friends (renamed)"
        )


# --- atomicity -----------------------------------------------------------------------------------------------


def test_duplicate_position_is_refused_before_any_write(clean_product_db):
    first = recorded_page()
    second = synthetic_second_page(first)
    second["items"][5]["position"] = 100  # collides with the last entry of page 1

    with pytest.raises(ValueError, match="duplicate positions 100"):
        load(clean_product_db, ranking_from_pages([first, second]), PERIOD)

    assert all(rows == [] for rows in table_snapshot(clean_product_db).values())


def test_duplicate_position_on_reload_keeps_the_previous_version(clean_product_db, full_ranking):
    # On a reload one of the two items could equal the stored row, which ON CONFLICT alone would not catch.
    load(clean_product_db, full_ranking, PERIOD)
    before = table_snapshot(clean_product_db)
    first = recorded_page()
    second = synthetic_second_page(first)
    second["items"][0]["position"] = 2

    with pytest.raises(ValueError, match="duplicate positions 2"):
        load(clean_product_db, ranking_from_pages([first, second]), PERIOD)

    assert table_snapshot(clean_product_db) == before


def test_database_error_mid_load_writes_nothing(clean_product_db):
    first = recorded_page()
    second = synthetic_second_page(first)
    # Fails the tracks CHECK after the chart, platform and staging rows were written.
    second["items"][50]["song"]["uuid"] = "not-a-uuid"

    with pytest.raises(psycopg.errors.CheckViolation):
        load(clean_product_db, ranking_from_pages([first, second]), PERIOD)

    assert all(rows == [] for rows in table_snapshot(clean_product_db).values())


def test_exception_just_before_commit_rolls_everything_back(clean_product_db, full_ranking, monkeypatch):
    load(clean_product_db, small_ranking(RECORDED_DATE - timedelta(days=1), [1, 2, 3]))
    before = table_snapshot(clean_product_db)

    # Runs as the last statement of the load, where the exits would be computed: it fails (division by zero)
    # exactly when all 200 entries have been written inside the transaction, and returns normally otherwise,
    # which the test would notice as a missing exception.
    fail_after_writes = """
    SELECT 1 / (200 - (SELECT count(*) FROM ranking_entries WHERE ranking_id = ANY (%(ranking_ids)s::bigint[])))
    """
    monkeypatch.setattr(load_module, "RECOMPUTE_EXITS_SQL", fail_after_writes)
    with pytest.raises(psycopg.errors.DivisionByZero):
        load(clean_product_db, full_ranking, PERIOD)

    assert table_snapshot(clean_product_db) == before


def test_load_inside_a_caller_transaction_is_a_savepoint(clean_product_db):
    with connect(clean_product_db) as conn:
        conn.execute("SELECT 1")  # the caller holds an open transaction
        load_ranking(
            conn,
            small_ranking(RECORDED_DATE, [1, 2]),
            chart_slug=SLUG,
            period_start=PERIOD[0],
            period_end=PERIOD[1],
        )
        next_day = small_ranking(RECORDED_DATE + timedelta(days=1), [2, 3])
        load_ranking(
            conn, next_day, chart_slug=SLUG, period_start=PERIOD[1], period_end=PERIOD[1] + timedelta(days=1)
        )
        assert conn.execute("SELECT count(*) FROM ranking_entries").fetchone()[0] == 4
        conn.rollback()
    assert count(clean_product_db, "rankings") == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"chart_slug": "other-chart"}, "cannot be loaded as chart 'other-chart'"),
        ({"period_start": datetime(2025, 8, 23)}, "period_start must be timezone-aware"),
        ({"period_end": PERIOD[0]}, "empty period"),
    ],
)
def test_invalid_arguments_are_refused_before_any_write(clean_product_db, full_ranking, kwargs, message):
    arguments = {"chart_slug": SLUG, "period_start": PERIOD[0], "period_end": PERIOD[1], **kwargs}
    with connect(clean_product_db) as conn, pytest.raises(ValueError, match=message):
        load_ranking(conn, full_ranking, **arguments)
    assert count(clean_product_db, "charts") == 0


# --- exits ---------------------------------------------------------------------------------------------------

DAY = datetime(2026, 11, 1, 12, tzinfo=UTC)
SEQUENCE = [  # song numbers per day; songs leave and come back
    [1, 2, 3, 4, 5],
    [2, 1, 3, 6, 7],  # 4 and 5 exit
    [1, 6, 8, 9, 4],  # 2, 3 and 7 exit; 4 re-enters
    [8, 1, 9, 10, 11],  # 6 and 4 exit
]


def expected_exits() -> set[tuple]:
    """(song uuid, last day, exit day, last position) for every exit of SEQUENCE."""
    exits = set()
    for index in range(len(SEQUENCE) - 1):
        now, following = SEQUENCE[index], SEQUENCE[index + 1]
        for position, song in enumerate(now, start=1):
            if song not in following:
                exits.add(
                    (song_uuid(song), DAY + timedelta(days=index), DAY + timedelta(days=index + 1), position)
                )
    return exits


def stored_exits(dsn) -> set[tuple]:
    with connect(dsn) as conn:
        return set(
            conn.execute(
                """
                SELECT t.uuid, last.ranking_date, x.exit_date, x.last_position
                FROM chart_exits x
                JOIN tracks t ON t.id = x.track_id
                JOIN rankings last ON last.id = x.last_ranking_id
                JOIN rankings exit ON exit.id = x.exit_ranking_id AND exit.ranking_date = x.exit_date
                JOIN charts c ON c.id = x.chart_id AND c.id = exit.chart_id
                """
            ).fetchall()
        )


@pytest.mark.parametrize("order", [(0, 1, 2, 3), (2, 0, 3, 1), (3, 2, 1, 0), (1, 3, 0, 2)])
def test_exits_do_not_depend_on_load_order(clean_product_db, order):
    for index in order:
        load(clean_product_db, small_ranking(DAY + timedelta(days=index), SEQUENCE[index]))

    assert stored_exits(clean_product_db) == expected_exits()
    assert len(expected_exits()) == 7


def test_reloading_a_middle_ranking_moves_its_exits(clean_product_db):
    for index in (0, 1, 2, 3):
        load(clean_product_db, small_ranking(DAY + timedelta(days=index), SEQUENCE[index]))

    # Day 1 is corrected: song 5 stayed in (so it does not exit at day 1) and leaves at day 2 instead,
    # while song 7 never was on day 1 (so it no longer exits at day 2).
    SEQUENCE_FIXED = [SEQUENCE[0], [2, 1, 3, 6, 5], SEQUENCE[2], SEQUENCE[3]]
    result = load(clean_product_db, small_ranking(DAY + timedelta(days=1), SEQUENCE_FIXED[1]))

    exits = stored_exits(clean_product_db)
    assert (song_uuid(5), DAY + timedelta(days=1), DAY + timedelta(days=2), 5) in exits
    assert not any(
        uuid == song_uuid(5) and exit_day == DAY + timedelta(days=1) for uuid, _, exit_day, _ in exits
    )
    assert not any(uuid == song_uuid(7) for uuid, *_ in exits)
    assert result.exits_removed == 2  # 5 at day 1, 7 at day 2
    assert result.exits_recorded == 1  # 5 at day 2


def test_concurrent_loads_of_neighbouring_rankings_agree_on_exits(clean_product_db):
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(SEQUENCE))

    def worker(index: int) -> None:
        try:
            ranking = small_ranking(DAY + timedelta(days=index), SEQUENCE[index])
            barrier.wait(timeout=30)
            load(clean_product_db, ranking)
        except BaseException as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(len(SEQUENCE))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert stored_exits(clean_product_db) == expected_exits()


def stored_by_natural_key(dsn) -> dict[str, list[tuple]]:
    """Everything a load writes, keyed by natural keys instead of ids (which depend on the load order)."""
    with connect(dsn) as conn:
        return {
            "entries": conn.execute(
                """
                SELECT r.ranking_date, e.position, t.uuid, t.name, e.previous_position, e.metric, e.raw
                FROM ranking_entries e JOIN rankings r ON r.id = e.ranking_id JOIN tracks t ON t.id = e.track_id
                ORDER BY 1, 2
                """
            ).fetchall(),
            "rankings": conn.execute(
                "SELECT ranking_date, period_start, period_end, expected_entries, entry_count, raw_pages"
                " FROM rankings ORDER BY 1"
            ).fetchall(),
            "tracks": conn.execute("SELECT uuid, name, credit_name FROM tracks ORDER BY 1").fetchall(),
            "exits": sorted(stored_exits(dsn)),
        }


def test_a_batch_of_rankings_stores_what_loading_them_one_by_one_stores(clean_product_db):
    rankings = [small_ranking(DAY + timedelta(days=index), songs) for index, songs in enumerate(SEQUENCE)]
    for ranking in rankings:
        load(clean_product_db, ranking)
    one_by_one = stored_by_natural_key(clean_product_db)
    with connect(clean_product_db) as conn:
        conn.execute("TRUNCATE chart_exits, ranking_entries, rankings, tracks, charts, platforms CASCADE")

    loads = [RankingLoad(ranking, *day_period(ranking.date)) for ranking in reversed(rankings)]
    with connect(clean_product_db) as conn:
        results = load_rankings(conn, SLUG, loads)

    assert stored_by_natural_key(clean_product_db) == one_by_one
    assert set(one_by_one["exits"]) == expected_exits()
    assert [result.ranking_date for result in results] == [ranking.date for ranking in reversed(rankings)]
    # Each exit and each new track is counted once, by the ranking it belongs to.
    assert sum(result.exits_recorded for result in results) == len(expected_exits())
    assert sum(result.new_tracks for result in results) == len({song for songs in SEQUENCE for song in songs})


@pytest.mark.parametrize(
    ("stored_first", "batch"),
    [
        ([1], [0, 2, 3]),  # a stored ranking lies between two of the batch
        ([0, 2], [1, 3]),  # every batch ranking has a stored neighbour
        ([3], [2, 0, 1]),  # the batch precedes a stored ranking
    ],
)
def test_batches_around_stored_rankings_give_the_same_exits(clean_product_db, stored_first, batch):
    rankings = [small_ranking(DAY + timedelta(days=index), songs) for index, songs in enumerate(SEQUENCE)]
    for index in stored_first:
        load(clean_product_db, rankings[index])
    with connect(clean_product_db) as conn:
        results = load_rankings(
            conn, SLUG, [RankingLoad(rankings[index], *day_period(rankings[index].date)) for index in batch]
        )

    assert stored_exits(clean_product_db) == expected_exits()
    assert all(result.entries == len(SEQUENCE[index]) for result, index in zip(results, batch, strict=True))


def test_a_batch_mixing_new_and_stored_rankings_converges(clean_product_db):
    load(clean_product_db, small_ranking(DAY + timedelta(days=1), [2, 1, 3, 6, 5]))  # to be corrected
    rankings = [small_ranking(DAY + timedelta(days=index), songs) for index, songs in enumerate(SEQUENCE)]
    with connect(clean_product_db) as conn:
        results = load_rankings(conn, SLUG, [RankingLoad(r, *day_period(r.date)) for r in rankings])

    assert stored_exits(clean_product_db) == expected_exits()
    assert [(r.entries_changed, r.entries_deleted, r.ranking_changed) for r in results] == [
        (5, 0, True),
        (1, 0, True),  # only position 5 changed (song 5 -> 7)
        (5, 0, True),
        (5, 0, True),
    ]


def test_a_batch_with_the_same_ranking_twice_is_refused(clean_product_db):
    ranking = small_ranking(DAY, [1, 2])
    with connect(clean_product_db) as conn, pytest.raises(ValueError, match="given 2 times"):
        load_rankings(conn, SLUG, [RankingLoad(ranking, *day_period(DAY))] * 2)
    assert count(clean_product_db, "charts") == 0


def test_pendulum_periods_from_airflow_are_accepted(clean_product_db):
    import pendulum

    start = pendulum.datetime(2026, 11, 1, tz="UTC")
    result = load(clean_product_db, small_ranking(DAY, [1, 2]), (start, start.add(days=1)))
    with connect(clean_product_db) as conn:
        assert conn.execute(
            "SELECT period_start FROM rankings WHERE id = %s", (result.ranking_id,)
        ).fetchone() == (datetime(2026, 11, 1, tzinfo=UTC),)


# --- references without row-level foreign keys (migration 0002) ----------------------------------------------


def test_deleting_a_ranking_deletes_its_entries_and_exits(clean_product_db):
    first = load(clean_product_db, small_ranking(DAY, [1, 2, 3]))
    second = load(clean_product_db, small_ranking(DAY + timedelta(days=1), [1, 2]))
    third = load(clean_product_db, small_ranking(DAY + timedelta(days=2), [1]))
    assert count(clean_product_db, "chart_exits") == 2  # 3 at day 2, 2 at day 3
    with connect(clean_product_db) as conn:
        conn.execute("DELETE FROM rankings WHERE id = %s", (first.ranking_id,))
        entries = conn.execute("SELECT DISTINCT ranking_id FROM ranking_entries ORDER BY 1").fetchall()
        exits = conn.execute("SELECT last_ranking_id, exit_ranking_id FROM chart_exits").fetchall()
    assert entries == [(second.ranking_id,), (third.ranking_id,)]
    assert exits == [(second.ranking_id, third.ranking_id)]


def test_deleting_a_track_that_entries_reference_is_refused(clean_product_db):
    load(clean_product_db, small_ranking(DAY, [1, 2]))
    with connect(clean_product_db) as conn:
        conn.execute("INSERT INTO tracks (uuid, name) VALUES (%s, 'never ranked')", (song_uuid(99),))
        conn.execute("DELETE FROM tracks WHERE uuid = %s", (song_uuid(99),))  # unreferenced: fine
        conn.commit()
        with pytest.raises(psycopg.errors.ForeignKeyViolation, match="still referenced by ranking_entries"):
            conn.execute("DELETE FROM tracks WHERE uuid = %s", (song_uuid(1),))
    assert count(clean_product_db, "tracks") == 2


def test_deleting_a_track_that_exits_reference_is_refused(clean_product_db):
    load(clean_product_db, small_ranking(DAY, [1, 2]))
    load(clean_product_db, small_ranking(DAY + timedelta(days=1), [1]))
    with connect(clean_product_db) as conn:
        conn.execute(
            "DELETE FROM ranking_entries WHERE track_id = (SELECT id FROM tracks WHERE uuid = %s)",
            (song_uuid(2),),
        )
        conn.commit()
        with pytest.raises(psycopg.errors.ForeignKeyViolation, match="still referenced by chart_exits"):
            conn.execute("DELETE FROM tracks WHERE uuid = %s", (song_uuid(2),))


def test_a_load_in_progress_holds_its_tracks_against_deletion(clean_product_db):
    load(clean_product_db, small_ranking(DAY, [1, 2]))
    with connect(clean_product_db) as loader, connect(clean_product_db) as deleter:
        loader.execute("SELECT 1")  # a caller-held transaction: the load below stays uncommitted
        load_ranking(
            loader,
            small_ranking(DAY + timedelta(days=1), [1, 3]),
            chart_slug=SLUG,
            period_start=DAY + timedelta(days=1),
            period_end=DAY + timedelta(days=2),
        )
        # Song 1 is now referenced only by entries the loader has not committed: were its row not held, the
        # delete would find no reference and succeed, leaving the loader's entries dangling.
        deleter.execute("DELETE FROM ranking_entries WHERE position = 1")
        deleter.commit()
        deleter.execute("SET lock_timeout = '300ms'")
        with pytest.raises(psycopg.errors.LockNotAvailable):
            deleter.execute("DELETE FROM tracks WHERE uuid = %s", (song_uuid(1),))
        deleter.rollback()
        loader.commit()
    with connect(clean_product_db) as conn:
        ranking_id = conn.execute("SELECT max(id) FROM rankings").fetchone()[0]
        assert check_ranking_quality(conn, ranking_id) == []


def test_quality_detects_an_entry_whose_track_is_missing(clean_product_db):
    result = load(clean_product_db, small_ranking(DAY, [1, 2]))
    with connect(clean_product_db) as conn:
        conn.execute("UPDATE ranking_entries SET track_id = 424242 WHERE position = 2")
        assert check_ranking_quality(conn, result.ranking_id) == [
            f"{SLUG} 2026-11-01T12:00:00+00:00: 1 entries reference a track that does not exist"
        ]


# --- quality checks ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ranking", "problem"),
    [
        (lambda: small_ranking(DAY, [1, 2, 3, 4], positions=[1, 2, 4, 5], total=4), "missing 3"),
        (lambda: small_ranking(DAY, [1, 2, 1]), f"songs listed more than once: {song_uuid(1)}"),
        (lambda: small_ranking(DAY, [1, 2, 3], max_results=2), "3 entries exceed the chart's size of 2"),
        (lambda: small_ranking(DAY, [], total=0), "the ranking has no entries"),
    ],
    ids=["gap", "song-twice", "above-chart-size", "empty"],
)
def test_the_loader_refuses_an_invalid_ranking_before_writing(clean_product_db, ranking, problem):
    with pytest.raises(InvalidRanking) as refused:
        load(clean_product_db, ranking())
    assert problem in str(refused.value)
    with connect(clean_product_db) as conn:
        assert conn.execute("SELECT count(*) FROM rankings").fetchone()[0] == 0


def test_quality_detects_a_gap_in_positions(clean_product_db):
    # The loader refuses a gap; the guard still finds one in stored rows (a manual edit, a bug elsewhere).
    result = load(clean_product_db, small_ranking(DAY, [1, 2, 3, 4]))
    with connect(clean_product_db) as conn:
        conn.execute("UPDATE ranking_entries SET position = 5 WHERE position = 3")
        problems = check_ranking_quality(conn, result.ranking_id)
    assert problems == [f"{SLUG} 2026-11-01T12:00:00+00:00: positions are not contiguous from 1, missing 3"]


def test_quality_detects_entries_lost_after_loading(clean_product_db):
    result = load(clean_product_db, small_ranking(DAY, [1, 2, 3, 4, 5]))
    with connect(clean_product_db) as conn:
        conn.execute("DELETE FROM ranking_entries WHERE position = 2")
        problems = check_ranking_quality(conn, result.ranking_id)
        assert is_period_complete(conn, SLUG, *day_period(DAY)) is False
        assert complete_ranking_dates(conn, SLUG, *day_period(DAY)) == []
    assert problems == [
        f"{SLUG} 2026-11-01T12:00:00+00:00: positions are not contiguous from 1, missing 2",
        f"{SLUG} 2026-11-01T12:00:00+00:00: 4 entries stored but the ranking records entry_count=5",
        f"{SLUG} 2026-11-01T12:00:00+00:00: 4 entries stored, the API announced 5",
    ]


def test_quality_detects_a_song_at_two_positions(clean_product_db):
    result = load(clean_product_db, small_ranking(DAY, [1, 2, 3]))
    with connect(clean_product_db) as conn:
        conn.execute(
            "UPDATE ranking_entries SET track_id = (SELECT track_id FROM ranking_entries WHERE position = 1)"
            " WHERE position = 3"
        )
        assert check_ranking_quality(conn, result.ranking_id) == [
            f"{SLUG} 2026-11-01T12:00:00+00:00: song {song_uuid(1)} appears at several positions (1, 3)"
        ]


def test_quality_detects_more_entries_than_the_chart_holds(clean_product_db):
    result = load(clean_product_db, small_ranking(DAY, [1, 2, 3]))
    with connect(clean_product_db) as conn:
        conn.execute("UPDATE charts SET max_entries = 2")
        assert check_ranking_quality(conn, result.ranking_id) == [
            f"{SLUG} 2026-11-01T12:00:00+00:00: 3 entries exceed the chart's maximum of 2"
        ]


def test_quality_of_an_unknown_ranking(clean_product_db):
    with connect(clean_product_db) as conn:
        assert check_ranking_quality(conn, 424242) == ["ranking 424242 does not exist"]


def test_raw_responses_can_be_rebuilt_exactly(clean_product_db, full_ranking):
    """Envelopes in rankings.raw_pages + items in ranking_entries.raw == the responses as received."""
    load(clean_product_db, full_ranking, PERIOD)
    with connect(clean_product_db) as conn:
        envelopes = conn.execute("SELECT raw_pages FROM rankings").fetchone()[0]
        items = dict(conn.execute("SELECT position, raw FROM ranking_entries"))

    rebuilt = []
    for envelope in envelopes:
        page = {key: value for key, value in envelope.items() if key != "item_count"}
        offset = envelope["page"]["offset"]
        page["items"] = [
            items[position] for position in range(offset + 1, offset + 1 + envelope["item_count"])
        ]
        rebuilt.append(page)
    assert [len(page["items"]) for page in rebuilt] == [100, 100]
    assert json.dumps(rebuilt, sort_keys=True) == json.dumps(full_ranking.raw_pages, sort_keys=True)


# --- plans -----------------------------------------------------------------------------------------------------


def test_loading_one_ranking_never_scans_whole_tables(clean_product_db):
    """A DAG run loads one ranking into tables that hold years of them: every statement must reach that
    ranking's rows through an index. Checked with the scan counters of the load's own transaction, on a
    table big enough (60,000 entries) for a misestimated plan to prefer a full scan."""
    history = [
        small_ranking(DAY + timedelta(days=index), list(range(index * 20, index * 20 + 200)))
        for index in range(300)
    ]
    with connect(clean_product_db) as conn:
        load_rankings(conn, SLUG, [RankingLoad(ranking, *day_period(ranking.date)) for ranking in history])
        conn.execute("ANALYZE")

    new_day = small_ranking(DAY + timedelta(days=300), list(range(6000, 6200)))
    corrected = small_ranking(DAY + timedelta(days=150), list(range(3001, 3201)))
    with connect(clean_product_db) as conn:
        conn.execute("SELECT 1")  # one caller-held transaction: the counters below are the loads' own
        for ranking in (new_day, corrected, history[10]):
            load_ranking(
                conn,
                ranking,
                chart_slug=SLUG,
                period_start=day_period(ranking.date)[0],
                period_end=day_period(ranking.date)[1],
            )
        full_scans = conn.execute(
            "SELECT relname, seq_scan FROM pg_stat_xact_user_tables"
            " WHERE relname IN ('ranking_entries', 'rankings', 'tracks', 'chart_exits') AND seq_scan > 0"
        ).fetchall()
        conn.rollback()
    assert full_scans == []
