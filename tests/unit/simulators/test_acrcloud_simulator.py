"""The ACRCloud simulator against the documented protocol: identification codes and shapes, File Scanning."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import threading
import time

import pytest
import requests

from acrcloud_simulator.app import MAX_SAMPLE_BYTES
from acrcloud_simulator.audio import read_marks, synthesize_wav
from acrcloud_simulator.catalogue import RecordingKind, recording_id
from acrcloud_simulator.testing import encode_audio, recording_wav
from tests.paths import RECORDED

SONG = 1234


def identify(acr, sample: bytes, form: dict[str, str] | None = None):
    fields = form if form is not None else acr.signed_form() | {"sample_bytes": str(len(sample))}
    response = requests.post(
        acr.base_url + "/v1/identify",
        data=fields,
        files={"sample": ("sample", sample, "application/octet-stream")},
        timeout=10,
    )
    assert response.status_code == 200  # every identification answer is HTTP 200
    return response.json()


def test_signature_is_the_documented_hmac_sha1(acr):
    timestamp = "1700000000"
    string_to_sign = f"POST\n/v1/identify\n{acr.access_key}\naudio\n1\n{timestamp}"
    expected = base64.b64encode(
        hmac.new(acr.access_secret.encode(), string_to_sign.encode(), hashlib.sha1).digest()
    ).decode()
    assert acr.signed_form(timestamp=timestamp)["signature"] == expected


def test_identify_exact_match_has_the_documented_shape(acr):
    body = identify(acr, recording_wav(RecordingKind.ORIGINAL, SONG, seconds=12))
    assert body["status"] == {"msg": "Success", "code": 0, "version": "1.0"}
    [music] = body["metadata"]["music"]
    song = acr.catalogue.soundcharts.song_by_id(SONG)
    assert music["title"] == song["name"]
    assert [artist["name"] for artist in music["artists"]] == [artist["name"] for artist in song["artists"]]
    isrc = music["external_ids"]["isrc"]
    assert (isrc if isinstance(isrc, str) else isrc[0]) == song["isrc"]["value"]
    assert len(music["acrid"]) == 32 and 70 <= music["score"] <= 100
    assert music["sample_end_time_offset_ms"] - music["sample_begin_time_offset_ms"] == 12000
    assert body["metadata"]["timestamp_utc"][4] == "-" and "T" not in body["metadata"]["timestamp_utc"]


def test_identify_serves_both_external_shapes(acr):
    shapes = set()
    for song in (SONG, SONG + 1):  # odd song ids come in the list shapes
        music = identify(acr, recording_wav(RecordingKind.ORIGINAL, song, seconds=6))["metadata"]["music"][0]
        shapes.add(
            (
                type(music["external_ids"]["isrc"]).__name__,
                type(music["external_metadata"]["spotify"]).__name__,
            )
        )
    assert shapes == {("str", "dict"), ("list", "list")}


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"signature": "bm9wZQ=="}, 3014),
        ({"access_key": "someone-else"}, 3001),
        ({"signature_version": "2"}, 3006),
    ],
)
def test_identify_refuses_bad_requests_with_documented_codes(acr, change, code):
    sample = recording_wav(RecordingKind.ORIGINAL, SONG, seconds=5)
    assert identify(acr, sample, acr.signed_form() | change)["status"]["code"] == code


def test_identify_signature_covers_the_timestamp(acr):
    form = acr.signed_form(timestamp="1700000000") | {"timestamp": "1700000001"}
    assert identify(acr, recording_wav(RecordingKind.ORIGINAL, SONG, 3), form)["status"]["code"] == 3014


def test_identify_requires_multipart(acr):
    response = requests.post(acr.base_url + "/v1/identify", data=acr.signed_form(), timeout=10)
    assert response.status_code == 200
    assert response.json()["status"]["code"] == 3002


def test_identify_quota_and_size_and_no_result(acr):
    assert identify(acr, recording_wav(RecordingKind.HUMAN_UNKNOWN, SONG, 5))["status"] == {
        "msg": "No result",
        "code": 1001,
        "version": "1.0",
    }
    too_big = b"\0" * (MAX_SAMPLE_BYTES + 1)
    assert identify(acr, too_big)["status"]["code"] == 3016
    acr.state.identify_quota = 0
    assert identify(acr, recording_wav(RecordingKind.ORIGINAL, SONG, 5))["status"]["code"] == 3003


def test_audio_marks_survive_an_unaligned_cut():
    wav = synthesize_wav([(recording_id(RecordingKind.ORIGINAL, 7), 0, 10)])
    header, pcm = wav[:44], wav[44:]
    marks, duration = read_marks(header + pcm[2 * 3333 :])  # cut mid-block
    assert {mark.recording_id for mark in marks} == {recording_id(RecordingKind.ORIGINAL, 7)}
    assert marks[0].block_index == 1 and duration < 10


# --- File Scanning --------------------------------------------------------------------------------------


def files_url(acr) -> str:
    return f"{acr.base_url}/api/fs-containers/{acr.container_id}/files"


def upload(acr, audio: bytes, name: str = "song.wav") -> dict:
    response = requests.post(
        files_url(acr),
        headers=acr.headers,
        data={"data_type": "audio"},
        files={"file": (name, audio, "audio/wav")},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()["data"]


def wait_finished(acr, file_id: str) -> dict:
    deadline = time.monotonic() + 20
    while True:
        response = requests.get(f"{files_url(acr)}/{file_id}", headers=acr.headers, timeout=10)
        assert response.status_code == 200
        data = response.json()["data"]
        assert isinstance(data, list) and len(data) == 1  # documented: one file comes back as a list
        if data[0]["state"] != 0 or time.monotonic() > deadline:
            return data[0]
        time.sleep(0.1)


def test_console_api_requires_bearer(acr):
    assert requests.get(files_url(acr), timeout=10).status_code == 401
    assert (
        requests.get(files_url(acr), headers={"Authorization": "Bearer nope"}, timeout=10).status_code == 401
    )


def test_scan_goes_from_processing_to_results(acr):
    audio = synthesize_wav(
        [
            (recording_id(RecordingKind.ORIGINAL, SONG), 40, 20),
            (recording_id(RecordingKind.COVER, SONG + 1), 0, 15),
        ]
    )
    created = upload(acr, audio)
    assert created["state"] == 0 and "results" not in created
    finished = wait_finished(acr, created["id"])
    assert finished["state"] == 1
    [music] = finished["results"]["music"]
    assert music["offset"] == 0 and music["played_duration"] == 20 and music["score"] == 100
    assert music["result"]["db_begin_time_offset_ms"] == 40_000 and 70 <= music["result"]["score"] <= 100
    [cover] = finished["results"]["cover_songs"]
    assert (
        cover["offset"] == 20
        and cover["result"]["title"] == acr.catalogue.soundcharts.song_by_id(SONG + 1)["name"]
    )
    [ai] = finished["results"]["ai_detection"]
    assert ai["prediction"] == "human"


def test_ai_generated_and_error_states(acr):
    ai = wait_finished(acr, upload(acr, recording_wav(RecordingKind.AI_GENERATED, 5, 20))["id"])
    assert ai["state"] == 1 and ai["results"]["ai_detection"][0]["prediction"] == "ai_generated"
    assert ai["results"]["ai_detection"][0]["ai_probability"] >= 85
    assert wait_finished(acr, upload(acr, b"ID3 not a wav")["id"])["state"] == -2
    acr.state.force_next_scan_states(-3)
    assert wait_finished(acr, upload(acr, recording_wav(RecordingKind.ORIGINAL, 5, 5))["id"])["state"] == -3
    acr.state.containers[acr.container_id].ai_detection = False
    assert (
        wait_finished(acr, upload(acr, recording_wav(RecordingKind.HUMAN_UNKNOWN, 5, 5))["id"])["state"] == -1
    )


def test_compressed_uploads_and_samples_are_decoded_as_acrcloud_does(acr):
    flac = encode_audio(recording_wav(RecordingKind.ORIGINAL, SONG, 15), "flac")
    scanned = wait_finished(acr, upload(acr, flac, "song.flac")["id"])
    assert scanned["state"] == 1 and scanned["results"]["music"][0]["played_duration"] == 15
    body = identify(acr, encode_audio(recording_wav(RecordingKind.ORIGINAL, SONG, 12), "m4a"))
    assert body["status"]["code"] == 0 and body["metadata"]["music"]
    # An MP3 decodes (state 1, not the -2 decode error) but its marks do not survive the codec: no music or
    # cover match, only the AI-detection verdict that every decoded file gets.
    mp3 = encode_audio(recording_wav(RecordingKind.HUMAN_UNKNOWN, SONG, 5), "mp3")
    scanned_mp3 = wait_finished(acr, upload(acr, mp3, "song.mp3")["id"])
    assert scanned_mp3["state"] == 1
    assert (scanned_mp3["results"]["music"], scanned_mp3["results"]["cover_songs"]) == ([], [])
    assert len(scanned_mp3["results"]["ai_detection"]) == 1
    assert wait_finished(acr, upload(acr, flac[:12] + b"garbage" * 50, "bad.flac")["id"])["state"] == -2


def test_recorded_callback_has_the_shape_the_simulator_sends(acr):
    recorded = json.loads((RECORDED / "acrcloud_file_scanning_callback.json").read_text())
    finished = wait_finished(acr, upload(acr, recording_wav(RecordingKind.ORIGINAL, SONG, 12))["id"])
    sim_item, real_item = finished["results"]["music"][0], recorded["results"]["music"][0]
    assert set(real_item) <= set(sim_item)
    assert {"acrid", "title", "artists", "album", "score", "play_offset_ms", "external_ids"} <= set(
        sim_item["result"]
    )


def test_upload_by_url_and_by_presigned_flow(acr):
    audio = recording_wav(RecordingKind.ORIGINAL, SONG, 10)
    # presigned: GET presigned-upload -> PUT bytes -> POST the key
    presign = requests.get(
        f"{acr.base_url}/api/fs-containers/{acr.container_id}/presigned-upload",
        params={"filename": "a.wav", "content_type": "audio/wav"},
        headers=acr.headers,
        timeout=10,
    ).json()["data"]
    assert requests.put(presign["presigned_url"] + "x", data=audio, timeout=10).status_code == 403
    put = requests.request(
        presign["method"], presign["presigned_url"], data=audio, headers=presign["headers"], timeout=10
    )
    assert put.status_code == 200
    created = requests.post(
        files_url(acr),
        headers=acr.headers,
        json={"data_type": "audio", "key": presign["key"], "filename": "a.wav"},
        timeout=10,
    )
    assert created.status_code == 201
    assert wait_finished(acr, created.json()["data"]["id"])["results"]["music"]
    # audio_url: the simulator downloads it (here from its own storage via a second presign)
    served = _serve_once(audio)
    by_url = requests.post(
        files_url(acr), headers=acr.headers, json={"data_type": "audio_url", "url": served}, timeout=10
    )
    assert by_url.status_code == 201, by_url.text
    finished = wait_finished(acr, by_url.json()["data"]["id"])
    assert finished["uri"].startswith("audio_url:") and finished["results"]["music"]


def _serve_once(body: bytes) -> str:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.handle_request, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}/song.wav"


def test_list_paging_rescan_delete(acr):
    ids = [
        upload(acr, recording_wav(RecordingKind.ORIGINAL, SONG + n, 5), f"s{n}.wav")["id"] for n in range(3)
    ]
    page = requests.get(
        files_url(acr), params={"page": 2, "per_page": 2, "with_result": 0}, headers=acr.headers, timeout=10
    ).json()
    assert len(page["data"]) == 1 and page["meta"]["total"] == 3 and "results" not in page["data"][0]
    first = wait_finished(acr, ids[0])
    assert first["state"] == 1
    listed = requests.get(
        files_url(acr), params={"with_result": 1, "per_page": 100}, headers=acr.headers, timeout=10
    ).json()
    assert all("results" in item for item in listed["data"])
    rescanned = requests.put(f"{files_url(acr)}/{ids[0]}/rescan", headers=acr.headers, timeout=10)
    assert rescanned.status_code == 200 and rescanned.json()["data"][0]["state"] == 0
    assert wait_finished(acr, ids[0])["state"] == 1
    assert (
        requests.delete(f"{files_url(acr)}/{ids[1]},{ids[2]}", headers=acr.headers, timeout=10).status_code
        == 204
    )
    assert requests.get(f"{files_url(acr)}/{ids[1]}", headers=acr.headers, timeout=10).status_code == 404


def test_containers_crud(acr):
    created = requests.post(
        acr.base_url + "/api/fs-containers",
        headers=acr.headers,
        json={
            "name": "other",
            "region": "us-west-2",
            "engine": 1,
            "audio_type": "linein",
            "buckets": ["ACRCloud Music"],
            "policy": {"type": "traverse"},
        },
        timeout=10,
    )
    assert created.status_code == 201
    cid = created.json()["data"]["id"]
    listed = requests.get(
        acr.base_url + "/api/fs-containers", params={"region": "us-west-2"}, headers=acr.headers, timeout=10
    )
    assert [item["id"] for item in listed.json()["data"]] == [cid]
    assert (
        requests.delete(
            f"{acr.base_url}/api/fs-containers/{cid}", headers=acr.headers, timeout=10
        ).status_code
        == 204
    )
    assert (
        requests.get(f"{acr.base_url}/api/fs-containers/{cid}", headers=acr.headers, timeout=10).status_code
        == 404
    )


def test_callback_is_posted_when_a_scan_ends(acr):
    received: list[dict] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        acr.state.set_callback_url(f"http://127.0.0.1:{server.server_port}/cb?token=secret")
        acr.state.duplicate_callbacks = True
        file_id = upload(acr, recording_wav(RecordingKind.ORIGINAL, SONG, 5))["id"]
        deadline = time.monotonic() + 20
        while len(received) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        server.shutdown()
    assert [item["file_id"] for item in received] == [file_id, file_id]
    assert received[0]["state"] == 1 and received[0]["results"]["music"]
    assert [entry["status"] for entry in acr.state.callbacks] == [200, 200]


def test_injected_server_errors(acr):
    acr.state.fail_next("file", 1)
    file_id = upload(acr, recording_wav(RecordingKind.ORIGINAL, SONG, 3))["id"]
    assert requests.get(f"{files_url(acr)}/{file_id}", headers=acr.headers, timeout=10).status_code == 503
    assert requests.get(f"{files_url(acr)}/{file_id}", headers=acr.headers, timeout=10).status_code == 200
