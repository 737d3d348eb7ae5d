"""SoundchartsClient against the Soundcharts simulator: every endpoint, paging, retries, limits, errors."""

from __future__ import annotations

import logging
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime

import pytest
import requests

from musiccharts.soundcharts.client import SoundchartsClient
from musiccharts.soundcharts.errors import (
    SoundchartsAuthError,
    SoundchartsNotFound,
    SoundchartsQuotaExhausted,
    SoundchartsResponseError,
    SoundchartsUnavailable,
)

NOW = datetime(2026, 11, 29, 13, 0, tzinfo=UTC)
CHART = "global-28"  # 200-entry daily Spotify chart


class FakeClock:
    """Drives the simulator's rate-limit window and records the client's sleeps, so no test really waits."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class CountingLimiter:
    def __init__(self) -> None:
        self.tokens = 0

    def acquire(self, timeout: float | None = None) -> float:
        self.tokens += 1
        return 0.0


@pytest.fixture
def sim_now(sim):
    sim.state.set_now(NOW)
    return sim


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(sim_now, clock) -> SoundchartsClient:
    with SoundchartsClient(
        sim_now.base_url,
        sim_now.app_id,
        sim_now.api_key,
        timeout=(2, 5),
        backoff_base=0.01,
        sleep=clock.sleep,
    ) as instance:
        yield instance


class TestSoundchartsClient:
    # --- every endpoint ------------------------------------------------------------------------------

    def test_platforms(self, client, sim_now) -> None:
        platforms = client.get_song_chart_platforms()
        assert [p.code for p in platforms] == [p["code"] for p in sim_now.catalogue.platforms()]
        assert len(platforms) == 21
        assert sim_now.state.call_count("platforms") == 1

    def test_charts_all_pages(self, client, sim_now) -> None:
        charts = client.get_charts("spotify")
        expected = [chart.slug for chart in sim_now.catalogue.charts(platform="spotify")]
        assert len(expected) > 100, "needs more than one page"
        assert [chart.slug for chart in charts] == expected
        assert sim_now.state.call_count("chart_list", 200) == math.ceil(len(expected) / 100)

    def test_charts_of_one_country(self, client, sim_now) -> None:
        charts = client.get_charts("spotify", country_code="FR")
        expected = [c.slug for c in sim_now.catalogue.charts(platform="spotify", country_code="FR")]
        assert charts
        assert [chart.slug for chart in charts] == expected
        assert all(chart.country_code == "FR" for chart in charts)

    def test_latest_ranking_of_200_entries_takes_exactly_two_calls(self, client, sim_now) -> None:
        ranking = client.get_chart_ranking(CHART)
        truth = sim_now.catalogue.latest_ranking(CHART, NOW)
        assert ranking.total == 200
        assert [item.position for item in ranking.items] == list(range(1, 201))
        assert [item.song.uuid for item in ranking.items] == [item["song"]["uuid"] for item in truth.items]
        assert ranking.date == datetime(2026, 11, 29, 12, 0, tzinfo=UTC)  # related.date, not "latest"
        assert ranking.chart.slug == CHART
        assert len(ranking.raw_pages) == 2
        calls = sim_now.state.calls("ranking")
        assert len(calls) == 2
        assert client.stats.requests == 2
        assert client.stats.retries == 0
        # The second page is pinned to the date the first page announced.
        assert calls[0].path.endswith("/ranking/latest")
        assert calls[1].path.endswith("/ranking/2026-11-29T12:00:00+00:00")
        assert "offset=100" in calls[1].query

    def test_ranking_for_a_date(self, client, sim_now) -> None:
        # Asked for by a published ranking's own datetime, as available-rankings lists it.
        ranking = client.get_chart_ranking(CHART, datetime(2026, 11, 20, 12, 0, tzinfo=UTC))
        truth = sim_now.catalogue.ranking(CHART, date(2026, 11, 20), NOW)
        assert ranking.date == datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
        assert [item.song.uuid for item in ranking.items] == [item["song"]["uuid"] for item in truth.items]
        assert sim_now.state.calls("ranking")[0].path.endswith("/ranking/2026-11-20T12:00:00+00:00")

    def test_a_datetime_that_is_not_a_ranking_is_not_found(self, client, sim_now) -> None:
        with pytest.raises(SoundchartsNotFound, match="Ranking not found"):
            client.get_chart_ranking(CHART, date(2026, 11, 20))  # midnight: no ranking has that datetime

    def test_available_ranking_dates_reads_the_last_page(self, client, sim_now) -> None:
        dates = client.get_available_ranking_dates(CHART)
        truth = sim_now.catalogue.ranking_dates(CHART, NOW)
        assert len(truth) > 100
        assert dates == truth  # includes the last, partial page
        assert dates[-1] == datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
        assert sim_now.state.call_count("available_rankings") == math.ceil(len(truth) / 100)

    def test_song(self, client, sim_now) -> None:
        uuid = sim_now.catalogue.latest_ranking(CHART, NOW).items[0]["song"]["uuid"]
        song = client.get_song(uuid)
        truth = sim_now.catalogue.song(uuid)
        assert song.uuid == uuid
        assert song.name == truth["name"]
        assert song.isrc is not None
        assert song.isrc.value == truth["isrc"]["value"]

    def test_songs_batch_chunks_by_ten_and_leaves_out_unknown(self, client, sim_now) -> None:
        uuids = [item["song"]["uuid"] for item in sim_now.catalogue.latest_ranking(CHART, NOW).items[:25]]
        sim_now.state.not_found(uuids[3])
        songs = client.get_songs([*uuids, uuids[0]])  # a duplicate is asked only once
        assert [song.uuid for song in songs] == [u for u in uuids if u != uuids[3]]
        assert sim_now.state.call_count("song_batch") == 3
        assert sim_now.state.call_count("song") == 0

    def test_songs_batch_of_one_uses_the_single_endpoint(self, client, sim_now) -> None:
        uuids = [item["song"]["uuid"] for item in sim_now.catalogue.latest_ranking(CHART, NOW).items[:11]]
        assert [song.uuid for song in client.get_songs(uuids)] == uuids
        assert sim_now.state.call_count("song_batch") == 1
        assert sim_now.state.call_count("song") == 1

    def test_song_identifiers(self, client, sim_now) -> None:
        uuid = sim_now.catalogue.latest_ranking(CHART, NOW).items[0]["song"]["uuid"]
        identifiers = client.get_song_identifiers(uuid)
        truth = sim_now.catalogue.song_identifiers(uuid)
        assert [(i.platform_code, i.identifier) for i in identifiers] == [
            (t["platformCode"], t["identifier"]) for t in truth
        ]
        spotify = client.get_song_identifiers(uuid, "spotify")
        assert spotify
        assert {i.platform_code for i in spotify} == {"spotify"}

    def test_song_audience_splits_windows_over_90_days(self, client, sim_now) -> None:
        uuid = sim_now.catalogue.song_uuid(5_000)  # released in 2020: a full history
        start, end = date(2026, 1, 1), date(2026, 7, 19)  # 199 days -> 3 requests
        points = client.get_song_audience(uuid, "spotify", start, end)
        truth = sim_now.catalogue.song_audience(uuid, "spotify", start, end, now=NOW)
        assert len(points) == (end - start).days + 1 == len(truth)
        assert [p.date.date() for p in points] == [date.fromisoformat(t["date"][:10]) for t in truth]
        assert points[0].plots[0].value == truth[0]["plots"][0]["value"]
        calls = sim_now.state.calls("song_audience")
        assert len(calls) == 3
        assert all(call.status == 200 for call in calls)

    def test_artist_and_artists(self, client, sim_now) -> None:
        songs = [
            sim_now.catalogue.song(item["song"]["uuid"])
            for item in sim_now.catalogue.latest_ranking(CHART, NOW).items[:30]
        ]
        artist_uuids = list(dict.fromkeys(artist["uuid"] for song in songs for artist in song["artists"]))
        assert len(artist_uuids) > 10
        one = client.get_artist(artist_uuids[0])
        assert one.name == sim_now.catalogue.artist(artist_uuids[0])["name"]
        many = client.get_artists(artist_uuids)
        assert [artist.uuid for artist in many] == artist_uuids
        full_batches, rest = divmod(len(artist_uuids), 10)
        assert sim_now.state.call_count("artist_batch") == full_batches + (1 if rest > 1 else 0)

    def test_artist_audience(self, client, sim_now) -> None:
        artist_uuid = sim_now.catalogue.artist_uuid(7)
        start, end = date(2026, 1, 1), date(2026, 11, 1)
        points = client.get_artist_audience(artist_uuid, "spotify", start, end)
        truth = sim_now.catalogue.artist_audience(artist_uuid, "spotify", start, end, now=NOW)
        assert len(points) == len(truth) == 305
        assert points[0].follower_count == truth[0]["followerCount"]
        assert points[0].metrics() == {"follower_count": truth[0]["followerCount"]}  # spotify: followers only
        assert sim_now.state.call_count("artist_audience") == 4  # 305 days = 4 windows of <= 90 days

    def test_team_usage(self, client, sim_now) -> None:
        sim_now.state.set_quota(777)
        usage = client.get_team_usage().model_dump()
        assert usage["remaining"] == 777

    # --- retries, rate limits, quota ----------------------------------------------------------------

    def test_rate_limited_429_waits_the_announced_reset_then_succeeds(self, client, sim_now, clock) -> None:
        sim_now.state.monotonic = clock.monotonic
        sim_now.state.set_rate_limit(2)
        uuid = sim_now.catalogue.song_uuid(5_000)
        for _ in range(3):
            assert client.get_song(uuid).uuid == uuid
        assert sim_now.state.call_count("song", 429) == 1
        assert sim_now.state.call_count("song", 200) == 3
        assert client.stats.rate_limited_waits == 1
        assert client.stats.retries == 0  # a rate-limit wait is not a failure
        assert len(clock.sleeps) == 1
        assert clock.sleeps[0] >= 60  # x-ratelimit-reset said 60 s

    def test_limiter_token_taken_for_every_request_including_retries(self, sim_now, clock) -> None:
        limiter = CountingLimiter()
        sim_now.state.fail("song", 503, times=2)
        client = SoundchartsClient(
            sim_now.base_url, sim_now.app_id, sim_now.api_key, limiter=limiter, sleep=clock.sleep
        )
        client.get_song(sim_now.catalogue.song_uuid(5_000))
        assert limiter.tokens == 3 == sim_now.state.call_count("song")

    def test_5xx_then_success(self, client, sim_now, clock) -> None:
        sim_now.state.fail("ranking", 503, times=1)
        sim_now.state.fail("ranking", 502, times=1)
        ranking = client.get_chart_ranking(CHART)
        assert len(ranking.items) == 200
        assert client.stats.retries == 2
        assert sim_now.state.call_count("ranking", 200) == 2
        assert sim_now.state.call_count("ranking") == 4
        assert len(clock.sleeps) == 2
        assert clock.sleeps[1] >= clock.sleeps[0] / 2  # backoff grows (with jitter)

    def test_5xx_forever_exhausts_retries(self, sim_now, clock) -> None:
        sim_now.state.fail("song", 500, times=None)
        client = SoundchartsClient(
            sim_now.base_url, sim_now.app_id, sim_now.api_key, max_retries=3, sleep=clock.sleep
        )
        with pytest.raises(SoundchartsUnavailable) as caught:
            client.get_song(sim_now.catalogue.song_uuid(5_000))
        assert caught.value.attempts == 4
        assert sim_now.state.call_count("song") == 4

    def test_timeout_then_success(self, sim_now, clock) -> None:
        sim_now.state.slow("song", 2.0, times=1)
        client = SoundchartsClient(
            sim_now.base_url, sim_now.app_id, sim_now.api_key, timeout=(2, 0.3), sleep=clock.sleep
        )
        uuid = sim_now.catalogue.song_uuid(5_000)
        assert client.get_song(uuid).uuid == uuid
        assert client.stats.retries == 1
        assert client.stats.requests == 2

    def test_timeout_retries_exhausted(self, sim_now, clock) -> None:
        sim_now.state.slow("song", 2.0, times=None)
        client = SoundchartsClient(
            sim_now.base_url,
            sim_now.app_id,
            sim_now.api_key,
            timeout=(2, 0.3),
            max_retries=1,
            sleep=clock.sleep,
        )
        with pytest.raises(SoundchartsUnavailable, match="ReadTimeout"):
            client.get_song(sim_now.catalogue.song_uuid(5_000))
        assert client.stats.requests == 2

    def test_401_fails_fast_with_exactly_one_call(self, sim_now, clock) -> None:
        client = SoundchartsClient(sim_now.base_url, sim_now.app_id, "wrong-key", sleep=clock.sleep)
        with pytest.raises(SoundchartsAuthError) as caught:
            client.get_chart_ranking(CHART)
        assert caught.value.status == 401
        assert sim_now.state.call_count() == 1
        assert clock.sleeps == []

    def test_403_fails_fast(self, client, sim_now, clock) -> None:
        sim_now.state.forbid("ranking")
        with pytest.raises(SoundchartsAuthError, match="not included in your plan") as caught:
            client.get_chart_ranking(CHART)
        assert caught.value.status == 403
        assert sim_now.state.call_count("ranking") == 1
        assert clock.sleeps == []

    def test_404_is_typed(self, client, sim_now) -> None:
        uuid = sim_now.catalogue.song_uuid(5_000)
        sim_now.state.not_found(uuid)
        with pytest.raises(SoundchartsNotFound) as caught:
            client.get_song(uuid)
        assert caught.value.resource == "song"
        assert caught.value.identifier == uuid
        with pytest.raises(SoundchartsNotFound) as chart_missing:
            client.get_chart_ranking("no-such-chart")
        assert chart_missing.value.resource == "chart"
        assert sim_now.state.call_count() == 2

    def test_quota_floor_stops_before_sending(self, sim_now, clock) -> None:
        sim_now.state.set_quota(12)
        client = SoundchartsClient(
            sim_now.base_url, sim_now.app_id, sim_now.api_key, quota_floor=10, sleep=clock.sleep
        )
        uuid = sim_now.catalogue.song_uuid(5_000)
        for _ in range(3):  # 11, 10, 9 remaining: the call that crosses the floor is still returned
            assert client.get_song(uuid).uuid == uuid
        assert client.quota_remaining == 9
        sent = sim_now.state.call_count()
        with pytest.raises(SoundchartsQuotaExhausted) as caught:
            client.get_song(uuid)
        assert caught.value.remaining == 9
        assert caught.value.floor == 10
        assert sim_now.state.call_count("song") == 3  # nothing was sent
        assert sim_now.state.call_count() == sent == 4  # the free usage call first, then the three songs

    def test_quota_floor_stops_a_fresh_client_before_its_first_call(self, sim_now, clock) -> None:
        # Other tasks spent the quota: a new client (as every task builds) must not send a billable call.
        sim_now.state.set_quota(9)
        client = SoundchartsClient(
            sim_now.base_url, sim_now.app_id, sim_now.api_key, quota_floor=10, sleep=clock.sleep
        )
        with pytest.raises(SoundchartsQuotaExhausted, match="9 calls remaining, floor is 10"):
            client.get_chart_ranking("global-28")
        assert sim_now.state.counts_by_endpoint() == {"usage": 1}
        assert sim_now.state.quota_remaining == 9

    def test_threads_sharing_a_fresh_client_wait_for_its_one_quota_probe(self, sim_now, clock) -> None:
        # The history import fetches through one client from several threads at once: below the floor,
        # none of them may send a billable call while the first one's probe is still out.
        sim_now.state.set_quota(9)
        client = SoundchartsClient(
            sim_now.base_url, sim_now.app_id, sim_now.api_key, quota_floor=10, sleep=clock.sleep
        )
        uuids = [sim_now.catalogue.song_uuid(5_000 + index) for index in range(6)]
        start_together = threading.Barrier(len(uuids))

        def fetch(uuid: str) -> str:
            start_together.wait()
            try:
                client.get_song(uuid)
            except SoundchartsQuotaExhausted:
                return "refused"
            return "sent"

        with ThreadPoolExecutor(max_workers=len(uuids)) as pool:
            assert list(pool.map(fetch, uuids)) == ["refused"] * len(uuids)
        assert sim_now.state.counts_by_endpoint() == {"usage": 1}

    def test_quota_429_raises_quota_exhausted(self, client, sim_now, clock) -> None:
        sim_now.state.set_quota(0)
        with pytest.raises(SoundchartsQuotaExhausted, match="Maximum quota reached") as caught:
            client.get_song(sim_now.catalogue.song_uuid(5_000))
        assert caught.value.status == 429
        assert sim_now.state.call_count() == 1
        assert clock.sleeps == []

    # --- malformed responses ------------------------------------------------------------------------

    def test_truncated_json_raises_response_error_naming_endpoint(self, client, sim_now) -> None:
        sim_now.state.truncate("ranking")
        with pytest.raises(SoundchartsResponseError, match="malformed JSON") as caught:
            client.get_chart_ranking(CHART)
        assert caught.value.endpoint == f"/api/v2.14/chart/song/{CHART}/ranking/latest"
        assert caught.value.endpoint in str(caught.value)

    def test_schema_drift_raises_response_error_naming_field(self, client, sim_now) -> None:
        uuid = sim_now.catalogue.song_uuid(5_000)
        sim_now.state.drift("ranking", rename={"position": "rank"})
        with pytest.raises(SoundchartsResponseError) as caught:
            client.get_chart_ranking(CHART)
        assert "items.0.position" in str(caught.value)
        assert f"/api/v2.14/chart/song/{CHART}/ranking/latest" in str(caught.value)
        assert "items.0.position" in caught.value.fields
        sim_now.state.drift("song", remove=["object"])
        with pytest.raises(SoundchartsResponseError, match="object"):
            client.get_song(uuid)

    # --- secrets --------------------------------------------------------------------------------------

    def test_api_key_never_logged(self, sim_now, clock, caplog) -> None:
        secret = "sk-live-0123456789-supersecret"
        sim_now.state.set_credentials("my-app", secret)
        sim_now.state.fail("ranking", 503, times=1)
        sim_now.state.slow("song", 2.0, times=1)
        caplog.set_level(logging.DEBUG)
        client = SoundchartsClient(sim_now.base_url, "my-app", secret, timeout=(2, 0.3), sleep=clock.sleep)
        client.get_chart_ranking(CHART)
        client.get_song(sim_now.catalogue.song_uuid(5_000))
        bad = SoundchartsClient(sim_now.base_url, "my-app", secret + "x", sleep=clock.sleep)
        with pytest.raises(SoundchartsAuthError) as caught:
            bad.get_song(sim_now.catalogue.song_uuid(5_000))
        assert caplog.records, "the client logs its requests"
        assert "GET /api/v2.14/chart/song/global-28/ranking/latest" in caplog.text
        assert secret not in caplog.text
        assert secret not in str(caught.value)
        assert secret not in repr(client)


class FakeSession:
    """Answers every GET with 200 ``{}`` and the quota header ``quota(call number)``; ``hold(n)`` makes call
    ``n`` wait until released (to let a later request's response be read first)."""

    def __init__(self, quota=lambda number: 1_000_000 - number) -> None:
        self.headers: dict[str, str] = {}
        self._quota = quota
        self._lock = threading.Lock()
        self._calls = 0
        self.held: dict[int, tuple[threading.Event, threading.Event]] = {}

    def hold(self, number: int) -> tuple[threading.Event, threading.Event]:
        self.held[number] = (threading.Event(), threading.Event())  # (arrived, release)
        return self.held[number]

    def get(self, url, params=None, timeout=None) -> requests.Response:
        with self._lock:
            self._calls += 1
            number = self._calls
        if number in self.held:
            arrived, release = self.held[number]
            arrived.set()
            assert release.wait(30)
        response = requests.Response()
        response.status_code = 200
        response._content = b"{}"
        response.headers["x-quota-remaining"] = str(self._quota(number))
        return response

    def close(self) -> None:
        pass


def fake_client(session: FakeSession) -> SoundchartsClient:
    return SoundchartsClient("http://soundcharts.invalid", "app", "key", session=session)  # type: ignore[arg-type]


def test_threads_sharing_a_client_count_every_request_exactly() -> None:
    # The history import's fetch threads share one client: no request may go uncounted.
    client = fake_client(FakeSession())
    threads, calls = 8, 400

    def fetch(thread: int) -> None:
        for _ in range(calls):
            client._request("ranking" if thread % 2 else "song", "/path")

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(fetch, range(threads)))
    assert client.stats.requests == threads * calls
    assert client.stats.by_endpoint == {"ranking": threads * calls // 2, "song": threads * calls // 2}
    assert client.quota_remaining == 1_000_000 - threads * calls  # the last request's figure


def test_a_response_read_late_does_not_overwrite_a_newer_quota_figure() -> None:
    session = FakeSession(quota=lambda number: {1: 100, 2: 99}[number])
    arrived, release = session.hold(1)
    client = fake_client(session)
    with ThreadPoolExecutor(max_workers=1) as pool:
        older = pool.submit(client._request, "song", "/first")  # sent first, answered last
        assert arrived.wait(30)
        client._request("song", "/second")
        assert client.quota_remaining == 99
        release.set()
        older.result(timeout=30)
    assert client.quota_remaining == 99, "the figure of the request sent later stays"
