"""One song-analysis batch on the Celery stack: deferral on the real triggerer, the callback through the
api-server plugin, results in the product database.

The session stack has no ACRCloud simulator of its own: this scenario starts one and points the two ACRCloud
connections at it through the REST API, as an operator would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import psycopg
import pytest

from acrcloud_simulator.catalogue import RecordingKind
from acrcloud_simulator.testing import AcrSimulatorServer, recording_wav
from musiccharts_stack.e2e import E2EStack
from tests.integration.analysis.catalogue_data import register_song, seed_catalogue_track

pytestmark = pytest.mark.e2e

DAG_ID = "analyze_songs"


@pytest.fixture
def acr_for_stack(stack: E2EStack) -> Iterator[AcrSimulatorServer]:
    # The stack generated its callback secret (secrets.env) and applied it to acrcloud_default: the simulated
    # container must call back with that same token.
    token = stack.native.acrcloud_callback_token()
    server = AcrSimulatorServer(seed=42, scan_delay=3).start()
    common = {"timeout": 10, "max_retries": 3}
    connections = {
        "acrcloud_default": {
            "host": server.base_url,
            "password": server.bearer_token,
            "extra": json.dumps(common | {"container_id": server.container_id, "callback_token": token}),
        },
        "acrcloud_identify": {
            "host": server.base_url,
            "login": server.access_key,
            "password": server.access_secret,
            "extra": json.dumps(common),
        },
    }
    for conn_id, fields in connections.items():
        stack.api.call(
            "PATCH",
            f"/api/v2/connections/{conn_id}",
            json={"connection_id": conn_id, "conn_type": "http", **fields},
        )
    server.state.set_callback_url(f"{stack.stack.api_url}/acrcloud/callback?token={token}")
    yield server
    server.stop()


def test_one_analysis_batch(stack: E2EStack, acr_for_stack: AcrSimulatorServer, tmp_path):
    acr = acr_for_stack
    dsn = stack.product_dsn
    seed_catalogue_track(dsn, acr, 4001)
    songs = {
        "e2e exact": recording_wav(RecordingKind.ORIGINAL, 4001, 20),
        "e2e ai": recording_wav(RecordingKind.AI_GENERATED, 4002, 20),
        "e2e corrupt": b"RIFF\x10\x00\x00\x00WAVEjunk",
    }
    ids = []
    for title, audio in songs.items():
        path = tmp_path / f"{title.replace(' ', '_')}.wav"
        path.write_bytes(audio)
        ids.append(register_song(dsn, path, title, "E2E Artist"))

    stack.api.wait_for_dag(DAG_ID)
    stack.api.set_paused(DAG_ID, False)
    run = stack.api.call(
        "POST", f"/api/v2/dags/{DAG_ID}/dagRuns", json={"logical_date": None, "conf": {"song_ids": ids}}
    )
    finished = stack.api.wait_run_finished(DAG_ID, run["dag_run_id"], timeout=600, check=stack.check_alive)
    stack.api.set_paused(DAG_ID, True)

    assert finished["state"] == "success"  # the report is the leaf; the corrupt song fails alone
    with psycopg.connect(dsn) as conn:
        rows = {
            title: (status, risk)
            for title, status, risk in conn.execute(
                """
                SELECT s.title, s.status, r.risk_level FROM songs s
                LEFT JOIN song_analyses a ON a.song_id = s.id LEFT JOIN analysis_reports r ON r.analysis_id = a.id
                WHERE s.id = ANY(%s)
                """,
                (ids,),
            )
        }
        accepted = conn.execute(
            "SELECT count(*) FROM acrcloud_callbacks WHERE outcome = 'accepted'"
        ).fetchone()[0]
    assert rows == {
        "e2e exact": ("analyzed", "critical"),
        "e2e ai": ("analyzed", "critical"),
        "e2e corrupt": ("failed", None),
    }
    assert accepted >= 2  # the callbacks reached the api-server plugin
    assert acr.state.count("file_upload") == 2
