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


METRIC_COLUMNS = {
    "followerCount": "follower_count",
    "likeCount": "like_count",
    "followingCount": "following_count",
    "postCount": "post_count",
    "viewCount": "view_count",
}


def test_artist_audience_keeps_every_served_metric_zero_included_and_is_incremental(
    clean_product_db, sim, client
):
    platforms = ["spotify", "tiktok", "youtube", "instagram"]
    until = datetime.now(UTC).date() - timedelta(days=3)
    # An artist that has posted nothing on one platform: its postCount 0 must be stored as 0, not NULL.
    artist_uuid = next(
        sim.catalogue.artist_uuid(artist_id)
        for artist_id in range(2000)
        if any(
            item.get("postCount") == 0
            for platform in platforms
            for item in sim.catalogue.artist_audience(
                sim.catalogue.artist_uuid(artist_id), platform, until, until
            )
        )
    )
    fetch_and_load_artists(client, clean_product_db, [artist_uuid], endpoint_max=10)
    first = fetch_and_load_audience(
        client,
        clean_product_db,
        "artist",
        [artist_uuid],
        platforms=platforms,
        until=until,
        first_fetch_days=10,
        max_window_days=90,
    )
    assert (first["series"], first["windows"], first["points"]) == (4, 4, 40)
    with psycopg.connect(clean_product_db) as conn:
        stored = conn.execute(
            "SELECT platform, date, follower_count, like_count, following_count, post_count, view_count"
            " FROM artist_audience ORDER BY 1, 2"
        ).fetchall()
    served = sorted(
        (
            platform,
            date.fromisoformat(item["date"][:10]),
            *(item.get(metric) for metric in METRIC_COLUMNS),  # a metric not served is NULL, not 0
        )
        for platform in platforms
        for item in sim.catalogue.artist_audience(artist_uuid, platform, until - timedelta(days=9), until)
    )
    assert stored == served
    assert any(row[5] == 0 for row in stored), "a served 0 is stored as 0"
    served_metrics = {row[0]: {i for i, value in enumerate(row[2:]) if value is not None} for row in stored}
    assert served_metrics == {
        "spotify": {0},
        "tiktok": {0, 1, 2, 3},
        "youtube": {0, 3, 4},
        "instagram": {0, 2, 3},
    }

    sim.state.log.clear()
    again = fetch_and_load_audience(
        client,
        clean_product_db,
        "artist",
        [artist_uuid],
        platforms=platforms,
        until=until + timedelta(days=2),
        first_fetch_days=10,
        max_window_days=90,
    )
    assert (again["windows"], again["points"], again["rows_changed"]) == (4, 8, 8)
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


def backoff_rows(dsn: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT endpoint, entity_uuid, platform, reason, useless_answers, retry_after"
            " FROM soundcharts_call_backoff ORDER BY 1, 2, 3"
        ).fetchall()


def test_a_useless_series_is_put_off_with_a_doubling_backoff_and_forgotten_once_served(
    clean_product_db, sim, client
):
    from musiccharts.catalog.select import select_audience_entities

    song_uuid = sim.catalogue.song_uuid(4343)
    fetch_and_load_tracks(client, clean_product_db, [song_uuid], endpoint_max=10)
    shazam_404 = sim.state.fail(
        "song_audience", 404, times=None, when=lambda request: request.params.get("platform") == "shazam"
    )
    first_day = datetime.now(UTC).date() - timedelta(days=20)

    def run(until: date) -> dict:
        return fetch_and_load_audience(
            client,
            clean_product_db,
            "track",
            [song_uuid],
            platforms=["spotify", "shazam"],
            until=until,
            first_fetch_days=3,
            max_window_days=90,
        )

    def shazam_calls() -> int:
        return sum(1 for call in sim.state.calls("song_audience") if call.path.endswith("/shazam"))

    assert run(first_day)["not_found"] == 1
    assert backoff_rows(clean_product_db) == [
        ("track_audience", song_uuid, "shazam", "not_found", 1, first_day + timedelta(days=2))
    ]
    with psycopg.connect(clean_product_db) as conn:  # up to date on spotify, shazam put off: not selected
        assert select_audience_entities(conn, "track", platforms=["spotify", "shazam"], until=first_day) == []
    assert run(first_day + timedelta(days=1))["put_off"] == 1
    assert shazam_calls() == 1, "no call before the retry date"

    assert run(first_day + timedelta(days=2))["not_found"] == 1  # asked again on its retry date: 404 again
    assert shazam_calls() == 2
    assert backoff_rows(clean_product_db)[0][4:] == (2, first_day + timedelta(days=6))  # the delay doubled

    sim.state.faults.remove(shazam_404)
    served = run(first_day + timedelta(days=6))
    assert served["not_found"] == 0 and served["points"] > 0
    assert backoff_rows(clean_product_db) == [], "a useful answer forgets the series"


def test_a_uuid_left_out_of_the_batch_answer_is_not_selected_again_before_its_retry_date(
    clean_product_db, sim, client
):
    from musiccharts.catalog.select import select_stale_entities

    uuids = [sim.catalogue.song_uuid(song_id) for song_id in range(5100, 5103)]
    sim.state.not_found(uuids[1])
    now = datetime.now(UTC)
    fetch_and_load_tracks(client, clean_product_db, uuids, endpoint_max=10, fetched_at=now)
    with psycopg.connect(clean_product_db) as conn:
        conn.execute("INSERT INTO tracks (uuid, name) VALUES (%s, 'from a ranking')", (uuids[1],))
    assert backoff_rows(clean_product_db) == [
        ("song_batch", uuids[1], "", "left_out_of_batch", 1, now.date() + timedelta(days=2))
    ]

    def stale(at: datetime) -> list[str]:
        with psycopg.connect(clean_product_db) as conn:
            return select_stale_entities(conn, "track", staleness_days=30, now=at)

    assert stale(now) == []
    assert stale(now + timedelta(days=2)) == [uuids[1]]
