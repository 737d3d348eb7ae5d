"""The shared rate limiter: processes sharing one Redis limit never exceed it; the in-process fallback."""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
import uuid
from bisect import bisect_left

import pytest

from musiccharts_airflow import rate_limit
from musiccharts_airflow.rate_limit import (
    LocalRateLimiter,
    RateLimitTimeout,
    RedisRateLimiter,
    UnlimitedRateLimiter,
    build_rate_limiter,
)

# Window-scaled limits so a run takes seconds: "LIMIT per WINDOW seconds" plays "R per minute".
WINDOW = 2.0
LIMIT = 10
MARGIN = 0.1
RUN_SECONDS = 5.0
PROCESSES = 4


def max_in_any_window(grant_times: list[float], window: float) -> int:
    """Most grants in any half-open window ``[t, t + window)`` (how a per-window server counts)."""
    ordered = sorted(grant_times)
    best = 0
    for index, start in enumerate(ordered):
        best = max(best, bisect_left(ordered, start + window) - index)
    return best


def _hammer(redis_url: str, key_prefix: str, start_at: float, stop_at: float, results) -> None:
    """Child process: take tokens as fast as the shared limit allows; report Redis-clock grant times."""
    limiter = RedisRateLimiter(
        "test-api", LIMIT, redis_url, key_prefix=key_prefix, window_seconds=WINDOW, margin_seconds=MARGIN
    )
    time.sleep(max(0.0, start_at - time.time()))
    grants = []
    while time.time() < stop_at:
        try:
            limiter.acquire(timeout=max(0.01, stop_at - time.time()))
        except RateLimitTimeout:
            break
        grants.append(limiter.last_grant_time)
    results.put(grants)


def test_processes_sharing_one_redis_limit_never_exceed_it(redis_url) -> None:
    key_prefix = f"test-ratelimit-{uuid.uuid4().hex}"
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    start_at = time.time() + 3.0  # spawned interpreters need a moment to start
    stop_at = start_at + RUN_SECONDS
    workers = [
        context.Process(target=_hammer, args=(redis_url, key_prefix, start_at, stop_at, results))
        for _ in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    per_process = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    grants = [moment for grants in per_process for moment in grants]

    assert max_in_any_window(grants, WINDOW) <= LIMIT
    # Slots were reused after the window moved on, and every process got some: a shared, live limit.
    assert len(grants) > LIMIT
    assert all(per_process), [len(grants) for grants in per_process]
    RedisRateLimiter("test-api", LIMIT, redis_url, key_prefix=key_prefix).reset()


def test_redis_limiter_timeout_raises(redis_url) -> None:
    limiter = RedisRateLimiter(
        "timeout-api", 1, redis_url, key_prefix=f"test-ratelimit-{uuid.uuid4().hex}", window_seconds=30
    )
    try:
        assert limiter.acquire(timeout=1) == pytest.approx(0, abs=0.5)
        with pytest.raises(RateLimitTimeout):
            limiter.acquire(timeout=0.2)
    finally:
        limiter.reset()


def test_build_rate_limiter_picks_the_implementation(redis_url, caplog) -> None:
    assert isinstance(build_rate_limiter("a", None, redis_url), UnlimitedRateLimiter)
    assert isinstance(build_rate_limiter("a", 60, redis_url), RedisRateLimiter)
    rate_limit._warned_local.discard("fallback-api")
    with caplog.at_level(logging.WARNING, logger=rate_limit.__name__):
        first = build_rate_limiter("fallback-api", 60, None)
        second = build_rate_limiter("fallback-api", 60, None)
    assert isinstance(first, LocalRateLimiter)
    assert isinstance(second, LocalRateLimiter)
    fallback_logs = [r for r in caplog.records if "in-process limiter" in r.getMessage()]
    assert len(fallback_logs) == 1  # logged once per API


def test_in_process_fallback_shared_by_threads_never_exceeds_the_limit() -> None:
    limiter = build_rate_limiter("threads-api", 5, None, window_seconds=1.0, margin_seconds=0.05)
    assert isinstance(limiter, LocalRateLimiter)
    grants: list[float] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + 2.5

    def hammer() -> None:
        while time.monotonic() < stop_at:
            try:
                limiter.acquire(timeout=max(0.01, stop_at - time.monotonic()))
            except RateLimitTimeout:
                return
            with lock:
                grants.append(limiter.last_grant_time)

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert max_in_any_window(grants, 1.0) <= 5
    assert len(grants) > 5


def test_local_limiter_spacing_with_a_fake_clock() -> None:
    now = [0.0]
    limiter = LocalRateLimiter(
        "fake", 60, window_seconds=60, margin_seconds=1, clock=lambda: now[0], sleep=lambda s: None
    )
    assert limiter.interval == pytest.approx(61 / 60)
    assert limiter._try_acquire() == 0
    assert limiter._try_acquire() == pytest.approx(61 / 60)  # must wait one interval
    now[0] = 61 / 60
    assert limiter._try_acquire() == 0


def test_burst_keeps_the_window_guarantee() -> None:
    with pytest.raises(ValueError, match="burst"):
        LocalRateLimiter("x", 5, burst=6)
    now = [0.0]
    limiter = LocalRateLimiter("x", 10, burst=4, window_seconds=10, margin_seconds=0.5, clock=lambda: now[0])
    grant_times = []
    while now[0] < 40:
        if limiter._try_acquire() == 0:
            grant_times.append(now[0])
        else:
            now[0] += 0.01
    assert grant_times[:4] == [0.0, 0.0, 0.0, 0.0]  # the burst goes out at once
    assert max_in_any_window(grant_times, 10) <= 10
