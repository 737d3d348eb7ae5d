"""The Soundcharts simulator over real HTTP: shapes vs recorded responses, paging, auth, quota, rate limit,
faults, request log, and the command-line server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, date, datetime

import pytest
import requests

from musiccharts.soundcharts.models import (
    ArtistAudiencePage,
    ArtistMetadataCollection,
    ArtistMetadataResponse,
    ChartListPage,
    ChartRankingPage,
    PayloadValidationError,
    PlatformListPage,
    RankingDatesPage,
    SongAudiencePage,
    SongIdentifiersPage,
    SongMetadataCollection,
    SongMetadataResponse,
    parse_payload,
)
from tests.paths import RECORDED, REPO_ROOT

NOW = datetime(2026, 11, 29, 13, 0, tzinfo=UTC)


def _recorded(name: str) -> dict:
    return json.loads((RECORDED / name).read_text())


@pytest.fixture
def api(sim):
    """GET helper bound to the per-test simulator (clock pinned to NOW)."""
    sim.state.set_now(NOW)

    def get(path: str, headers: dict | None = None, **kwargs) -> requests.Response:
        return requests.get(
            sim.base_url + path, headers=sim.headers if headers is None else headers, timeout=30, **kwargs
        )

    return get


def _top_song(sim) -> str:
    return sim.catalogue.ranking("global-28", NOW.date(), now=NOW).items[0]["song"]["uuid"]


# --- shapes ----------------------------------------------------------------------------------------------


def test_platforms_response_equals_the_recorded_one(api):
    response = api("/api/v2/chart/song/platforms")
    assert response.status_code == 200
    assert response.json() == _recorded("soundcharts_get_platforms.json")
    parse_payload(PlatformListPage, response.json(), "platforms")


def test_ranking_shape_matches_the_recorded_response(api, sim):
    recorded = _recorded("soundcharts_get_song_ranking.json")
    response = api("/api/v2.14/chart/song/global-28/ranking/latest")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == set(recorded)
    assert set(body["related"]) == set(recorded["related"])
    assert set(body["related"]["chart"]) == set(recorded["related"]["chart"])
    assert set(body["page"]) == set(recorded["page"])
    assert set(body["items"][0]) == set(recorded["items"][0])
    assert set(body["items"][0]["song"]) == set(recorded["items"][0]["song"])
    # Same values as the recorded chart object, apart from what the simulator is free to choose.
    for key in ("name", "type", "slug", "platform", "frequency", "countryCode", "countryName", "metric"):
        assert body["related"]["chart"][key] == recorded["related"]["chart"][key]
    assert body["page"] == {
        "offset": 0,
        "limit": 100,
        "next": "/api/v2.14/chart/song/global-28/ranking/latest?offset=100&limit=100",
        "previous": None,
        "total": 200,
    }
    assert body["related"]["date"] == "2026-11-29T12:00:00+00:00"
    assert body["errors"] == []
    parse_payload(ChartRankingPage, body, "ranking")
    parse_payload(ChartRankingPage, recorded, "ranking")  # the model and the recording agree too


def test_a_200_entry_ranking_in_two_pages_is_exactly_the_ground_truth(api, sim):
    first = api("/api/v2.14/chart/song/global-28/ranking/2026-11-20T12:00:00Z").json()
    second = api(first["page"]["next"]).json()
    assert second["page"]["next"] is None
    assert (
        second["page"]["previous"]
        == "/api/v2.14/chart/song/global-28/ranking/2026-11-20T12:00:00Z?offset=0&limit=100"
    )
    assert second["page"]["offset"] == 100
    truth = sim.catalogue.ranking("global-28", datetime(2026, 11, 20, tzinfo=UTC).date())
    assert first["items"] + second["items"] == truth.items
    assert [item["position"] for item in first["items"] + second["items"]] == list(range(1, 201))
    assert sim.state.call_count("ranking") == 2


@pytest.mark.parametrize(
    "when",
    [
        "2026-11-01T12:00:00Z",
        "2026-11-01T12:00:00+00:00",
        "2026-11-01T12:00:00%2B00:00",
        "2026-11-01T13:00:00+01:00",
    ],
)
def test_ranking_datetime_formats(api, when):
    body = api(f"/api/v2.14/chart/song/global-28/ranking/{when}?limit=5").json()
    assert body["related"]["date"] == "2026-11-01T12:00:00+00:00"
    assert len(body["items"]) == 5
    assert body["page"]["next"] == f"/api/v2.14/chart/song/global-28/ranking/{when}?limit=5&offset=5"


@pytest.mark.parametrize("when", ["2026-11-01", "2026-11-01T00:00:00Z", "2026-11-01T12:00:01+00:00"])
def test_strict_ranking_dates_answer_404_off_a_published_datetime(api, sim, when):
    response = api(f"/api/v2.14/chart/song/global-28/ranking/{when}")
    assert response.status_code == 404
    assert response.json()["errors"][0]["message"] == "Ranking not found"

    sim.state.lenient_ranking_dates = True  # the forgiving knob: latest ranking on or before that day
    assert api(f"/api/v2.14/chart/song/global-28/ranking/{when}").json()["related"]["date"] == (
        "2026-11-01T12:00:00+00:00"
    )


def test_a_ranking_is_not_served_before_it_is_published(api, sim):
    sim.state.set_now(datetime(2026, 11, 1, 11, 59, tzinfo=UTC))
    assert api("/api/v2.14/chart/song/global-28/ranking/2026-11-01T12:00:00Z").status_code == 404
    dates = api("/api/v2/chart/song/global-28/available-rankings?limit=1").json()["items"]
    assert dates == ["2026-10-31T12:00:00+00:00"]
    sim.state.set_now(datetime(2026, 11, 1, 12, 0, tzinfo=UTC))
    assert api("/api/v2.14/chart/song/global-28/ranking/2026-11-01T12:00:00Z").status_code == 200


def test_ranking_errors(api):
    missing = api("/api/v2.14/chart/song/no-such-chart/ranking/latest")
    assert missing.status_code == 404
    assert missing.json() == {"errors": [{"key": "chart", "code": 404, "message": "Chart not found"}]}
    assert "x-quota-remaining" in missing.headers
    before_history = api("/api/v2.14/chart/song/global-28/ranking/2023-12-31T12:00:00Z")
    assert before_history.status_code == 404
    assert before_history.json()["errors"][0]["code"] == 404
    assert api("/api/v2.14/chart/song/global-28/ranking/not-a-date").status_code == 400


def test_weekly_and_monthly_rankings_over_http(api):
    weekly = api("/api/v2.14/chart/song/global-weekly-28/ranking/2026-11-20T12:00:00Z?limit=1").json()
    assert weekly["related"]["date"] == "2026-11-20T12:00:00+00:00"
    assert weekly["items"][0]["timeOnChartUnit"] == "WOC"
    monthly = api("/api/v2.14/chart/song/airplay-us-monthly/ranking/latest").json()
    assert monthly["related"]["date"] == "2026-11-01T12:00:00+00:00"
    assert monthly["page"]["total"] == 50
    assert monthly["page"]["next"] is None
    assert monthly["items"][0]["timeOnChartUnit"] == "MOC"
    assert monthly["related"]["chart"]["metric"] == {"type": "spins", "description": "Spins"}


def test_unversioned_path_serves_the_same_ranking(api):
    versioned = api("/api/v2.14/chart/song/us-28/ranking/latest").json()
    plain = api("/api/v2/chart/song/us-28/ranking/latest").json()
    assert plain["items"] == versioned["items"]
    assert plain["page"]["next"].startswith("/api/v2/chart/song/us-28/ranking/latest?")


def test_chart_list_paging_follows_next_to_the_last_page(api):
    slugs, path, pages = [], "/api/v2/chart/song/by-platform/spotify", 0
    while path:
        body = api(path).json()
        parse_payload(ChartListPage, body, "chart_list")
        slugs += [chart["slug"] for chart in body["items"]]
        path = body["page"]["next"]
        pages += 1
    assert pages == 2
    assert len(slugs) == len(set(slugs)) == body["page"]["total"] >= 150
    assert body["page"]["offset"] == 100
    assert {"global-28", "us-28", "global-weekly-28"} <= set(slugs)


def test_chart_list_filters_caps_limit_and_rejects_bad_params(api):
    body = api("/api/v2/chart/song/by-platform/airplay", params={"countryCode": "US", "limit": 500}).json()
    assert {chart["slug"] for chart in body["items"]} == {"airplay-us-monthly", "airplay-us-weekly"}
    assert body["page"]["limit"] == 100
    body = api("/api/v2/chart/song/by-platform/spotify", params={"countryCode": "US", "offset": 1}).json()
    assert (
        body["page"]["previous"] == "/api/v2/chart/song/by-platform/spotify?countryCode=US&offset=0&limit=100"
    )
    assert api("/api/v2/chart/song/by-platform/myspace").status_code == 404
    assert api("/api/v2/chart/song/by-platform/spotify?limit=abc").status_code == 400
    beyond = api("/api/v2/chart/song/by-platform/spotify?offset=1000").json()
    assert beyond["items"] == []
    assert beyond["page"]["next"] is None


def test_available_rankings(api, sim):
    body = api("/api/v2/chart/song/global-weekly-28/available-rankings").json()
    parse_payload(RankingDatesPage, body, "available_rankings")
    assert body["items"][0] == "2026-11-27T12:00:00+00:00"
    assert body["items"] == sorted(body["items"], reverse=True)
    assert body["page"]["total"] == len(sim.catalogue.ranking_dates("global-weekly-28", NOW))
    last = api(f"/api/v2/chart/song/global-weekly-28/available-rankings?offset={body['page']['total'] - 1}")
    assert last.json()["items"] == ["2024-01-05T12:00:00+00:00"]


def test_song_metadata_single_and_batch(api, sim):
    recorded = _recorded("soundcharts_get_song_metadata.json")
    song_uuid = _top_song(sim)
    body = api(f"/api/v2.25/song/{song_uuid}").json()
    assert set(body) == set(recorded)
    assert set(body["object"]) == set(recorded["object"])
    assert body["object"] == sim.catalogue.song(song_uuid)
    parse_payload(SongMetadataResponse, body, "song")

    uuids = [item["song"]["uuid"] for item in sim.catalogue.ranking("us-28", NOW.date(), now=NOW).items[:10]]
    batch = api("/api/v2.25/song/" + ",".join(uuids)).json()
    parse_payload(SongMetadataCollection, batch, "song_batch")
    assert [song["uuid"] for song in batch["items"]] == uuids
    assert batch["page"]["total"] == 10
    too_many = api("/api/v2.25/song/" + ",".join([*uuids, song_uuid]))
    assert too_many.status_code == 400
    assert api("/api/v2.25/song/00000000-0000-0000-0000-000000000000").status_code == 404
    assert sim.state.counts_by_endpoint() == {"song": 2, "song_batch": 2}


def test_song_identifiers(api, sim):
    song_uuid = _top_song(sim)
    body = api(f"/api/v2/song/{song_uuid}/identifiers").json()
    parse_payload(SongIdentifiersPage, body, "song_identifiers")
    assert body["items"] == sim.catalogue.song_identifiers(song_uuid)
    spotify = api(f"/api/v2/song/{song_uuid}/identifiers?platform=spotify&onlyDefault=true").json()["items"]
    assert len(spotify) == 1
    assert spotify[0]["platformCode"] == "spotify"
    assert spotify[0]["default"] is True


def test_song_audience(api, sim):
    recorded = _recorded("soundcharts_get_song_audience_for_platform.json")
    song_uuid = _top_song(sim)
    params = {"startDate": "2026-09-01", "endDate": "2026-11-28", "limit": 30}
    body = api(f"/api/v2/song/{song_uuid}/audience/spotify", params=params).json()
    parse_payload(SongAudiencePage, body, "song_audience")
    parse_payload(SongAudiencePage, recorded, "song_audience")
    assert set(body["related"]) == set(recorded["related"])
    assert set(body["items"][0]) == set(recorded["items"][0])
    assert set(body["items"][0]["plots"][0]) == set(recorded["items"][0]["plots"][0])
    release = date.fromisoformat(sim.catalogue.song(song_uuid)["releaseDate"][:10])
    assert body["page"]["total"] == (date(2026, 11, 28) - max(release, date(2026, 9, 1))).days + 1 > 30
    served, page = list(body["items"]), body["page"]
    while page["next"]:
        following = api(page["next"]).json()
        served, page = served + following["items"], following["page"]
    assert len(served) == body["page"]["total"]
    truth = sim.catalogue.song_audience(
        song_uuid, "spotify", datetime(2026, 9, 1).date(), datetime(2026, 11, 28).date(), now=NOW
    )
    assert served == truth
    assert body["items"][0]["date"] == "2026-11-28T00:00:00+00:00"

    too_long = api(f"/api/v2/song/{song_uuid}/audience/spotify?startDate=2026-01-01&endDate=2026-11-01")
    assert too_long.status_code == 400
    assert "90 days" in too_long.json()["errors"][0]["message"]
    assert api(f"/api/v2/song/{song_uuid}/audience/myspace").status_code == 400
    default_window = api(f"/api/v2/song/{song_uuid}/audience/youtube").json()
    assert default_window["page"]["total"] == 31  # 30 days before the last crawl day, inclusive


def test_song_audience_identifier_filter_with_two_spotify_ids(api, sim):
    doubled = next(
        item["song"]["uuid"]
        for item in sim.catalogue.ranking("global-28", NOW.date(), now=NOW).items
        if sum(i["platformCode"] == "spotify" for i in sim.catalogue.song_identifiers(item["song"]["uuid"]))
        == 2
    )
    both = api(f"/api/v2/song/{doubled}/audience/spotify").json()
    assert all(len(point["plots"]) == 2 for point in both["items"])
    second_id = both["items"][0]["plots"][1]["identifier"]
    one = api(f"/api/v2/song/{doubled}/audience/spotify", params={"identifier": second_id}).json()
    assert {plot["identifier"] for point in one["items"] for plot in point["plots"]} == {second_id}


def test_artist_metadata_batch_and_audience(api, sim):
    recorded_streaming = _recorded("soundcharts_get_artists_streaming_audience.json")
    artists = []
    for item in sim.catalogue.ranking("global-28", NOW.date(), now=NOW).items:
        for artist in sim.catalogue.song(item["song"]["uuid"])["artists"]:
            if artist["uuid"] not in artists:
                artists.append(artist["uuid"])
    single = api(f"/api/v2.9/artist/{artists[0]}").json()
    parse_payload(ArtistMetadataResponse, single, "artist")
    assert single["object"] == sim.catalogue.artist(artists[0])
    batch = api("/api/v2.9/artist/" + ",".join(artists[:10])).json()
    parse_payload(ArtistMetadataCollection, batch, "artist_batch")
    assert [artist["uuid"] for artist in batch["items"]] == artists[:10]
    assert api("/api/v2.9/artist/" + ",".join(artists[:11])).status_code == 400
    audience = api(
        f"/api/v2/artist/{artists[0]}/audience/spotify?startDate=2026-11-01&endDate=2026-11-28"
    ).json()
    parse_payload(ArtistAudiencePage, audience, "artist_audience")
    assert set(audience["related"]) == set(recorded_streaming["related"])
    assert set(audience["related"]["artist"]) == set(recorded_streaming["related"]["artist"])
    assert len(audience["items"]) == 28
    assert api(f"/api/v2/artist/{artists[0]}/audience/myspace").status_code == 400


# --- auth, quota, rate limit ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"x-app-id": "soundcharts"}, {"x-app-id": "soundcharts", "x-api-key": "wrong"}],
)
def test_auth_401(api, sim, headers):
    response = api("/api/v2/chart/song/platforms", headers=headers)
    assert response.status_code == 401
    error = response.json()["errors"][0]
    assert error["code"] == 401
    assert error["message"].startswith("You are not logged in")
    assert response.headers["x-quota-remaining"] == str(sim.state.quota_remaining)


def test_custom_credentials(api, sim):
    sandbox = dict(sim.headers)
    sim.state.set_credentials("my-app", "s3cret")
    assert api("/api/v2/chart/song/platforms", headers=sandbox).status_code == 401
    assert api("/api/v2/chart/song/platforms", headers={"x-app-id": "my-app", "x-api-key": "s3cret"}).ok


def test_quota_header_decrements_only_for_successful_data_calls(api, sim):
    sim.state.set_quota(5)
    assert api("/api/v2/chart/song/platforms").headers["x-quota-remaining"] == "4"
    assert api("/api/v2/chart/song/platforms").headers["x-quota-remaining"] == "3"
    usage = api("/api/v2/team/usage")  # free
    assert usage.headers["x-quota-remaining"] == "3"
    assert usage.json()["object"]["remaining"] == 3
    failed = api("/api/v2.14/chart/song/no-such-chart/ranking/latest")  # no data: not counted
    assert failed.headers["x-quota-remaining"] == "3"
    sim.state.set_quota(1)
    assert api("/api/v2/chart/song/platforms").status_code == 200
    exhausted = api("/api/v2/chart/song/platforms")
    assert exhausted.status_code == 429
    assert "Maximum quota reached" in exhausted.json()["errors"][0]["message"]
    assert exhausted.headers["x-quota-remaining"] == "0"
    assert api("/api/v2/team/usage").status_code == 200


def test_rate_limit_sliding_window_with_reset_header(api, sim):
    clock = [1000.0]
    sim.state.monotonic = lambda: clock[0]
    sim.state.set_rate_limit(3)
    for _ in range(3):
        assert api("/api/v2/chart/song/platforms").status_code == 200
        clock[0] += 10
    limited = api("/api/v2/chart/song/platforms")
    assert limited.status_code == 429
    assert "maximum request count" in limited.json()["errors"][0]["message"]
    assert limited.headers["x-ratelimit-reset"] == "30"  # first call at t=1000 frees at t=1060; now t=1030
    assert "x-quota-remaining" in limited.headers
    clock[0] = 1060.5  # the first request left the window
    assert api("/api/v2/chart/song/platforms").status_code == 200
    assert api("/api/v2/chart/song/platforms").status_code == 429
    assert sim.state.call_count("platforms", status=429) == 2


# --- faults ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_for_a_number_of_calls(api, sim, status):
    sim.state.fail("ranking", status, times=2)
    path = "/api/v2.14/chart/song/global-28/ranking/latest"
    assert [api(path).status_code for _ in range(3)] == [status, status, 200]
    assert api("/api/v2/chart/song/platforms").status_code == 200  # other endpoints unaffected
    assert sim.state.quota_remaining == sim.state.quota_total - 2  # failures cost no quota


def test_fault_predicate_hits_only_matching_requests(api, sim):
    sim.state.fail("ranking", 503, times=None, when=lambda request: request.query.get("offset") == "100")
    path = "/api/v2.14/chart/song/global-28/ranking/latest"
    assert api(path).status_code == 200
    assert api(path + "?offset=100&limit=100").status_code == 503
    assert api(path + "?offset=100&limit=100").status_code == 503


def test_slow_response_exceeds_client_timeout(sim, api):
    sim.state.slow("platforms", seconds=3.0)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(sim.base_url + "/api/v2/chart/song/platforms", headers=sim.headers, timeout=0.3)
    assert api("/api/v2/chart/song/platforms").status_code == 200  # the fault was for one call only


def test_truncated_body(api, sim):
    sim.state.truncate("ranking")
    path = "/api/v2.14/chart/song/global-28/ranking/latest"
    cut = api(path)
    assert cut.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut.content)
    full = api(path)
    assert full.content.startswith(cut.content)
    assert 0 < len(cut.content) < len(full.content)


def test_schema_drift_renamed_field_is_caught_by_the_models(api, sim):
    sim.state.drift("ranking", rename={"position": "rank"})
    body = api("/api/v2.14/chart/song/global-28/ranking/latest").json()
    assert "rank" in body["items"][0]
    assert "position" not in body["items"][0]
    with pytest.raises(PayloadValidationError, match=r"items\.0\.position"):
        parse_payload(ChartRankingPage, body, "ranking")


def test_schema_drift_missing_items(api, sim):
    sim.state.drift("chart_list", remove=["items"])
    body = api("/api/v2/chart/song/by-platform/spotify").json()
    assert "items" not in body
    assert body["page"]["total"] >= 150
    with pytest.raises(PayloadValidationError, match="items"):
        parse_payload(ChartListPage, body, "chart_list")


def test_not_found_uuid_and_forbidden(api, sim):
    uuids = [
        item["song"]["uuid"] for item in sim.catalogue.ranking("global-28", NOW.date(), now=NOW).items[:3]
    ]
    sim.state.not_found(uuids[1])
    assert api(f"/api/v2.25/song/{uuids[1]}").status_code == 404
    assert api(f"/api/v2/song/{uuids[1]}/audience/spotify").status_code == 404
    batch = api("/api/v2.25/song/" + ",".join(uuids)).json()
    assert [song["uuid"] for song in batch["items"]] == [uuids[0], uuids[2]]
    sim.state.forbid("song_audience")
    forbidden = api(f"/api/v2/song/{uuids[0]}/audience/spotify")
    assert forbidden.status_code == 403
    assert forbidden.json()["errors"][0]["code"] == 403


def test_request_log_and_reset(api, sim):
    api("/api/v2/chart/song/platforms")
    api("/api/v2.14/chart/song/global-28/ranking/latest?offset=100")
    api("/api/v2/nothing/here")
    assert sim.state.counts_by_endpoint() == {"platforms": 1, "ranking": 1, "unknown": 1}
    ranking_call = sim.state.calls("ranking")[0]
    assert (ranking_call.method, ranking_call.status, ranking_call.query) == ("GET", 200, "offset=100")
    assert ranking_call.path == "/api/v2.14/chart/song/global-28/ranking/latest"
    assert sim.state.call_count(status=404) == 1
    sim.state.fail("*", 500, times=None)
    sim.state.set_quota(3)
    sim.state.reset()
    assert sim.state.log == []
    assert sim.state.faults == []
    assert sim.state.quota_remaining == sim.state.quota_total
    assert api("/api/v2/chart/song/platforms").status_code == 200


# --- the command -------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_command_line_server_logs_requests_without_the_api_key(tmp_path):
    port = _free_port()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(str(REPO_ROOT / part) for part in ("include", "simulators"))
    log_file = tmp_path / "sim.log"
    with log_file.open("w") as log:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "soundcharts_simulator", "--port", str(port), "--seed", "42"),
                *(
                    "--app-id",
                    "app-x",
                    "--api-key",
                    "key-very-secret",
                    "--quota",
                    "10",
                    "--now",
                    NOW.isoformat(),
                ),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        headers = {"x-app-id": "app-x", "x-api-key": "key-very-secret"}
        for _ in range(200):  # wait for the port (not a timing assertion: just readiness)
            try:
                response = requests.get(base + "/api/v2/chart/song/platforms", headers=headers, timeout=5)
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        assert response.status_code == 200
        assert response.headers["x-quota-remaining"] == "9"
        latest = requests.get(
            base + "/api/v2.14/chart/song/global-28/ranking/latest", headers=headers, timeout=30
        )
        assert latest.json()["related"]["date"] == "2026-11-29T12:00:00+00:00"
        assert requests.get(base + "/api/v2/chart/song/platforms", timeout=5).status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=10)
    output = log_file.read_text()
    assert "/api/v2/chart/song/platforms -> 200" in output
    assert "/api/v2/chart/song/platforms -> 401" in output
    assert "key-very-secret" not in output
