"""Artist streaming audience (monthly listeners): client method against the simulator and the recorded shape."""

from __future__ import annotations

import json
from datetime import date

import pytest
import requests

from musiccharts.soundcharts.errors import SoundchartsRequestError
from musiccharts.soundcharts.models import ArtistStreamingPage, parse_payload
from tests.integration.analytics.conftest import NOW
from tests.paths import RECORDED as RECORDED_DIR

pytestmark = pytest.mark.integration

RECORDED = RECORDED_DIR / "soundcharts_get_artists_streaming_audience.json"


def test_every_window_and_page_is_fetched_newest_first(client, sim_now):
    artist_uuid = sim_now.catalogue.artist_uuid(7)
    start, end = date(2026, 6, 1), date(2026, 11, 1)  # 154 days: two windows of <= 90 days

    points = client.get_artist_streaming_audience(artist_uuid, "spotify", start, end)

    followers = sim_now.catalogue.artist_audience(artist_uuid, "spotify", start, end, now=NOW)
    assert len(points) == len(followers) == 154
    assert [p.date.date() for p in points] == sorted((p.date.date() for p in points), reverse=True)
    assert points[0].value == followers[0]["followerCount"] * 3
    assert sim_now.state.call_count("artist_streaming") >= 2


def test_simulator_answers_in_the_recorded_shape(sim_now):
    recorded = json.loads(RECORDED.read_text())
    artist_uuid = sim_now.catalogue.artist_uuid(7)
    response = requests.get(
        f"{sim_now.base_url}/api/v2/artist/{artist_uuid}/streaming/spotify",
        params={"startDate": "2026-11-01", "endDate": "2026-11-05"},
        headers={"x-app-id": sim_now.app_id, "x-api-key": sim_now.api_key},
        timeout=5,
    )
    assert response.status_code == 200
    served = response.json()
    assert set(served) == set(recorded)
    assert set(served["related"]) == set(recorded["related"])
    assert set(served["items"][0]) == set(recorded["items"][0])
    parsed = parse_payload(ArtistStreamingPage, served, "artist_streaming")
    assert len(parsed.items) == 5
    # The recorded response itself parses with the same model.
    assert parse_payload(ArtistStreamingPage, recorded, "artist_streaming").items[0].value == 107906557


def test_unknown_platform_is_refused(client, sim_now):
    with pytest.raises(SoundchartsRequestError, match="400"):
        client.get_artist_streaming_audience(
            sim_now.catalogue.artist_uuid(7), "napster", date(2026, 11, 1), date(2026, 11, 2)
        )


@pytest.mark.parametrize("refusal", ["credentials", "quota"])
def test_fetch_task_fails_at_once_on_refused_credentials_or_quota(airflow_connections, sim, refusal):
    """Through the hook: 401/403 and an exhausted quota are AirflowFailException (no task retry)."""
    from musiccharts_airflow.analytics_tasks import fetch_streaming
    from musiccharts_airflow.hooks.soundcharts import SoundchartsAuthFailed, SoundchartsQuotaFailed

    if refusal == "credentials":
        sim.state.set_credentials("another-app", "another-key")
    else:
        sim.state.set_quota(0)
    params = {"period_start": "2026-10-01", "period_end": "2026-10-31"}
    expected = SoundchartsAuthFailed if refusal == "credentials" else SoundchartsQuotaFailed

    with pytest.raises(expected):
        fetch_streaming("monthly", [sim.catalogue.artist_uuid(7)], params)
