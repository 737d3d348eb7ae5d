"""The catalog DAGs end to end with ``dag.test()``: simulator on loopback + the real product database.

Runs are few and small (each ``dag.test`` costs seconds): 25 tracks make 3 mapped batches of 10.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs

import psycopg
import pytest

from tests.dag_runs import mapped_instances, task_state
from tests.db_snapshot import table_snapshot
from tests.paths import DAGS_DIR

pytestmark = pytest.mark.integration

SONG_BATCH = "song_batch"
TRACK_COUNT = 25


@pytest.fixture(scope="module")
def catalog_dags():
    # Retry delays are read when the DAG files are parsed: shorten them so a retried batch runs in seconds.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MUSICCHARTS_RETRY_DELAY_SECONDS", "1")
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(dag_folder=str(DAGS_DIR / "catalog"))
    assert bag.import_errors == {}
    return bag


@pytest.fixture
def catalog_config(tmp_path, monkeypatch):
    """Write a catalog.yaml for this test (tasks read it at run time) and point the DAGs at it."""

    def write(text: str) -> None:
        path = tmp_path / f"catalog-{len(list(tmp_path.iterdir()))}.yaml"
        path.write_text(text)
        monkeypatch.setenv("MUSICCHARTS_CATALOG_FILE", str(path))

    write("")
    return write


def seed_tracks(dsn: str, sim, count: int = TRACK_COUNT) -> list[str]:
    """Tracks as the chart loader leaves them: uuid and name, no metadata yet."""
    uuids = [sim.catalogue.song_uuid(song_id) for song_id in range(1000, 1000 + count)]
    with psycopg.connect(dsn) as conn:
        for song_uuid in uuids:
            conn.execute("INSERT INTO tracks (uuid, name) VALUES (%s, %s)", (song_uuid, "from a ranking"))
    return uuids


def stored_tracks(dsn: str) -> dict[str, tuple]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            """
            SELECT t.uuid::text, t.name, t.isrc, t.label, t.release_date, t.duration_seconds, t.explicit,
                   t.composers, t.producers,
                   array(SELECT a.uuid::text FROM track_artists ta JOIN artists a ON a.id = ta.artist_id
                         WHERE ta.track_id = t.id ORDER BY ta.position)
            FROM tracks t
            """
        ).fetchall()
    return {row[0]: tuple(row[1:]) for row in rows}


def served_track(sim, song_uuid: str) -> tuple:
    song = sim.catalogue.song(song_uuid)
    return (
        song["name"],
        song["isrc"]["value"],
        song["labels"][0]["name"],
        date.fromisoformat(song["releaseDate"][:10]),
        song["duration"],
        song["explicit"],
        song["composers"],
        song["producers"],
        [artist["uuid"] for artist in song["artists"]],
    )


def test_mapped_run_stores_what_is_served_and_rerun_is_free(
    catalog_dags, catalog_config, airflow_connections, sim
):
    dag = catalog_dags.get_dag("fetch_track_metadata")
    uuids = seed_tracks(airflow_connections, sim)

    run = dag.test()
    assert run.state == "success"
    assert mapped_instances(run, "fetch_batch") == [
        ("tracks 1-10 of 25", "success", 1),
        ("tracks 11-20 of 25", "success", 1),
        ("tracks 21-25 of 25", "success", 1),
    ]
    assert sim.state.call_count(SONG_BATCH) == 3  # ceil(25 / 10): the minimum
    stored = stored_tracks(airflow_connections)
    assert {song_uuid: stored[song_uuid] for song_uuid in uuids} == {u: served_track(sim, u) for u in uuids}

    before, calls_before = table_snapshot(airflow_connections), sim.state.call_count()
    rerun = dag.test()
    assert rerun.state == "success"
    assert sim.state.call_count() == calls_before  # within the staleness window: no call at all
    assert table_snapshot(airflow_connections) == before
    assert [state for _, state, _ in mapped_instances(rerun, "fetch_batch")] == ["skipped"]


def _second_batch(uuids: list[str]):
    targets = set(uuids[10:20])
    return lambda request: bool(targets & set(request.params.get("uuids", "").split(",")))


def test_faulty_batch_fails_alone_and_is_retried(catalog_dags, catalog_config, airflow_connections, sim):
    dag = catalog_dags.get_dag("fetch_track_metadata")
    uuids = seed_tracks(airflow_connections, sim)
    # 3 x 500 = every attempt of the hook's first try: the task fails once, Airflow retries it, it succeeds.
    sim.state.fail(SONG_BATCH, 500, times=3, when=_second_batch(uuids))

    run = dag.test()
    assert run.state == "success"
    instances = mapped_instances(run, "fetch_batch")
    assert [(label, state) for label, state, _ in instances] == [
        ("tracks 1-10 of 25", "success"),
        ("tracks 11-20 of 25", "success"),
        ("tracks 21-25 of 25", "success"),
    ]
    assert [tries for _, _, tries in instances] == [1, 2, 1]  # only the faulty batch ran twice
    assert sim.state.call_count(SONG_BATCH, status=500) == 3
    assert sim.state.call_count(SONG_BATCH, status=200) == 3
    stored = stored_tracks(airflow_connections)
    assert all(stored[u] == served_track(sim, u) for u in uuids)


def test_threshold_decides_the_run_state(catalog_dags, catalog_config, airflow_connections, sim):
    dag = catalog_dags.get_dag("fetch_track_metadata")
    uuids = seed_tracks(airflow_connections, sim)
    sim.state.fail(SONG_BATCH, 500, times=None, when=_second_batch(uuids))  # batch 2 never succeeds
    # 1 failed batch of 3 = 33%: allowed with a 50% threshold...
    catalog_config("track_metadata: {failure_threshold: 0.5}\n")
    run = dag.test()
    assert run.state == "success"
    assert [state for _, state, _ in mapped_instances(run, "fetch_batch")] == ["success", "failed", "success"]
    assert task_state(run, "summarise") == "success"
    stored = stored_tracks(airflow_connections)
    assert sum(1 for u in uuids if stored[u][1] is not None) == 15  # batches 1 and 3 fully written
    assert all(stored[u][1] is None for u in uuids[10:20])  # batch 2: nothing written

    # ...and the run fails with a 10% threshold: only the 10 tracks still stale are selected again.
    catalog_config("track_metadata: {failure_threshold: 0.1}\n")
    failed_run = dag.test()
    assert failed_run.state == "failed"
    assert mapped_instances(failed_run, "fetch_batch")[0][0] == "tracks 1-10 of 10"
    assert task_state(failed_run, "summarise") == "failed"


@pytest.mark.parametrize(("dag_id", "plan_task"), [("fetch_track_metadata", "select_stale_tracks")])
def test_a_failed_plan_fails_the_run(
    catalog_dags, catalog_config, airflow_connections, sim, monkeypatch, dag_id, plan_task
):
    import json

    dag = catalog_dags.get_dag(dag_id)
    seed_tracks(airflow_connections, sim)
    # The planning task cannot reach the product database; nothing else of the run touches it.
    connection = json.loads(os.environ["AIRFLOW_CONN_MUSICCHARTS_DB"])
    monkeypatch.setenv(
        "AIRFLOW_CONN_MUSICCHARTS_DB", json.dumps({**connection, "schema": "no_such_database"})
    )

    run = dag.test()

    assert task_state(run, plan_task) == "failed"
    assert task_state(run, "summarise") == "failed", "a missing plan is not zero batches"
    assert run.state == "failed"
    assert sim.state.call_count() == 0


def test_audience_increments_fetch_only_new_dates(catalog_dags, catalog_config, airflow_connections, sim):
    dag = catalog_dags.get_dag("fetch_audience")
    track_uuids = seed_tracks(airflow_connections, sim, count=3)
    artist_uuid = sim.catalogue.artist_uuid(7)
    with psycopg.connect(airflow_connections) as conn:
        conn.execute("INSERT INTO artists (uuid, name) VALUES (%s, 'seeded')", (artist_uuid,))
    catalog_config(
        "audience: {track_platforms: [spotify, airplay], artist_platforms: [spotify], first_fetch_days: 120}\n"
    )
    first_until = datetime.now(UTC).date() - timedelta(days=8)
    second_until = first_until + timedelta(days=5)

    first = dag.test(run_conf={"until": first_until.isoformat()})
    assert first.state == "success"
    # 120 days = 2 windows (90 + 30) per series: 3 tracks x 2 platforms + 1 artist x 1 platform.
    assert sim.state.call_count("song_audience") == 3 * 2 * 2
    assert sim.state.call_count("artist_audience") == 2
    with psycopg.connect(airflow_connections) as conn:
        spotify_points = conn.execute(
            """
            SELECT a.identifier, a.date, a.value FROM track_audience a JOIN tracks t ON t.id = a.track_id
            WHERE t.uuid = %s AND a.platform = 'spotify' ORDER BY 1, 2
            """,
            (track_uuids[0],),
        ).fetchall()
    served = sim.catalogue.song_audience(
        track_uuids[0], "spotify", first_until - timedelta(days=119), first_until
    )
    expected = sorted(
        (plot["identifier"], date.fromisoformat(item["date"][:10]), plot["value"])
        for item in served
        for plot in item["plots"]
    )
    assert spotify_points == expected and len(expected) >= 120

    sim.state.log.clear()
    second = dag.test(run_conf={"until": second_until.isoformat()})
    assert second.state == "success"
    calls = sim.state.calls("song_audience") + sim.state.calls("artist_audience")
    assert len(calls) == 3 * 2 + 1  # one small window per series
    for call in calls:
        query = parse_qs(call.query)
        assert query["startDate"][0][:10] == (first_until + timedelta(days=1)).isoformat()
        assert query["endDate"][0][:10] == second_until.isoformat()

    sim.state.log.clear()
    before = table_snapshot(airflow_connections)
    assert dag.test(run_conf={"until": second_until.isoformat()}).state == "success"
    assert sim.state.call_count() == 0
    assert table_snapshot(airflow_connections) == before


def test_catalogue_refresh_records_new_charts_as_available(
    catalog_dags, catalog_config, airflow_connections, sim
):
    dag = catalog_dags.get_dag("refresh_platform_catalogue")
    catalog_config("catalogue: {countries: [GLOBAL, US], platforms: [spotify]}\n")
    assert dag.test().state == "success"
    with psycopg.connect(airflow_connections) as conn:
        charts = dict(conn.execute("SELECT slug, sync_enabled FROM charts").fetchall())
    served = {
        chart.slug for country in ("GLOBAL", "US") for chart in sim.catalogue.charts("spotify", country)
    }
    assert set(charts) == served
    assert charts["global-28"] is True  # enabled in charts.yaml
    assert any(enabled is False for enabled in charts.values())  # seen, available, not synced
    before = table_snapshot(airflow_connections)
    assert dag.test().state == "success"
    assert table_snapshot(airflow_connections) == before
    assert os.environ["MUSICCHARTS_CATALOG_FILE"].endswith(".yaml")
