"""The simulated ACRCloud account: credentials, quota, containers, files, scans, callbacks, request log.

One :class:`AcrState` is shared by the request threads, the scan scheduler and the test driving the server,
so every mutation holds one lock. :meth:`AcrState.reset` restores the constructor settings.

Scans end ``scan_delay`` seconds after the upload (or rescan); a scheduler thread then fixes the file's
final state and POSTs the file object to the container's ``callback_url`` (``callbacks_enabled=False``
makes the simulator never call back, ``duplicate_callbacks`` sends each callback twice).
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests

from acrcloud_simulator.catalogue import AcrCatalogue
from acrcloud_simulator.engine import STATE_PROCESSING, scan

__all__ = ["AcrState", "Container", "ScanFile"]

log = logging.getLogger("acrcloud_simulator")


def _now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class _Settings:
    """What ``reset`` restores."""

    access_key: str
    access_secret: str
    bearer_token: str
    container_id: int
    region: str
    scan_delay: float
    identify_quota: int
    callback_url: str | None
    callbacks_enabled: bool


@dataclass
class Container:
    id: int
    name: str
    region: str
    audio_type: str = "linein"
    buckets: list[Any] = field(default_factory=lambda: ["ACRCloud Music"])
    engine: int = 3
    policy: dict[str, Any] = field(default_factory=lambda: {"type": "traverse"})
    callback_url: str | None = None
    ai_detection: bool = True
    music_detection: bool = False
    deepright: bool = False
    created_at: str = field(default_factory=_now_text)

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "region": self.region,
            "audio_type": self.audio_type,
            "buckets": self.buckets,
            "engine": self.engine,
            "policy": self.policy,
            "callback_url": self.callback_url,
            "ai_detection": self.ai_detection,
            "music_detection": self.music_detection,
            "deepright": self.deepright,
            "created_at": self.created_at,
        }


@dataclass
class ScanFile:
    id: str
    cid: int
    name: str
    uri: str
    data_type: str
    audio: bytes
    engine: int
    state: int = STATE_PROCESSING
    results: dict[str, Any] | None = None
    duration: float = 0.0
    music_detected: int = 0
    ready_at: float = 0.0
    forced_state: int | None = None
    scans: int = 1
    created_at: str = field(default_factory=_now_text)
    updated_at: str = field(default_factory=_now_text)

    def to_api(self, with_result: bool = True) -> dict[str, Any]:
        payload = {
            "id": self.id,
            "uid": 1,
            "cid": self.cid,
            "name": self.name,
            "duration": round(self.duration, 2),
            "uri": self.uri,
            "data_type": self.data_type,
            "engine": self.engine,
            "count": len((self.results or {}).get("music", []))
            + len((self.results or {}).get("cover_songs", [])),
            "state": self.state,
            "total": 1,
            "music_detected": self.music_detected,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }
        if with_result:
            payload["results"] = self.results
        return payload


class AcrState:
    """Knobs, account data and the request log of one ACRCloud simulator. Thread-safe."""

    def __init__(
        self,
        *,
        access_key: str = "acrcloud",
        access_secret: str = "acrcloud",
        bearer_token: str = "acrcloud-token",
        container_id: int = 26685,
        region: str = "eu-west-1",
        scan_delay: float = 2.0,
        identify_quota: int = 1_000_000,
        callback_url: str | None = None,
        callbacks_enabled: bool = True,
        catalogue: AcrCatalogue | None = None,
        seed: int = 42,
    ) -> None:
        self.settings = _Settings(
            access_key=access_key,
            access_secret=access_secret,
            bearer_token=bearer_token,
            container_id=container_id,
            region=region,
            scan_delay=scan_delay,
            identify_quota=identify_quota,
            callback_url=callback_url,
            callbacks_enabled=callbacks_enabled,
        )
        self.catalogue = catalogue or AcrCatalogue(seed)
        self.lock = threading.RLock()
        self._wakeup = threading.Condition(self.lock)
        self._scheduler: threading.Thread | None = None
        self._stopping = False
        self.reset()

    # --- set-up -------------------------------------------------------------------------------------

    def reset(self) -> None:
        with self.lock:
            settings = self.settings
            self.access_keys: dict[str, str] = {settings.access_key: settings.access_secret}
            self.bearer_tokens: set[str] = {settings.bearer_token}
            self.scan_delay: float = settings.scan_delay
            self.identify_quota: int = settings.identify_quota
            self.callbacks_enabled: bool = settings.callbacks_enabled
            self.duplicate_callbacks = False
            self.list_shapes_for_odd_songs = True
            self.containers: dict[int, Container] = {}
            self.files: dict[str, ScanFile] = {}
            self.storage: dict[str, bytes] = {}
            self.presigned: dict[str, str] = {}
            self.forced_states: list[int] = []
            self.server_errors: Counter[str] = Counter()
            self.requests: list[tuple[str, str, int]] = []  # (method, endpoint, status)
            self.callbacks: list[dict[str, Any]] = []  # {"file_id", "state", "status" | "error"}
            self._queue: list[tuple[float, str]] = []
            self._next_container_id = settings.container_id + 1
            self.containers[settings.container_id] = Container(
                settings.container_id, "musiccharts", settings.region, callback_url=settings.callback_url
            )
            self._wakeup.notify_all()

    @property
    def container_id(self) -> int:
        return self.settings.container_id

    def set_callback_url(self, url: str | None, container_id: int | None = None) -> None:
        with self.lock:
            self.containers[container_id or self.container_id].callback_url = url

    def fail_next(self, endpoint: str, times: int = 1) -> None:
        """The next ``times`` requests to ``endpoint`` (name as in the request log) answer HTTP 503."""
        with self.lock:
            self.server_errors[endpoint] += times

    def force_next_scan_states(self, *states: int) -> None:
        """The next uploads end in these states (e.g. -3) whatever their audio."""
        with self.lock:
            self.forced_states.extend(states)

    def take_server_error(self, endpoint: str) -> bool:
        with self.lock:
            if self.server_errors[endpoint] > 0:
                self.server_errors[endpoint] -= 1
                return True
            return False

    def record(self, method: str, endpoint: str, status: int) -> None:
        with self.lock:
            self.requests.append((method, endpoint, status))

    def count(self, endpoint: str | None = None) -> int:
        with self.lock:
            return sum(1 for _, name, _ in self.requests if endpoint is None or name == endpoint)

    # --- containers and files -------------------------------------------------------------------------

    def create_container(self, body: dict[str, Any]) -> Container:
        with self.lock:
            container = Container(
                self._next_container_id,
                str(body["name"]),
                str(body["region"]),
                audio_type=str(body.get("audio_type") or "linein"),
                buckets=list(body.get("buckets") or []),
                engine=int(body.get("engine") or 1),
                policy=dict(body.get("policy") or {"type": "traverse"}),
                callback_url=body.get("callback_url"),
                ai_detection=bool(body.get("ai_detection", False)),
                music_detection=bool(body.get("music_detection", False)),
                deepright=bool(body.get("deepright", False)),
            )
            self._next_container_id += 1
            self.containers[container.id] = container
            return container

    def add_file(self, container: Container, name: str, uri: str, data_type: str, audio: bytes) -> ScanFile:
        with self.lock:
            scan_file = ScanFile(
                str(uuid.uuid4()), container.id, name, uri, data_type, audio, container.engine
            )
            if self.forced_states:
                scan_file.forced_state = self.forced_states.pop(0)
            self.files[scan_file.id] = scan_file
            self._schedule(scan_file)
            return scan_file

    def rescan(self, scan_file: ScanFile) -> None:
        with self.lock:
            scan_file.state = STATE_PROCESSING
            scan_file.results = None
            scan_file.forced_state = None  # a forced outcome applies to one scan only
            scan_file.scans += 1
            scan_file.updated_at = _now_text()
            self._schedule(scan_file)

    def _schedule(self, scan_file: ScanFile) -> None:
        scan_file.ready_at = time.monotonic() + self.scan_delay
        heapq.heappush(self._queue, (scan_file.ready_at, scan_file.id))
        self._ensure_scheduler()
        self._wakeup.notify_all()

    def settle(self, scan_file: ScanFile) -> None:
        """Finish the scan if its time has come (reads call this, so results never lag the clock)."""
        with self.lock:
            if scan_file.state != STATE_PROCESSING or time.monotonic() < scan_file.ready_at:
                return
            container = self.containers.get(scan_file.cid)
            outcome = scan(
                scan_file.audio,
                self.catalogue,
                engine=scan_file.engine,
                ai_detection=bool(container and container.ai_detection),
                list_shapes=self.list_shapes_for_odd_songs,
            )
            scan_file.duration = outcome.duration
            scan_file.music_detected = outcome.music_detected
            if scan_file.forced_state is not None:
                scan_file.state, scan_file.results = scan_file.forced_state, None
            else:
                scan_file.state, scan_file.results = outcome.state, outcome.results
            scan_file.updated_at = _now_text()

    # --- the scheduler: finishes scans on time and calls back -----------------------------------------

    def _ensure_scheduler(self) -> None:
        if self._scheduler is None or not self._scheduler.is_alive():
            self._stopping = False
            self._scheduler = threading.Thread(target=self._run_scheduler, name="acrcloud-scans", daemon=True)
            self._scheduler.start()

    def stop(self) -> None:
        with self.lock:
            self._stopping = True
            self._wakeup.notify_all()

    def _run_scheduler(self) -> None:
        while True:
            with self.lock:
                while not self._stopping and (not self._queue or self._queue[0][0] > time.monotonic()):
                    timeout = None if not self._queue else max(0.0, self._queue[0][0] - time.monotonic())
                    self._wakeup.wait(timeout)
                if self._stopping:
                    return
                _, file_id = heapq.heappop(self._queue)
                scan_file = self.files.get(file_id)
                if scan_file is None or scan_file.state != STATE_PROCESSING:
                    continue
                self.settle(scan_file)
                if scan_file.state == STATE_PROCESSING:  # rescanned since: a later queue entry finishes it
                    continue
                container = self.containers.get(scan_file.cid)
                url = container.callback_url if container else None
                payload = {
                    "file_id": scan_file.id,
                    "state": scan_file.state,
                    "cid": scan_file.cid,
                    "name": scan_file.name,
                    "results": scan_file.results,
                }
                copies = 2 if self.duplicate_callbacks else 1
                enabled = self.callbacks_enabled
            if url and enabled:
                threading.Thread(
                    target=self._call_back, args=(url, payload, copies), name="acrcloud-callback", daemon=True
                ).start()

    def _call_back(self, url: str, payload: dict[str, Any], copies: int) -> None:
        for _ in range(copies):
            entry: dict[str, Any] = {"file_id": payload["file_id"], "state": payload["state"]}
            try:
                response = requests.post(url, json=payload, timeout=10)
                entry["status"] = response.status_code
            except requests.RequestException as error:
                # The URL carries a secret token: log the error type only.
                entry["error"] = type(error).__name__
            with self.lock:
                self.callbacks.append(entry)
            log.info("callback for file %s: %s", payload["file_id"], entry.get("status", entry.get("error")))
