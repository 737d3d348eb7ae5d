"""In the runtimes the project ships, several processes call the API: the hook then refuses an in-process
rate limiter (each process would send the full rate) instead of using one silently."""

from __future__ import annotations

import json

import pytest
from airflow.sdk.exceptions import AirflowFailException

from musiccharts_airflow.hooks.soundcharts import (
    RATE_LIMIT_REDIS_URL_ENV,
    SHARED_LIMIT_REQUIRED_ENV,
    SoundchartsHook,
)
from musiccharts_airflow.rate_limit import LocalRateLimiter, RedisRateLimiter

pytestmark = pytest.mark.integration


@pytest.fixture
def connection(sim, monkeypatch):
    monkeypatch.delenv(RATE_LIMIT_REDIS_URL_ENV, raising=False)

    def set_connection(**extra) -> None:
        conn = {"conn_type": "soundcharts", "host": sim.base_url, "login": "soundcharts",
                "password": "soundcharts", "extra": extra}  # fmt: skip
        monkeypatch.setenv("AIRFLOW_CONN_SOUNDCHARTS_DEFAULT", json.dumps(conn))

    return set_connection


def test_a_shipped_runtime_without_redis_refuses_the_in_process_limiter(connection, monkeypatch):
    connection(requests_per_minute=600)
    monkeypatch.setenv(SHARED_LIMIT_REQUIRED_ENV, "true")
    with pytest.raises(AirflowFailException, match=RATE_LIMIT_REDIS_URL_ENV):
        SoundchartsHook().get_conn()


def test_a_shipped_runtime_with_redis_uses_the_shared_limiter(connection, monkeypatch, redis_url):
    connection(requests_per_minute=600)
    monkeypatch.setenv(SHARED_LIMIT_REQUIRED_ENV, "true")
    monkeypatch.setenv(RATE_LIMIT_REDIS_URL_ENV, redis_url)
    assert isinstance(SoundchartsHook().get_conn().limiter, RedisRateLimiter)


def test_a_single_process_use_keeps_the_in_process_limiter(connection, monkeypatch):
    connection(requests_per_minute=600)
    monkeypatch.delenv(SHARED_LIMIT_REQUIRED_ENV, raising=False)
    assert isinstance(SoundchartsHook().get_conn().limiter, LocalRateLimiter)


def test_make_run_environment_requires_the_shared_limiter(tmp_path):
    from musiccharts_stack.native import NativeStack, PostgresParts

    env = NativeStack(workdir=tmp_path, postgres=PostgresParts("db")).environment()
    assert env[SHARED_LIMIT_REQUIRED_ENV] == "true"
