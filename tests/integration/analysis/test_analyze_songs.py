"""``analyze_songs`` and ``retry_failed_analyses`` end to end with ``dag.test()``: the ACRCloud simulator on
loopback, the callback app on loopback, the triggerer path run inline, and the real product database."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest
import requests

from acrcloud_simulator.catalogue import RecordingKind
from acrcloud_simulator.testing import encode_audio, recording_wav
from tests.db_snapshot import table_snapshot
from tests.integration.analysis.catalogue_data import register_song, seed_catalogue_track
from tests.paths import DAGS_DIR

pytestmark = pytest.mark.integration

EXACT_OTHER, EXACT_OWN, COVERED = 2001, 2002, 2003


@pytest.fixture(scope="module")
def analysis_dags():
    # Retry delays are read when the DAG files are parsed: shorten them so a retried song runs in seconds.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MUSICCHARTS_RETRY_DELAY_SECONDS", "1")
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(dag_folder=str(DAGS_DIR / "analysis"))
    assert bag.import_errors == {}
    return bag


def song_states(dsn: str) -> dict[str, tuple]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            """
            SELECT s.title, s.status, s.failure_reason, r.match_type, r.risk_level, r.critical_reasons,
                   (SELECT count(*) FROM analysis_matches m WHERE m.analysis_id = a.id),
                   (SELECT count(*) FROM analysis_matches m WHERE m.analysis_id = a.id AND m.track_id IS NOT NULL),
                   d.prediction
            FROM songs s
            LEFT JOIN song_analyses a ON a.song_id = s.id
            LEFT JOIN analysis_reports r ON r.analysis_id = a.id
            LEFT JOIN analysis_ai_detections d ON d.analysis_id = a.id
            ORDER BY s.id
            """
        ).fetchall()
    return {row[0]: row[1:] for row in rows}


def make_batch(dsn: str, acr, tmp_path) -> list[int]:
    for song_id in (EXACT_OTHER, EXACT_OWN, COVERED):
        seed_catalogue_track(dsn, acr, song_id)
    own_artist = acr.catalogue.soundcharts.song_by_id(EXACT_OWN)["artists"][0]["name"]
    files = {
        "exact other": (recording_wav(RecordingKind.ORIGINAL, EXACT_OTHER, 30), "Someone Else"),
        "exact own": (recording_wav(RecordingKind.ORIGINAL, EXACT_OWN, 30), own_artist),
        "cover": (recording_wav(RecordingKind.COVER, COVERED, 30), "A Cover Band"),
        "no match": (recording_wav(RecordingKind.HUMAN_UNKNOWN, 4, 20), "New Artist"),
        "ai": (recording_wav(RecordingKind.AI_GENERATED, 5, 20), "Prompt Person"),
        "corrupt": (b"RIFF\x24\x00\x00\x00WAVEfmt garbage that is not a wave file", "Broken"),
        "empty": (b"", "Nobody"),
    }
    ids = []
    for title, (audio, artist) in files.items():
        path = tmp_path / f"{title.replace(' ', '_')}.wav"
        path.write_bytes(audio)
        ids.append(register_song(dsn, path, title, artist))
    return ids


def test_batch_ends_with_the_right_status_matches_and_risk_and_rerun_changes_nothing(
    analysis_dags, analysis_connections, callback_server, analysis_config, acr, tmp_path
):
    dsn = analysis_connections
    analysis_config(first_poll=60)  # the callback must end the waits: no poll comes before it
    acr.state.set_callback_url(callback_server.url())
    song_ids = make_batch(dsn, acr, tmp_path)
    dag = analysis_dags.dags["analyze_songs"]
    logical_date = datetime(2026, 11, 29, 12, tzinfo=UTC)

    dag.test(logical_date=logical_date, run_conf={"song_ids": song_ids})

    states = song_states(dsn)
    assert states["exact other"][:4] == ("analyzed", None, "exact", "critical")
    assert "Someone Else" in states["exact other"][4][0]
    assert states["exact own"][:4] == ("analyzed", None, "exact", "high")
    assert states["cover"][:4] == ("analyzed", None, "cover", "medium")
    assert states["no match"][:4] == ("analyzed", None, "no_match", "low")
    assert (
        states["ai"][:4] == ("analyzed", None, "no_match", "critical") and states["ai"][7] == "ai_generated"
    )
    assert states["no match"][7] == "human"
    # music match + identification match for the exact songs, each linked to the catalogue track by ISRC
    assert states["exact other"][5:7] == (2, 2) and states["exact own"][5:7] == (2, 2)
    assert states["cover"][5:7] == (1, 1)
    assert states["corrupt"][0] == "failed" and "corrupt" in states["corrupt"][1]
    assert states["empty"][0] == "failed" and "empty" in states["empty"][1]
    # Minimum calls: one upload and one identification per readable song; the callback made polls unneeded.
    assert acr.state.count("file_upload") == 5
    assert acr.state.count("identify") == 5
    assert acr.state.count("file") == 0
    with psycopg.connect(dsn) as conn:
        outcomes = conn.execute("SELECT outcome, count(*) FROM acrcloud_callbacks GROUP BY 1").fetchall()
        assert dict(outcomes) == {"accepted": 5}
        assert conn.execute("SELECT count(*) FROM tracks").fetchone()[0] == 3  # no invented tracks

    # The same run again (every task cleared): nothing uploaded, nothing duplicated, analysed rows untouched.
    before = table_snapshot(dsn)
    calls_before = len(acr.state.requests)
    dag.test(logical_date=logical_date, run_conf={"song_ids": song_ids})
    after = table_snapshot(dsn)
    assert len(acr.state.requests) == calls_before
    for table in (
        "analysis_matches",
        "analysis_reports",
        "analysis_ai_detections",
        "acrcloud_callbacks",
        "tracks",
    ):
        assert after[table] == before[table], table
    analysed_rows = [row for row in before["songs"] if "analyzed" in row]
    assert all(row in after["songs"] for row in analysed_rows)
    assert song_states(dsn) == states


def test_compressed_formats_are_decoded_for_identification_and_a_corrupt_one_fails_alone(
    analysis_dags, analysis_connections, callback_server, acr, tmp_path
):
    dsn = analysis_connections
    acr.state.set_callback_url(callback_server.url())
    seed_catalogue_track(dsn, acr, EXACT_OWN)
    own_artist = acr.catalogue.soundcharts.song_by_id(EXACT_OWN)["artists"][0]["name"]
    exact = recording_wav(RecordingKind.ORIGINAL, EXACT_OWN, 20)
    files = {
        "flac song": (encode_audio(exact, "flac"), "song.flac"),
        "m4a song": (encode_audio(exact, "m4a"), "song.m4a"),
        "mp3 song": (encode_audio(recording_wav(RecordingKind.HUMAN_UNKNOWN, 21, 20), "mp3"), "song.mp3"),
        "broken flac": (encode_audio(exact, "flac")[:12] + b"not audio " * 200, "broken.flac"),
    }
    song_ids = []
    for title, (audio, name) in files.items():
        path = tmp_path / name
        path.write_bytes(audio)
        song_ids.append(register_song(dsn, path, title, own_artist))

    analysis_dags.dags["analyze_songs"].test(run_conf={"song_ids": song_ids})

    states = song_states(dsn)
    # The identification sample was cut from the decoded audio and matched, next to the scan's match.
    for title in ("flac song", "m4a song"):
        assert states[title][:4] == ("analyzed", None, "exact", "high"), title
        assert states[title][5:7] == (2, 2), title
    assert states["mp3 song"][:4] == ("analyzed", None, "no_match", "low")
    assert states["broken flac"][0] == "failed"
    assert "corrupt or unsupported FLAC file" in states["broken flac"][1]
    # Three readable songs: three uploads and three identifications (the MP3's sample too); the corrupt
    # file was refused before any call.
    assert (acr.state.count("file_upload"), acr.state.count("identify")) == (3, 3)
    with psycopg.connect(dsn) as conn:
        skipped = conn.execute(
            "SELECT count(*) FROM song_analyses WHERE identification ? 'skipped'"
        ).fetchone()[0]
    assert skipped == 0


def test_poll_only_path_when_the_callback_never_comes(analysis_dags, analysis_connections, acr, tmp_path):
    dsn = analysis_connections
    acr.state.callbacks_enabled = False
    seed_catalogue_track(dsn, acr, EXACT_OWN)
    path = tmp_path / "song.wav"
    path.write_bytes(recording_wav(RecordingKind.ORIGINAL, EXACT_OWN, 20))
    song_id = register_song(dsn, path, "polled", "Whoever")

    analysis_dags.dags["analyze_songs"].test(run_conf={"song_ids": [song_id]})

    assert song_states(dsn)["polled"][:4] == ("analyzed", None, "exact", "critical")
    assert acr.state.count("file") >= 2  # at least one poll plus the one GET of the results
    assert acr.state.count("file_upload") == 1


def test_deadline_fails_the_song_and_retry_does_not_upload_again(
    analysis_dags, analysis_connections, analysis_config, acr, tmp_path
):
    dsn = analysis_connections
    acr.state.callbacks_enabled = False
    acr.state.scan_delay = 3600
    analysis_config(first_poll=0.3, deadline=2)
    path = tmp_path / "slow.wav"
    path.write_bytes(recording_wav(RecordingKind.HUMAN_UNKNOWN, 9, 10))
    song_id = register_song(dsn, path, "slow", "Someone")

    analysis_dags.dags["analyze_songs"].test(run_conf={"song_ids": [song_id]})
    status, reason = song_states(dsn)["slow"][:2]
    assert status == "failed" and "no scan result" in reason

    # ACRCloud finishes later; the retry DAG picks the failed song up and waits again without re-uploading.
    for scan_file in acr.state.files.values():
        scan_file.ready_at = 0
    analysis_config(first_poll=0.3, deadline=30)
    analysis_dags.dags["retry_failed_analyses"].test()
    assert song_states(dsn)["slow"][:4] == ("analyzed", None, "no_match", "low")
    assert acr.state.count("file_upload") == 1
    assert acr.state.count("identify") == 1


def test_scan_error_fails_the_song_and_retry_rescans_without_uploading(
    analysis_dags, analysis_connections, callback_server, acr, tmp_path
):
    dsn = analysis_connections
    acr.state.set_callback_url(callback_server.url())
    acr.state.force_next_scan_states(-3)
    path = tmp_path / "flaky.wav"
    path.write_bytes(recording_wav(RecordingKind.HUMAN_UNKNOWN, 11, 10))
    song_id = register_song(dsn, path, "flaky", "Someone")

    analysis_dags.dags["analyze_songs"].test(run_conf={"song_ids": [song_id]})
    status, reason = song_states(dsn)["flaky"][:2]
    assert status == "failed" and "state -3" in reason

    analysis_dags.dags["retry_failed_analyses"].test()
    assert song_states(dsn)["flaky"][:4] == ("analyzed", None, "no_match", "low")
    assert (acr.state.count("file_upload"), acr.state.count("rescan")) == (1, 1)


def test_callback_token_duplicates_and_unknown_files(analysis_connections, callback_server, acr, tmp_path):
    dsn = analysis_connections
    path = tmp_path / "s.wav"
    path.write_bytes(b"irrelevant")
    song_id = register_song(dsn, path, "waiting", "Someone")
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO song_analyses (song_id, upload_name, file_id, scan_state) VALUES (%s, 'x', 'file-1', 0)",
            (song_id,),
        )
    payload = {
        "file_id": "file-1",
        "state": 1,
        "cid": 1,
        "name": "x",
        "results": {"music": [], "cover_songs": []},
    }

    refused = requests.post(callback_server.url("wrong-token"), json=payload, timeout=10)
    assert refused.status_code == 403
    unknown = requests.post(callback_server.url(), json=payload | {"file_id": "nope"}, timeout=10)
    assert unknown.status_code == 404
    first = requests.post(callback_server.url(), json=payload, timeout=10)
    assert first.status_code == 200 and first.json()["outcome"] == "accepted"
    with psycopg.connect(dsn) as conn:
        before = conn.execute(
            "SELECT scan_state, scan_results, callback_received_at FROM song_analyses"
        ).fetchall()
    duplicate = requests.post(
        callback_server.url(), json=payload | {"state": -2, "results": None}, timeout=10
    )
    assert duplicate.status_code == 200 and duplicate.json()["outcome"] == "duplicate"
    with psycopg.connect(dsn) as conn:
        after = conn.execute(
            "SELECT scan_state, scan_results, callback_received_at FROM song_analyses"
        ).fetchall()
        log = conn.execute(
            "SELECT outcome, http_status, file_id, payload IS NULL FROM acrcloud_callbacks ORDER BY id"
        ).fetchall()
    assert after == before
    assert log == [
        ("refused", 403, "file-1", True),  # recorded, but the payload of an unauthenticated call is not kept
        ("unknown_file", 404, "nope", False),
        ("accepted", 200, "file-1", False),
        ("duplicate", 200, "file-1", False),
    ]


def test_the_callback_token_stays_out_of_the_api_server_access_log(analysis_connections):
    # The api-server logs every request through Airflow's access-log middleware: the path as it came, the
    # query with secret-named parameters redacted. The token therefore travels as ?token=..., never the path.
    from airflow.api_fastapi.common.http_access_log import HttpAccessLogMiddleware
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from structlog.testing import capture_logs

    from musiccharts_airflow.acrcloud_callback import URL_PREFIX, create_callback_app
    from tests.integration.analysis.conftest import CALLBACK_TOKEN

    api_server = FastAPI()
    api_server.mount(URL_PREFIX, create_callback_app())
    api_server.add_middleware(HttpAccessLogMiddleware)
    payload = {"file_id": "no-such-file", "state": 1, "results": {"music": []}}
    with capture_logs() as records, TestClient(api_server) as client:
        answered = client.post(f"{URL_PREFIX}/callback", params={"token": CALLBACK_TOKEN}, json=payload)
        refused = client.post(f"{URL_PREFIX}/callback", params={"token": "guessed-token"}, json=payload)
        missing = client.post(f"{URL_PREFIX}/callback", json=payload)
    assert (answered.status_code, refused.status_code, missing.status_code) == (404, 403, 403)
    access = [record for record in records if record.get("event") == "request finished"]
    assert len(access) == 3
    assert all(record["path"] == f"{URL_PREFIX}/callback" for record in access)
    assert CALLBACK_TOKEN not in repr(records) and "guessed-token" not in repr(records)
