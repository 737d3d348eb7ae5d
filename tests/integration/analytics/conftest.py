"""The Soundcharts simulator pinned to one moment, and a client on it, for the analytics fetch tests."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from musiccharts.soundcharts.client import SoundchartsClient

NOW = datetime(2026, 11, 29, 13, 0, tzinfo=UTC)


@pytest.fixture
def sim_now(sim):
    sim.state.set_now(NOW)
    return sim


@pytest.fixture
def client(sim_now):
    with SoundchartsClient(
        sim_now.base_url,
        sim_now.app_id,
        sim_now.api_key,
        timeout=(2, 5),
        backoff_base=0.01,
        sleep=lambda _: None,
    ) as instance:
        yield instance
