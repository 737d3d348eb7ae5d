"""Request-rate limiters shared by every task, process and Celery worker that calls one external API.

Airflow pools cap how many tasks run at once, not how many requests they send per minute, so every hook
also takes a token here before each HTTP request. With a Redis URL the limit is cluster-wide (one Redis key
per API); without one each process gets its own in-process limiter (logged once, since N processes then
send up to N times the rate).

Algorithm: GCRA (the "generic cell rate algorithm", a token bucket that stores one timestamp), run as one
Lua script, so the check-and-take is atomic in Redis and uses Redis's clock (no skew between workers).
It was chosen over the ``limits`` library's moving window because a moving window lets a whole minute's
budget go out in one burst at the start of every window; GCRA spaces requests evenly at the target rate,
which is what an API that counts "requests in the last 60 s" wants to see, and needs one round trip.

Guarantee: with ``requests_per_minute = R`` and burst ``B`` the emission interval is
``T = (window + margin) / (R - B + 1)``; any ``window`` seconds then hold at most ``floor(window / T) + B``
grants, which is <= R. The margin (default 1 s) absorbs network jitter between the grant and the request's
arrival at the server, so a server counting per minute never sees more than R. The steady rate is
``R * window / (window + margin)`` (98 % of R for a 60 s window).
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable
from typing import Protocol

__all__ = [
    "DEFAULT_KEY_PREFIX",
    "LocalRateLimiter",
    "RateLimitTimeout",
    "RateLimiter",
    "RedisRateLimiter",
    "UnlimitedRateLimiter",
    "build_rate_limiter",
]

log = logging.getLogger(__name__)

DEFAULT_KEY_PREFIX = "musiccharts:ratelimit"

# KEYS[1] = the API's key. ARGV: emission interval T and burst tolerance tau, both in microseconds.
# Returns {1, now} when a request may go now (now = Redis time in microseconds), else {0, wait}.
_GCRA_LUA = """
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then
    tat = now
end
local allowed_at = tat - tolerance
if now < allowed_at then
    return {0, allowed_at - now}
end
local new_tat = tat + interval
local ttl_ms = math.ceil((new_tat - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', ttl_ms)
return {1, now}
"""


class RateLimitTimeout(TimeoutError):
    """No request slot became free within the caller's timeout."""


class RateLimiter(Protocol):
    def acquire(self, timeout: float | None = None) -> float: ...


def _gcra_parameters(
    requests_per_minute: int, window_seconds: float, margin_seconds: float, burst: int
) -> tuple[float, float]:
    """Emission interval and burst tolerance (seconds) that keep any window at most R requests."""
    if requests_per_minute < 1:
        raise ValueError(f"requests_per_minute must be >= 1, got {requests_per_minute}")
    if not 1 <= burst <= requests_per_minute:
        raise ValueError(f"burst must be between 1 and requests_per_minute, got {burst}")
    if window_seconds <= 0 or margin_seconds < 0:
        raise ValueError("window_seconds must be > 0 and margin_seconds >= 0")
    interval = (window_seconds + margin_seconds) / (requests_per_minute - burst + 1)
    return interval, (burst - 1) * interval


class _BlockingLimiter:
    """``acquire`` on top of a non-blocking ``_try_acquire`` returning 0 (granted) or seconds to wait."""

    api: str
    interval: float

    def __init__(self, sleep: Callable[[float], None], clock: Callable[[], float]) -> None:
        self._sleep = sleep
        self._clock = clock
        #: Grants and total seconds spent waiting, for benchmarks and logs.
        self.grants = 0
        self.waited_seconds = 0.0

    def _try_acquire(self) -> float:
        raise NotImplementedError

    def acquire(self, timeout: float | None = None) -> float:
        """Block until one request may be sent; return the seconds waited.

        Raises :class:`RateLimitTimeout` if that would take longer than ``timeout`` seconds.
        """
        started = self._clock()
        while True:
            wait = self._try_acquire()
            if wait <= 0:
                waited = self._clock() - started
                self.grants += 1
                self.waited_seconds += waited
                return waited
            # A little jitter so waiters sharing one limit do not all wake at the same instant.
            wait += random.uniform(0, min(self.interval * 0.1, 0.01))
            elapsed = self._clock() - started
            if timeout is not None and elapsed + wait > timeout:
                raise RateLimitTimeout(
                    f"no {self.api} request slot within {timeout:.1f} s (next one in {wait:.1f} s)"
                )
            self._sleep(wait)


class RedisRateLimiter(_BlockingLimiter):
    """Cluster-wide limit of ``requests_per_minute`` for ``api``, shared through Redis (GCRA, atomic).

    ``window_seconds`` is the counting window of the server's limit (60 for "per minute"; tests shrink
    it to run fast). If Redis is unreachable, ``acquire`` keeps trying until its timeout rather than
    sending unlimited requests.
    """

    def __init__(
        self,
        api: str,
        requests_per_minute: int,
        redis_url: str,
        *,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        window_seconds: float = 60.0,
        margin_seconds: float = 1.0,
        burst: int = 1,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import redis  # local import: DAG files importing this module stay cheap to parse

        super().__init__(sleep, time.monotonic)
        self.api = api
        self.requests_per_minute = requests_per_minute
        self.interval, self.tolerance = _gcra_parameters(
            requests_per_minute, window_seconds, margin_seconds, burst
        )
        self.key = f"{key_prefix}:{api}"
        self._redis_errors = (redis.RedisError, OSError)
        self._client = redis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
        # Script objects re-load themselves after a Redis restart (NOSCRIPT), so nothing breaks then.
        self._script = self._client.register_script(_GCRA_LUA)
        self._interval_us = max(1, math.ceil(self.interval * 1_000_000))
        self._tolerance_us = math.floor(self.tolerance * 1_000_000)
        self.last_grant_time: float | None = None

    def __repr__(self) -> str:
        return f"RedisRateLimiter(api={self.api!r}, requests_per_minute={self.requests_per_minute})"

    def _try_acquire(self) -> float:
        try:
            granted, value = self._script(keys=[self.key], args=[self._interval_us, self._tolerance_us])
        except self._redis_errors as error:
            log.warning("rate limiter for %s cannot reach Redis (%s); retrying", self.api, error)
            return 0.5
        if int(granted) == 1:
            self.last_grant_time = int(value) / 1_000_000  # Redis clock, seconds since the epoch
            return 0.0
        return max(int(value), 1) / 1_000_000

    def reset(self) -> None:
        """Forget the limit's state (tests and benchmarks start from a clean slate)."""
        self._client.delete(self.key)

    def close(self) -> None:
        self._client.close()


class LocalRateLimiter(_BlockingLimiter):
    """The same GCRA in one process (thread-safe): for runs without Redis, where it limits this process."""

    def __init__(
        self,
        api: str,
        requests_per_minute: int,
        *,
        window_seconds: float = 60.0,
        margin_seconds: float = 1.0,
        burst: int = 1,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(sleep, clock)
        self.api = api
        self.requests_per_minute = requests_per_minute
        self.interval, self.tolerance = _gcra_parameters(
            requests_per_minute, window_seconds, margin_seconds, burst
        )
        self._lock = threading.Lock()
        self._theoretical_arrival = -math.inf
        self.last_grant_time: float | None = None

    def __repr__(self) -> str:
        return f"LocalRateLimiter(api={self.api!r}, requests_per_minute={self.requests_per_minute})"

    def _try_acquire(self) -> float:
        with self._lock:
            now = self._clock()
            arrival = max(self._theoretical_arrival, now)
            allowed_at = arrival - self.tolerance
            if now < allowed_at:
                return allowed_at - now
            self._theoretical_arrival = arrival + self.interval
            self.last_grant_time = now
            return 0.0


class UnlimitedRateLimiter:
    """No limit configured: ``acquire`` returns at once."""

    api: str

    def __init__(self, api: str) -> None:
        self.api = api

    def __repr__(self) -> str:
        return f"UnlimitedRateLimiter(api={self.api!r})"

    def acquire(self, timeout: float | None = None) -> float:
        return 0.0


_warned_local: set[str] = set()
_warned_lock = threading.Lock()


def build_rate_limiter(
    api: str,
    requests_per_minute: int | None,
    redis_url: str | None,
    *,
    key_prefix: str = DEFAULT_KEY_PREFIX,
    window_seconds: float = 60.0,
    margin_seconds: float = 1.0,
    burst: int = 1,
) -> RedisRateLimiter | LocalRateLimiter | UnlimitedRateLimiter:
    """The limiter for ``api``: shared through Redis when ``redis_url`` is set, else in-process.

    ``requests_per_minute`` None (or 0) means no limit. The in-process fallback is logged once per API.
    """
    if not requests_per_minute:
        return UnlimitedRateLimiter(api)
    if redis_url:
        return RedisRateLimiter(
            api,
            requests_per_minute,
            redis_url,
            key_prefix=key_prefix,
            window_seconds=window_seconds,
            margin_seconds=margin_seconds,
            burst=burst,
        )
    with _warned_lock:
        if api not in _warned_local:
            _warned_local.add(api)
            log.warning(
                "no Redis URL configured for the %s rate limit: using an in-process limiter of %d "
                "requests/minute, which does not coordinate with other processes or workers",
                api,
                requests_per_minute,
            )
    return LocalRateLimiter(
        api,
        requests_per_minute,
        window_seconds=window_seconds,
        margin_seconds=margin_seconds,
        burst=burst,
    )
