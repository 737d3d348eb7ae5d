"""Run the simulator in-process for tests: uvicorn in a background thread on a free loopback port."""

from __future__ import annotations

import socket
import threading
import time
from datetime import datetime
from types import TracebackType
from typing import Any, Self

import uvicorn

from soundcharts_simulator.app import create_app
from soundcharts_simulator.catalogue import Catalogue
from soundcharts_simulator.state import SimulatorState

__all__ = ["LoopbackAppServer", "SimulatorServer"]


class LoopbackAppServer:
    """An ASGI app served by uvicorn in a daemon thread on ``127.0.0.1:<free port>``; a context manager.

    The one in-process server of the simulators' test helpers (Soundcharts, ACRCloud): ``base_url`` has no
    trailing slash and exists only while the server runs.
    """

    #: Names the server in its thread and in its errors.
    server_name = "simulator"

    def __init__(self, app: Any, *, tls: tuple[str, str] | None = None) -> None:
        self.app = app
        #: (certificate file, key file): serve HTTPS, for clients that only speak https://<host>.
        self.tls = tls
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None

    @property
    def host(self) -> str:
        """``127.0.0.1:<port>``, for clients configured with a host rather than a URL."""
        if self.port is None:
            raise RuntimeError(f"the {self.server_name} is not running")
        return f"127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}"

    def start(self) -> Self:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        certfile, keyfile = self.tls or (None, None)
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ssl_certfile=certfile,
            ssl_keyfile=keyfile,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name=self.server_name.lower().replace(" ", "-"),
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the {self.server_name} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class SimulatorServer(LoopbackAppServer):
    """Context manager serving a simulator on ``127.0.0.1:<free port>``.

    Attributes: ``base_url`` (no trailing slash), ``app_id``, ``api_key``, ``state`` (turn knobs live),
    ``catalogue`` (ground truth), ``headers`` (auth headers for a client).
    """

    server_name = "Soundcharts simulator"

    def __init__(
        self,
        *,
        seed: int = 42,
        app_id: str = "soundcharts",
        api_key: str = "soundcharts",
        quota: int = 1_000_000,
        rate_limit_per_minute: int | None = None,
        now: datetime | None = None,
        catalogue: Catalogue | None = None,
        **state_options: Any,
    ) -> None:
        self.catalogue = catalogue or Catalogue(seed)
        self.state = SimulatorState(
            app_id=app_id,
            api_key=api_key,
            quota=quota,
            rate_limit_per_minute=rate_limit_per_minute,
            now=now,
            **state_options,
        )
        super().__init__(create_app(self.state, self.catalogue))

    @property
    def app_id(self) -> str:
        return self.state.app_id

    @property
    def api_key(self) -> str:
        return self.state.api_key

    @property
    def headers(self) -> dict[str, str]:
        return {"x-app-id": self.app_id, "x-api-key": self.api_key}
