"""Song-analysis test wiring: the ACRCloud simulator, the callback app on loopback, connections, catalogue."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

CALLBACK_TOKEN = "test-callback-token"

FAST_CONFIG = """
risk:
  exact: {score_above: 80, similarity_above: 0.8, risk: high}
  cover: {score_above: 70, similarity_above: 0.7, risk: medium}
  similar: {score_above: 50, risk: medium}
  no_match: {risk: low}
  critical: {exact_other_artist_score_above: 90, ai_probability_at_least: 80}
  ai_medium_probability_at_least: 50
scan:
  callback_check_seconds: 0.2
  first_poll_seconds: %(first_poll)s
  poll_backoff_factor: 2.0
  max_poll_seconds: 2
  deadline_seconds: %(deadline)s
"""


class CallbackServer:
    """The plugin's FastAPI app served by uvicorn in a thread (the api-server mounts the same app)."""

    def __init__(self) -> None:
        from musiccharts_airflow.acrcloud_callback import create_callback_app

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.server = uvicorn.Server(
            uvicorn.Config(create_callback_app(), log_level="warning", access_log=False, lifespan="off")
        )
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            assert time.monotonic() < deadline, "callback server did not start"
            time.sleep(0.01)

    def url(self, token: str = CALLBACK_TOKEN) -> str:
        return f"http://127.0.0.1:{self.port}/callback?token={token}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def analysis_config(tmp_path, monkeypatch):
    """Write analysis.yaml with short waits; returns a function to rewrite it."""

    def write(first_poll: float = 0.5, deadline: float = 30) -> None:
        path = tmp_path / f"analysis-{time.monotonic_ns()}.yaml"
        path.write_text(FAST_CONFIG % {"first_poll": first_poll, "deadline": deadline})
        monkeypatch.setenv("MUSICCHARTS_ANALYSIS_CONFIG", str(path))

    write()
    return write


@pytest.fixture
def analysis_connections(monkeypatch, acr, airflow_connections, analysis_config) -> str:
    """ACRCloud connections pointing at the simulator; the product DB from ``airflow_connections``."""
    common = {"timeout": 10, "max_retries": 2, "backoff_base": 0.01, "backoff_max": 0.05}
    monkeypatch.setenv(
        "AIRFLOW_CONN_ACRCLOUD_DEFAULT",
        json.dumps(
            {
                "conn_type": "http",
                "host": acr.base_url,
                "password": acr.bearer_token,
                "extra": common | {"container_id": acr.container_id, "callback_token": CALLBACK_TOKEN},
            }
        ),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_ACRCLOUD_IDENTIFY",
        json.dumps(
            {
                "conn_type": "http",
                "host": acr.base_url,
                "login": acr.access_key,
                "password": acr.access_secret,
                "extra": common,
            }
        ),
    )
    return airflow_connections


@pytest.fixture
def callback_server(analysis_connections) -> Iterator[CallbackServer]:
    server = CallbackServer()
    yield server
    server.stop()
