"""The analytics DAGs end to end with ``dag.test()`` on the real product database; files in a temp folder."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import psycopg
import pyarrow.parquet as pq
import pytest

from tests.db_snapshot import table_snapshot
from tests.paths import DAGS_DIR

pytestmark = pytest.mark.integration

FIRST_DAY = date(2026, 3, 1)
# Rankings of "global-28" on days 0, 1, 3 (day 2 missing): songs 1..3 with a move and an exit.
RANKINGS = {0: [1, 2, 3], 1: [2, 1, 4], 3: [2, 4]}


@pytest.fixture(scope="module")
def analytics_dags():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_DIR / "analytics"))
    assert bag.import_errors == {}
    return bag


@pytest.fixture
def analytics_env(airflow_connections, tmp_path, monkeypatch):
    charts = tmp_path / "charts.yaml"
    charts.write_text(
        "charts:\n  - {slug: global-28, platform: spotify, country: GLOBAL, frequency: daily,"
        f" history_start: {FIRST_DAY.isoformat()}, enabled: true}}\n"
    )
    monkeypatch.setenv("MUSICCHARTS_CHARTS_FILE", str(charts))
    monkeypatch.setenv("MUSICCHARTS_ANALYTICS_EXPORT_URL", f"file://{tmp_path / 'exports'}")
    from musiccharts.config import _load_chart_configs

    _load_chart_configs.cache_clear()
    yield airflow_connections, tmp_path / "exports"
    _load_chart_configs.cache_clear()


def song(number: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"dag-song-{number}"))


def seed_rankings(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute("INSERT INTO platforms (slug, name) VALUES ('spotify', 'Spotify')")
        chart_id = conn.execute(
            "INSERT INTO charts (slug, platform_id, name, frequency) SELECT 'global-28', id, 'Global', 'daily'"
            " FROM platforms RETURNING id"
        ).fetchone()[0]
        for number in range(1, 5):
            conn.execute("INSERT INTO tracks (uuid, name) VALUES (%s, %s)", (song(number), f"Song {number}"))
        for offset, songs in RANKINGS.items():
            day = FIRST_DAY + timedelta(days=offset)
            ranking_id = conn.execute(
                "INSERT INTO rankings (chart_id, ranking_date, period_start, period_end, expected_entries,"
                " entry_count) VALUES (%s, %s::date + time '12:00' AT TIME ZONE 'UTC', %s::date AT TIME ZONE 'UTC',"
                " (%s::date + 1) AT TIME ZONE 'UTC', %s, %s) RETURNING id",
                (chart_id, day, day, day, len(songs), len(songs)),
            ).fetchone()[0]
            for position, number in enumerate(songs, start=1):
                conn.execute(
                    "INSERT INTO ranking_entries (ranking_id, position, track_id, metric)"
                    " SELECT %s, %s, id, 1000 FROM tracks WHERE uuid = %s",
                    (ranking_id, position, song(number)),
                )


def trend_tables(dsn: str) -> dict:
    snapshot = table_snapshot(dsn)
    return {name: rows for name, rows in snapshot.items() if name.startswith("chart_trend")}


def test_trends_dag_computes_exports_and_draws_and_a_rerun_changes_nothing(analytics_dags, analytics_env):
    dsn, exports = analytics_env
    seed_rankings(dsn)
    dag = analytics_dags.get_dag("analytics_chart_trends")

    assert dag.test().state == "success"
    first = trend_tables(dsn)
    assert len(first["chart_trend_entries"]) == 8 and len(first["chart_trend_rankings"]) == 3
    table = pq.read_table(exports / "chart_trends" / "date=2026-03-04" / "chart_trends.parquet")
    assert table.column("track_name").to_pylist() == ["Song 2", "Song 4"]
    assert (exports / "plots" / "bump" / "global-28.png").read_bytes()[:4] == b"\x89PNG"

    assert dag.test().state == "success"
    assert trend_tables(dsn) == first


def test_health_dag_scores_the_chart_with_a_gap(analytics_dags, analytics_env):
    dsn, exports = analytics_env
    seed_rankings(dsn)
    dag = analytics_dags.get_dag("analytics_chart_health")

    run = dag.test(run_conf={"as_of": "2026-03-05T00:00:00+00:00"})

    assert run.state == "success"
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT day, expected_periods, stored_periods, score FROM chart_health").fetchone()
    # 4 expected periods (03-01..03-04), 3 stored: completeness 0.75 -> 15, fresh -> 25, entries 25, consistency:
    # counts 3, 3, 2 -> mean change (0 + 1/3) / 2 = 0.167 -> 5. Total 70.
    assert row == (date(2026, 3, 5), 4, 3, 70)
    assert (exports / "chart_health" / "date=2026-03-05" / "chart_health.csv").exists()


def test_fraud_dag_flags_a_burst_exports_and_plots(analytics_dags, analytics_env):
    dsn, exports = analytics_env
    rng = np.random.default_rng(3)
    increments = 20_000 * rng.lognormal(0, 0.1, 120)
    increments[90:92] += 150_000
    with psycopg.connect(dsn) as conn:
        artist_id = conn.execute(
            "INSERT INTO artists (uuid, name) VALUES (%s, 'A') RETURNING id", (song(99),)
        ).fetchone()[0]
        for offset, value in enumerate(np.cumsum(increments)):
            conn.execute(
                "INSERT INTO artist_audience (artist_id, platform, date, follower_count) VALUES (%s, 'spotify', %s, %s)",
                (artist_id, FIRST_DAY + timedelta(days=offset), int(value)),
            )
    dag = analytics_dags.get_dag("analytics_fraud_detection")

    run = dag.test()

    assert run.state == "success"
    with psycopg.connect(dsn) as conn:
        flags = conn.execute("SELECT entity_type, entity_id, detector FROM fraud_flag_view").fetchall()
    assert flags == [("artist", artist_id, "burst")]
    parquet = next(exports.glob("fraud_flags/date=*/fraud_flags.parquet"))
    assert pq.read_table(parquet).num_rows == 1
    assert (exports / "plots" / "fraud" / f"artist-{artist_id}-spotify.png").exists()


def test_performance_dag_by_hand_for_a_period(analytics_dags, analytics_env):
    dsn, exports = analytics_env
    seed_rankings(dsn)
    with psycopg.connect(dsn) as conn:
        for offset, value in ((0, 100), (3, 160)):
            conn.execute(
                "INSERT INTO track_audience (track_id, platform, date, value)"
                " SELECT id, 'spotify', %s, %s FROM tracks WHERE uuid = %s",
                (FIRST_DAY + timedelta(days=offset), value, song(2)),
            )
    dag = analytics_dags.get_dag("analytics_performance_weekly")

    run = dag.test(
        run_conf={"period_start": "2026-03-01", "period_end": "2026-03-07", "track_uuids": [song(2)]}
    )

    assert run.state == "success"
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT entity_type, platform, difference, growth_pct, best_chart_position, chart_days"
            " FROM performance_reports"
        ).fetchall()
    assert rows == [("track", "spotify", 60, 60, 1, 3)]
    assert (
        exports / "period=2026-03-01" / "performance" / "date=2026-03-07" / "performance.parquet"
    ).exists()


def test_performance_dag_fetches_missing_streaming_audience_first(analytics_dags, analytics_env, sim):
    dsn, _ = analytics_env
    artist_uuid = sim.catalogue.artist_uuid(7)
    with psycopg.connect(dsn) as conn:
        conn.execute("INSERT INTO artists (uuid, name) VALUES (%s, 'Simulated')", (artist_uuid,))
    dag = analytics_dags.get_dag("analytics_performance_monthly")
    conf = {"period_start": "2026-10-01", "period_end": "2026-10-31", "artist_uuids": [artist_uuid]}

    run = dag.test(run_conf=conf)

    assert run.state == "success"
    with psycopg.connect(dsn) as conn:
        stored = conn.execute(
            "SELECT count(*), min(date), max(date) FROM artist_audience WHERE platform = 'spotify:streaming'"
        ).fetchone()
        report = conn.execute(
            "SELECT points FROM performance_reports WHERE entity_type = 'artist' AND platform = 'spotify:streaming'"
        ).fetchone()
    assert stored == (31, date(2026, 10, 1), date(2026, 10, 31))
    assert report == (31,)
    calls_before = sim.state.call_count("artist_streaming")
    assert dag.test(run_conf=conf).state == "success"
    assert sim.state.call_count("artist_streaming") == calls_before  # nothing missing any more: no call


def test_performance_dag_fetches_missing_airplay_every_page_and_reports_it(
    analytics_dags, analytics_env, sim
):
    # Simulator spins (see test_airplay.py): artist 7 on 245 stations, a day's total 366 + (ordinal + 3) % 4;
    # 2026-10-05 has ordinal % 4 == 2, so the week reads 367, 368, 369, 366, 367, 368, 369 (sum 2574).
    dsn, _ = analytics_env
    artist_uuid = sim.catalogue.artist_uuid(7)
    with psycopg.connect(dsn) as conn:
        artist_id = conn.execute(
            "INSERT INTO artists (uuid, name) VALUES (%s, 'Simulated') RETURNING id", (artist_uuid,)
        ).fetchone()[0]
        # One day already stored: it is not fetched again.
        conn.execute(
            "INSERT INTO artist_airplay (artist_id, date, play_count) VALUES (%s, '2026-10-08', 366)",
            (artist_id,),
        )
    dag = analytics_dags.get_dag("analytics_performance_weekly")
    # Every Param named: the module's DAG objects are shared, and the by-hand test's track_uuids would linger.
    conf = {
        "period_start": "2026-10-05",
        "period_end": "2026-10-11",
        "artist_uuids": [artist_uuid],
        "track_uuids": [],
        "platforms": [],
    }

    run = dag.test(run_conf=conf)

    assert run.state == "success"
    with psycopg.connect(dsn) as conn:
        stored = conn.execute("SELECT date, play_count FROM artist_airplay ORDER BY date").fetchall()
        report = conn.execute(
            "SELECT start_value, end_value, difference, growth_pct, average, peak, points FROM performance_reports"
            " WHERE entity_type = 'artist' AND platform = 'airplay'"
        ).fetchone()
    assert [count for _, count in stored] == [367, 368, 369, 366, 367, 368, 369]
    # 6 missing days x 2 pages each (183 or 184 stations that played, at most 100 a page)
    assert sim.state.call_count("artist_broadcast_groups") == 12
    # growth 2 / 367 = 0.5450 %, average 2574 / 7 = 367.7143
    assert report == (367, 369, 2, Decimal("0.5450"), Decimal("367.7143"), 369, 7)
    calls_before = sim.state.call_count("artist_broadcast_groups")
    assert dag.test(run_conf=conf).state == "success"
    assert sim.state.call_count("artist_broadcast_groups") == calls_before  # nothing missing any more
