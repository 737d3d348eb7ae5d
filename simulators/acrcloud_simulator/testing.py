"""Run the ACRCloud simulator in-process for tests: uvicorn in a background thread on a free loopback port."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

from acrcloud_simulator.app import create_app, sign
from acrcloud_simulator.audio import synthesize_wav
from acrcloud_simulator.catalogue import RecordingKind, recording_id
from acrcloud_simulator.state import AcrState

__all__ = ["AcrSimulatorServer", "recording_wav"]


class AcrSimulatorServer:
    """Context manager serving the simulator on ``127.0.0.1:<free port>``.

    Attributes: ``base_url`` (identification and File Scanning share it), ``state`` (knobs and account),
    ``catalogue``, ``access_key``/``access_secret``/``bearer_token``, ``container_id``.
    """

    def __init__(self, **state_options: Any) -> None:
        self.state = AcrState(**state_options)
        self.catalogue = self.state.catalogue
        self.app = create_app(self.state)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("the ACRCloud simulator is not running")
        return f"http://127.0.0.1:{self.port}"

    @property
    def access_key(self) -> str:
        return self.state.settings.access_key

    @property
    def access_secret(self) -> str:
        return self.state.settings.access_secret

    @property
    def bearer_token(self) -> str:
        return self.state.settings.bearer_token

    @property
    def container_id(self) -> int:
        return self.state.container_id

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.bearer_token}", "Accept": "application/json"}

    def signed_form(self, data_type: str = "audio", timestamp: str | None = None) -> dict[str, str]:
        """Identification form fields (without the sample) signed with the simulator's secret."""
        timestamp = timestamp or str(int(time.time()))
        return {
            "access_key": self.access_key,
            "data_type": data_type,
            "signature_version": "1",
            "timestamp": timestamp,
            "signature": sign(self.access_secret, self.access_key, data_type, "1", timestamp),
        }

    def start(self) -> AcrSimulatorServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="acrcloud-simulator", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the ACRCloud simulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.state.stop()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> AcrSimulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def recording_wav(kind: RecordingKind, song_id: int, seconds: int = 30, first_block: int = 0) -> bytes:
    """A synthetic WAV of ``seconds`` of one recording (``kind`` of Soundcharts song ``song_id``)."""
    return synthesize_wav([(recording_id(kind, song_id), first_block, seconds)])
