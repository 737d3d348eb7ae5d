"""pytest fixtures: ``soundcharts_sim`` (one server per session), ``sim`` (same server, state reset per test).

Enable with ``pytest_plugins = ["soundcharts_simulator.pytest_plugin"]`` in a conftest.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from soundcharts_simulator.testing import SimulatorServer


@pytest.fixture(scope="session")
def soundcharts_sim() -> Iterator[SimulatorServer]:
    """A Soundcharts simulator (seed 42, sandbox credentials) running for the whole test session."""
    with SimulatorServer(seed=42) as server:
        yield server


@pytest.fixture
def sim(soundcharts_sim: SimulatorServer) -> SimulatorServer:
    """The session simulator with its state (log, faults, quota, rate limit, clock) reset for this test."""
    soundcharts_sim.state.reset()
    return soundcharts_sim
