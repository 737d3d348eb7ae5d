"""Batch units of work with the real client against the simulator (no scheduler): artists and audience."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from musiccharts.catalog.sync import fetch_and_load_artists, fetch_and_load_audience, fetch_and_load_tracks
from musiccharts.soundcharts.client import SoundchartsClient

pytestmark = pytest.mark.integration


@pytest.fixture
def client(sim):
    with SoundchartsClient(sim.base_url, sim.app_id, sim.api_key, max_retries=1, backoff_base=0.01) as api:
        yield api


def test_artist_batch_stores_what_is_served(clean_product_db, sim, client):
    uuids = [sim.catalogue.artist_uuid(artist_id) for artist_id in range(20, 43)]  # 23 = 3 calls
    sim.state.not_found(uuids[5])
    result = fetch_and_load_artists(client, clean_product_db, uuids, endpoint_max=10)
    assert (result["entities"], result["not_found"], result["calls"]) == (22, 1, 3)
    assert sim.state.call_count("artist_batch") == 3
    with psycopg.connect(clean_product_db) as conn:
        stored = {
            row[0]: row[1:]
            for row in conn.execute(
                "SELECT uuid::text, name, slug, country_code, gender, type, career_stage, birth_date FROM artists"
            )
        }
    assert uuids[5] not in stored
    for artist_uuid in uuids[:5] + uuids[6:]:
        served = sim.catalogue.artist(artist_uuid)
        birth = date.fromisoformat(served["birthDate"][:10]) if served["birthDate"] else None
        assert stored[artist_uuid] == (
            served["name"],
            served["slug"],
            served["countryCode"],
            served["gender"],
            served["type"],
            served["careerStage"],
            birth,
        )


def test_artist_audience_keeps_zero_and_is_incremental(clean_product_db, sim, client):
    song_uuid = sim.catalogue.song_uuid(4242)
    fetch_and_load_tracks(client, clean_product_db, [song_uuid], endpoint_max=10)
    artist_uuid = sim.catalogue.song(song_uuid)["artists"][0]["uuid"]
    until = datetime.now(UTC).date() - timedelta(days=3)
    first = fetch_and_load_audience(
        client,
        clean_product_db,
        "artist",
        [artist_uuid],
        platforms=["spotify", "tiktok"],
        until=until,
        first_fetch_days=10,
        max_window_days=90,
    )
    assert (first["series"], first["windows"], first["points"]) == (2, 2, 20)
    with psycopg.connect(clean_product_db) as conn:
        stored = conn.execute(
            "SELECT platform, identifier, date, value FROM artist_audience ORDER BY 1, 2, 3"
        ).fetchall()
    served = sorted(
        (platform, item["identifier"], date.fromisoformat(item["date"][:10]), item["value"])
        for platform in ("spotify", "tiktok")
        for item in sim.catalogue.artist_audience(artist_uuid, platform, until - timedelta(days=9), until)
    )
    assert stored == served

    sim.state.log.clear()
    again = fetch_and_load_audience(
        client,
        clean_product_db,
        "artist",
        [artist_uuid],
        platforms=["spotify", "tiktok"],
        until=until + timedelta(days=2),
        first_fetch_days=10,
        max_window_days=90,
    )
    assert (again["windows"], again["points"], again["rows_changed"]) == (2, 4, 4)
    starts = {call.query for call in sim.state.calls("artist_audience")}
    assert all(f"startDate={(until + timedelta(days=1)).isoformat()}" in query for query in starts)


def test_song_audience_zero_values_are_stored(clean_product_db, sim, client):
    # A song with a duplicate Spotify id whose plot is 0, found in the simulator's catalogue.
    song_uuid = next(
        sim.catalogue.song_uuid(song_id)
        for song_id in range(3000, 6000)
        if len(sim.catalogue.song_audience_identifiers(sim.catalogue.song_uuid(song_id), "spotify")) > 1
        and any(
            plot["value"] == 0
            for item in sim.catalogue.song_audience(
                sim.catalogue.song_uuid(song_id), "spotify", date(2026, 1, 1), date(2026, 1, 3)
            )
            for plot in item["plots"]
        )
    )
    fetch_and_load_tracks(client, clean_product_db, [song_uuid], endpoint_max=10)
    fetch_and_load_audience(
        client,
        clean_product_db,
        "track",
        [song_uuid],
        platforms=["spotify"],
        until=date(2026, 1, 3),
        first_fetch_days=3,
        max_window_days=90,
    )
    with psycopg.connect(clean_product_db) as conn:
        rows = conn.execute("SELECT identifier, date, value FROM track_audience ORDER BY 1, 2").fetchall()
    served = sorted(
        (plot["identifier"], date.fromisoformat(item["date"][:10]), plot["value"])
        for item in sim.catalogue.song_audience(song_uuid, "spotify", date(2026, 1, 1), date(2026, 1, 3))
        for plot in item["plots"]
    )
    assert rows == served
    assert len({row[0] for row in rows}) == 2 and any(row[2] == 0 for row in rows)
