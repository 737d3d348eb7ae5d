"""SoundchartsHook built from an Airflow connection (AIRFLOW_CONN_SOUNDCHARTS_DEFAULT, JSON form)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from airflow.sdk.exceptions import AirflowFailException
from airflow.sdk.log import redact

from musiccharts_airflow.hooks.soundcharts import (
    RATE_LIMIT_REDIS_URL_ENV,
    SoundchartsAuthFailed,
    SoundchartsHook,
    SoundchartsQuotaFailed,
)
from musiccharts_airflow.rate_limit import LocalRateLimiter, RedisRateLimiter, UnlimitedRateLimiter

NOW = datetime(2026, 11, 29, 13, 0, tzinfo=UTC)
API_KEY = "hook-test-api-key-5f2b9c"


@pytest.fixture
def connection_env(sim, monkeypatch):
    """Point ``soundcharts_default`` at the simulator with a distinctive api key; returns a setter."""
    sim.state.set_now(NOW)
    sim.state.set_credentials("hook-app", API_KEY)
    monkeypatch.delenv(RATE_LIMIT_REDIS_URL_ENV, raising=False)

    def set_connection(password: str = API_KEY, **extra) -> None:
        conn = {
            "conn_type": "soundcharts",
            "host": sim.base_url,
            "login": "hook-app",
            "password": password,
            "extra": {"timeout": [2, 5], "max_retries": 2, **extra},
        }
        monkeypatch.setenv("AIRFLOW_CONN_SOUNDCHARTS_DEFAULT", json.dumps(conn))

    set_connection()
    return set_connection


def test_constructor_does_no_io_and_client_is_built_once(sim, connection_env) -> None:
    hook = SoundchartsHook()
    assert sim.state.call_count() == 0
    client = hook.get_conn()
    assert client is hook.get_conn()
    assert client.base_url == sim.base_url
    assert client.timeout == (2.0, 5.0)
    assert client.max_retries == 2
    assert isinstance(client.limiter, UnlimitedRateLimiter)
    assert sim.state.call_count() == 0


def test_hook_fetches_a_whole_ranking(sim, connection_env) -> None:
    hook = SoundchartsHook(sleep=lambda seconds: None)
    ranking = hook.get_chart_ranking("global-28")
    assert len(ranking.items) == 200
    assert ranking.date == datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    assert hook.stats.requests == 2
    assert sim.state.call_count("ranking", 200) == 2


def test_api_key_is_masked(sim, connection_env) -> None:
    SoundchartsHook().get_conn()
    assert API_KEY not in str(redact(f"calling with key {API_KEY}"))


def test_rate_limit_extras_build_the_limiter(sim, connection_env, redis_url, monkeypatch) -> None:
    connection_env(requests_per_minute=600)
    local = SoundchartsHook().get_conn().limiter
    assert isinstance(local, LocalRateLimiter)
    assert local.requests_per_minute == 600

    connection_env(requests_per_minute="300", rate_limit_redis_url=redis_url)
    shared = SoundchartsHook().get_conn().limiter
    assert isinstance(shared, RedisRateLimiter)
    assert shared.requests_per_minute == 300

    connection_env(requests_per_minute=120)
    monkeypatch.setenv(RATE_LIMIT_REDIS_URL_ENV, redis_url)
    from_env = SoundchartsHook().get_conn().limiter
    assert isinstance(from_env, RedisRateLimiter)
    assert from_env.key == "musiccharts:ratelimit:soundcharts"


def test_auth_error_becomes_airflow_fail_exception(sim, connection_env) -> None:
    connection_env(password="not-the-key")
    hook = SoundchartsHook()
    with pytest.raises(AirflowFailException) as caught:
        hook.get_song(sim.catalogue.song_uuid(5_000))
    assert isinstance(caught.value, SoundchartsAuthFailed)
    assert "HTTP 401" in str(caught.value)
    assert sim.state.call_count() == 1


def test_forbidden_endpoint_becomes_airflow_fail_exception(sim, connection_env) -> None:
    sim.state.forbid("ranking")
    with pytest.raises(SoundchartsAuthFailed, match="HTTP 403"):
        SoundchartsHook().get_chart_ranking("global-28")


def test_quota_floor_becomes_airflow_fail_exception(sim, connection_env) -> None:
    connection_env(quota_floor=5)
    sim.state.set_quota(5)
    hook = SoundchartsHook()
    uuid = sim.catalogue.song_uuid(5_000)
    assert hook.get_song(uuid).uuid == uuid  # 4 remaining: below the floor from now on
    with pytest.raises(SoundchartsQuotaFailed, match="floor"):
        hook.get_song(uuid)
    assert sim.state.call_count("song") == 1


def test_quota_floor_stops_a_fresh_task_before_its_first_call(sim, connection_env) -> None:
    connection_env(quota_floor=100)
    sim.state.set_quota(99)  # spent by other tasks: this hook has never seen a response yet
    with pytest.raises(SoundchartsQuotaFailed, match="99 calls remaining, floor is 100"):
        SoundchartsHook().get_chart_ranking("global-28")
    assert sim.state.counts_by_endpoint() == {"usage": 1}


def test_test_connection(sim, connection_env) -> None:
    ok, message = SoundchartsHook().test_connection()
    assert ok, message
    assert sim.state.calls("usage")
    connection_env(password="not-the-key")
    ok, message = SoundchartsHook().test_connection()
    assert not ok
    assert "401" in message
    assert "not-the-key" not in message
