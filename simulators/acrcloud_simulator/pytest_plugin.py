"""pytest fixtures: ``acrcloud_server`` (one server per session), ``acr`` (same server, state reset per test).

Enable with ``pytest_plugins = ["acrcloud_simulator.pytest_plugin"]`` in a conftest.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from acrcloud_simulator.testing import AcrSimulatorServer


@pytest.fixture(scope="session")
def acrcloud_server() -> Iterator[AcrSimulatorServer]:
    """An ACRCloud simulator (seed 42, short scan delay) running for the whole test session."""
    with AcrSimulatorServer(seed=42, scan_delay=0.5) as server:
        yield server


@pytest.fixture
def acr(acrcloud_server: AcrSimulatorServer) -> AcrSimulatorServer:
    """The session simulator with its account, files, knobs and request log reset for this test."""
    acrcloud_server.state.reset()
    return acrcloud_server
