"""Simulator knobs shared by the app and the tests: credentials, quota, rate limit, faults, clock, log.

One :class:`SimulatorState` is shared by every request thread and by the test that drives the server, so
every mutation goes through one lock. :meth:`SimulatorState.reset` puts everything back to how the state was
constructed (the ``sim`` pytest fixture calls it before each test).
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = ["Fault", "RequestInfo", "RequestRecord", "SimulatorState"]

FaultKind = Literal["status", "slow", "truncate", "drift"]


@dataclass(frozen=True)
class RequestInfo:
    """What a fault predicate sees: the endpoint name, path, query and path parameters of a request."""

    method: str
    path: str
    query: dict[str, str]
    endpoint: str
    params: dict[str, str]


@dataclass
class Fault:
    """An injected misbehaviour for requests to ``endpoint`` ("*" = every endpoint).

    ``times`` is how many matching requests it hits (None = every one). ``when`` narrows the matching
    requests further (e.g. ``lambda request: request.params.get("uuid") == some_uuid``).
    kinds: ``status`` (answer ``status`` with an error body), ``slow`` (sleep ``seconds`` then answer
    normally), ``truncate`` (status 200, the JSON body cut after ``fraction`` of its bytes), ``drift``
    (rename keys per ``rename`` and drop keys in ``remove``, anywhere in the payload).
    """

    endpoint: str
    kind: FaultKind
    times: int | None = 1
    when: Callable[[RequestInfo], bool] | None = None
    status: int = 500
    message: str | None = None
    seconds: float = 0.0
    fraction: float = 0.5
    rename: dict[str, str] = field(default_factory=dict)
    remove: tuple[str, ...] = ()
    hits: int = 0

    def matches(self, request: RequestInfo) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.endpoint not in ("*", request.endpoint):
            return False
        return self.when is None or bool(self.when(request))


@dataclass(frozen=True)
class RequestRecord:
    """One logged request. ``time`` is wall-clock UTC; the api key is never recorded."""

    method: str
    path: str
    query: str
    status: int
    time: datetime
    endpoint: str
    duration_ms: float


class SimulatorState:
    """Knobs, counters and the request log of one simulator. Thread-safe."""

    def __init__(
        self,
        *,
        app_id: str = "soundcharts",
        api_key: str = "soundcharts",
        quota: int = 1_000_000,
        rate_limit_per_minute: int | None = None,
        now: datetime | Callable[[], datetime] | None = None,
        max_song_batch: int = 10,
        max_artist_batch: int = 10,
        lenient_ranking_dates: bool = False,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.RLock()
        self._initial = {
            "app_id": app_id,
            "api_key": api_key,
            "quota": quota,
            "rate_limit_per_minute": rate_limit_per_minute,
            "now": now,
            "max_song_batch": max_song_batch,
            "max_artist_batch": max_artist_batch,
            "lenient_ranking_dates": lenient_ranking_dates,
            "monotonic": monotonic,
        }
        self.reset()

    def reset(self) -> None:
        """Back to the constructor's settings: clear the log, faults, missing uuids, quota and rate window."""
        with self._lock:
            initial = self._initial
            self.app_id: str = initial["app_id"]
            self.api_key: str = initial["api_key"]
            self.quota_total: int = initial["quota"]
            self.quota_remaining: int = initial["quota"]
            self.rate_limit_per_minute: int | None = initial["rate_limit_per_minute"]
            self.max_song_batch: int = initial["max_song_batch"]
            self.max_artist_batch: int = initial["max_artist_batch"]
            # Strict by default: a ranking datetime that is not a published ranking's own datetime is 404.
            self.lenient_ranking_dates: bool = initial["lenient_ranking_dates"]
            self._clock = initial["now"]
            # The rate-limit window runs on this clock; tests may swap in a fake one.
            self.monotonic: Callable[[], float] = initial["monotonic"]
            self.faults: list[Fault] = []
            self.missing_uuids: set[str] = set()
            self.log: list[RequestRecord] = []
            self._window: deque[float] = deque()

    # --- clock ------------------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The simulator's "now": a fixed datetime, a callable, or the real UTC clock."""
        clock = self._clock
        if clock is None:
            return datetime.now(UTC)
        if callable(clock):
            return clock()
        return clock

    def set_now(self, now: datetime | Callable[[], datetime] | None) -> None:
        """Pin the clock (tz-aware datetime), make it a callable, or None for the real clock."""
        if isinstance(now, datetime) and now.tzinfo is None:
            raise ValueError("the simulator clock needs a timezone-aware datetime")
        with self._lock:
            self._clock = now

    # --- credentials, quota, rate limit ------------------------------------------------------------------

    def set_credentials(self, app_id: str, api_key: str) -> None:
        with self._lock:
            self.app_id, self.api_key = app_id, api_key

    def check_credentials(self, app_id: str | None, api_key: str | None) -> bool:
        with self._lock:
            return app_id == self.app_id and api_key == self.api_key

    def set_quota(self, remaining: int) -> None:
        with self._lock:
            self.quota_remaining = remaining

    def reserve_quota(self) -> bool:
        """Take one call from the quota; False (nothing taken) when it is exhausted."""
        with self._lock:
            if self.quota_remaining <= 0:
                return False
            self.quota_remaining -= 1
            return True

    def refund_quota(self) -> None:
        """Give a reserved call back: a failed request is not counted."""
        with self._lock:
            self.quota_remaining += 1

    def set_rate_limit(self, per_minute: int | None) -> None:
        with self._lock:
            self.rate_limit_per_minute = per_minute
            self._window.clear()

    def acquire_rate_slot(self) -> int | None:
        """Count a request in the sliding 60 s window: None if allowed, else seconds until a slot frees."""
        with self._lock:
            limit = self.rate_limit_per_minute
            if limit is None:
                return None
            now = self.monotonic()
            window = self._window
            while window and window[0] <= now - 60.0:
                window.popleft()
            if len(window) >= limit:
                return max(1, math.ceil(window[0] + 60.0 - now))
            window.append(now)
            return None

    def requests_in_window(self) -> int:
        with self._lock:
            now = self.monotonic()
            return sum(1 for moment in self._window if moment > now - 60.0)

    # --- faults ---------------------------------------------------------------------------------------------

    def add_fault(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def fail(
        self,
        endpoint: str = "*",
        status: int = 500,
        *,
        times: int | None = 1,
        when: Callable[[RequestInfo], bool] | None = None,
        message: str | None = None,
    ) -> Fault:
        """Answer ``status`` (500/502/503, 403, 404...) with an error body."""
        return self.add_fault(Fault(endpoint, "status", times, when, status=status, message=message))

    def forbid(self, endpoint: str = "*", *, times: int | None = None) -> Fault:
        """403: the endpoint is not included in the plan."""
        return self.fail(endpoint, 403, times=times, message="This endpoint is not included in your plan")

    def slow(
        self,
        endpoint: str = "*",
        seconds: float = 5.0,
        *,
        times: int | None = 1,
        when: Callable[[RequestInfo], bool] | None = None,
    ) -> Fault:
        """Sleep ``seconds`` before answering normally (to exceed client timeouts)."""
        return self.add_fault(Fault(endpoint, "slow", times, when, seconds=seconds))

    def truncate(
        self,
        endpoint: str = "*",
        *,
        fraction: float = 0.5,
        times: int | None = 1,
        when: Callable[[RequestInfo], bool] | None = None,
    ) -> Fault:
        """Status 200 with the JSON body cut mid-way."""
        return self.add_fault(Fault(endpoint, "truncate", times, when, fraction=fraction))

    def drift(
        self,
        endpoint: str = "*",
        *,
        rename: dict[str, str] | None = None,
        remove: Iterable[str] = (),
        times: int | None = 1,
        when: Callable[[RequestInfo], bool] | None = None,
    ) -> Fault:
        """Schema drift, e.g. ``rename={"position": "rank"}`` or ``remove=["items"]`` (at any depth)."""
        return self.add_fault(
            Fault(endpoint, "drift", times, when, rename=dict(rename or {}), remove=tuple(remove))
        )

    def not_found(self, *uuids: str) -> None:
        """Make songs/artists unknown: 404 on single lookups, left out of batch answers."""
        with self._lock:
            self.missing_uuids.update(value.lower() for value in uuids)

    def is_missing(self, value: str) -> bool:
        with self._lock:
            return value.lower() in self.missing_uuids

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()
            self.missing_uuids.clear()

    def take_fault(self, request: RequestInfo, kinds: Iterable[str]) -> Fault | None:
        """The first live fault of one of ``kinds`` matching ``request``; counts it as used."""
        kinds = tuple(kinds)
        with self._lock:
            for fault in self.faults:
                if fault.kind in kinds and fault.matches(request):
                    fault.hits += 1
                    return fault
        return None

    # --- request log -----------------------------------------------------------------------------------

    def record(self, record: RequestRecord) -> None:
        with self._lock:
            self.log.append(record)

    def calls(self, endpoint: str | None = None, status: int | None = None) -> list[RequestRecord]:
        """Logged requests, optionally only one endpoint's and/or one status's."""
        with self._lock:
            return [
                entry
                for entry in self.log
                if (endpoint is None or entry.endpoint == endpoint)
                and (status is None or entry.status == status)
            ]

    def call_count(self, endpoint: str | None = None, status: int | None = None) -> int:
        return len(self.calls(endpoint, status))

    def counts_by_endpoint(self) -> Counter[str]:
        with self._lock:
            return Counter(entry.endpoint for entry in self.log)

    def snapshot(self) -> dict[str, Any]:
        """Usage numbers for ``/api/v2/team/usage``."""
        with self._lock:
            return {
                "quota": self.quota_total,
                "remaining": self.quota_remaining,
                "used": self.quota_total - self.quota_remaining,
                "rateLimitPerMinute": self.rate_limit_per_minute,
                "requestsLastMinute": self.requests_in_window(),
            }
