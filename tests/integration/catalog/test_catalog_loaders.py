"""Catalog loaders against the real product database, fed with the recorded Soundcharts responses."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime

import psycopg
import pytest

from musiccharts.catalog import load
from musiccharts.catalog.select import last_audience_dates, select_audience_entities, select_stale_entities
from musiccharts.soundcharts.models import (
    ArtistMetadata,
    ChartInfo,
    Platform,
    PlatformListPage,
    SongAudiencePage,
    SongMetadata,
    SongMetadataResponse,
    parse_payload,
)
from tests.db_snapshot import table_snapshot as snapshot
from tests.paths import RECORDED

pytestmark = pytest.mark.integration

FETCHED_AT = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
BAD_GUY = "7d534228-5165-11e9-9375-549f35161576"


def recorded(name: str) -> dict:
    return json.loads((RECORDED / name).read_text())


def song_metadata() -> SongMetadata:
    payload = recorded("soundcharts_get_song_metadata.json")
    return parse_payload(SongMetadataResponse, payload, "song metadata").object


def test_recorded_song_metadata_loads_the_right_columns(clean_product_db):
    with psycopg.connect(clean_product_db) as conn:
        result = load.load_track_metadata(conn, [song_metadata()], fetched_at=FETCHED_AT)
        row = conn.execute(
            """
            SELECT name, credit_name, isrc, isrc_country_code, label, labels, release_date, duration_seconds,
                   explicit, composers, producers, audio_features->>'tempo', metadata_fetched_at, copyright,
                   distributor
            FROM tracks WHERE uuid = %s
            """,
            (BAD_GUY,),
        ).fetchone()
        artists = conn.execute(
            """
            SELECT a.uuid::text, a.name, a.slug, ta.position FROM track_artists ta
            JOIN artists a ON a.id = ta.artist_id JOIN tracks t ON t.id = ta.track_id WHERE t.uuid = %s
            """,
            (BAD_GUY,),
        ).fetchall()
        genres = conn.execute(
            """
            SELECT g.name, tg.is_root FROM track_genres tg JOIN genres g ON g.id = tg.genre_id
            JOIN tracks t ON t.id = tg.track_id WHERE t.uuid = %s ORDER BY g.name
            """,
            (BAD_GUY,),
        ).fetchall()
    assert result.entities == 1 and result.entities_changed == 1
    assert row[0:2] == ("bad guy", "Billie Eilish")
    assert row[2:4] == ("USUM71900764", "US")  # the ISRC value, not the object as a string
    assert row[4] == "Interscope"  # labels[0].name
    assert row[5] == [{"name": "Interscope", "type": "Universal"}, {"name": "Darkroom", "type": "Universal"}]
    assert row[6] == date(2019, 3, 29)
    assert row[7:9] == (194, False)
    assert row[9] == ["Finneas O'Connell", "Billie Eilish O'Connell"]
    assert row[10] == ["Finneas O'Connell"]
    assert row[11] == "135.13"
    assert row[12] == FETCHED_AT
    assert row[13:15] == ("℗ 2019 Darkroom/Interscope Records", "Universal")
    assert artists == [("11e81bcc-9c1c-ce38-b96b-a0369fe50396", "Billie Eilish", "billie-eilish", 1)]
    assert genres == [("alternative", True), ("electronic", True), ("rock", True)]


def test_reload_is_byte_identical_and_changes_no_row(clean_product_db):
    with psycopg.connect(clean_product_db) as conn:
        load.load_track_metadata(conn, [song_metadata()], fetched_at=FETCHED_AT)
    before = snapshot(clean_product_db)
    with psycopg.connect(clean_product_db) as conn:
        again = load.load_track_metadata(conn, [song_metadata()], fetched_at=FETCHED_AT)
    assert again.entities_changed == 0 and again.artists_changed == 0 and again.links_changed == 0
    assert snapshot(clean_product_db) == before


def test_track_without_artists_is_stored_and_links_follow_the_source(clean_product_db):
    song = song_metadata()
    alone = song.model_copy(update={"artists": [], "genres": []})
    with psycopg.connect(clean_product_db) as conn:
        load.load_track_metadata(conn, [song], fetched_at=FETCHED_AT)
        load.load_track_metadata(conn, [alone], fetched_at=FETCHED_AT)
        stored = conn.execute("SELECT count(*) FROM tracks WHERE uuid = %s", (BAD_GUY,)).fetchone()[0]
        links = conn.execute("SELECT count(*) FROM track_artists").fetchone()[0]
        genre_links = conn.execute("SELECT count(*) FROM track_genres").fetchone()[0]
    assert (stored, links, genre_links) == (1, 0, 0)


def test_failed_batch_writes_nothing(clean_product_db):
    good = song_metadata()
    bad = good.model_copy(update={"uuid": "not-a-uuid"})  # the uuid column refuses it mid-load
    with psycopg.connect(clean_product_db) as conn, pytest.raises(psycopg.Error):
        load.load_track_metadata(conn, [good, bad], fetched_at=FETCHED_AT)
    assert snapshot(clean_product_db)["tracks"] == []
    assert snapshot(clean_product_db)["artists"] == []


def test_staleness_selection(clean_product_db):
    with psycopg.connect(clean_product_db) as conn:
        conn.execute(
            "INSERT INTO tracks (uuid, name) VALUES ('00000000-0000-0000-0000-000000000001', 'never')"
        )
        conn.commit()
        load.load_track_metadata(conn, [song_metadata()], fetched_at=FETCHED_AT)
        fresh_now = datetime(2026, 12, 10, tzinfo=UTC)  # 12 days later: within 30 days
        late_now = datetime(2027, 1, 10, tzinfo=UTC)  # 43 days later
        assert select_stale_entities(conn, "track", staleness_days=30, now=fresh_now) == [
            "00000000-0000-0000-0000-000000000001"
        ]
        assert len(select_stale_entities(conn, "track", staleness_days=30, now=late_now)) == 2
        assert len(select_stale_entities(conn, "track", staleness_days=30, now=fresh_now, force=True)) == 2
        assert select_stale_entities(conn, "track", staleness_days=30, now=fresh_now, uuids=[BAD_GUY]) == []
        assert select_stale_entities(
            conn, "track", staleness_days=30, now=fresh_now, uuids=[BAD_GUY], force=True
        ) == [BAD_GUY]


def audience_payload_with_two_identifiers() -> dict:
    """The recorded response plus a second Spotify id whose value is 0 (a re-release nobody streams)."""
    payload = copy.deepcopy(recorded("soundcharts_get_song_audience_for_platform.json"))
    for item in payload["items"]:
        item["plots"].append({"identifier": "0duplicateSpotifyId000", "value": 0})
    return payload


def test_recorded_audience_keeps_every_identifier_and_zero(clean_product_db):
    page = parse_payload(SongAudiencePage, audience_payload_with_two_identifiers(), "song audience")
    points = load.audience_points_from_song_items(BAD_GUY, "spotify", page.items)
    with psycopg.connect(clean_product_db) as conn:
        load.load_track_metadata(conn, [song_metadata()], fetched_at=FETCHED_AT)
        written = load.load_audience(conn, "track", points, fetched_at=FETCHED_AT)
        rows = conn.execute(
            """
            SELECT identifier, count(*), min(value), max(value), max(date) FROM track_audience
            GROUP BY identifier ORDER BY identifier
            """
        ).fetchall()
        newest = conn.execute(
            "SELECT value FROM track_audience WHERE identifier = '2Fxmhks0bxGSBdJ92vM42m' AND date = '2025-08-28'"
        ).fetchone()[0]
        last = last_audience_dates(conn, "track", [BAD_GUY], ["spotify"])
    items = len(page.items)
    assert written == 2 * items
    assert rows == [
        ("0duplicateSpotifyId000", items, 0, 0, date(2025, 8, 28)),
        ("2Fxmhks0bxGSBdJ92vM42m", items, rows[1][2], rows[1][3], date(2025, 8, 28)),
    ]
    assert newest == 2783193386
    assert sorted(last) == [
        (BAD_GUY, "spotify", "0duplicateSpotifyId000", date(2025, 8, 28)),
        (BAD_GUY, "spotify", "2Fxmhks0bxGSBdJ92vM42m", date(2025, 8, 28)),
    ]
    before = snapshot(clean_product_db)
    with psycopg.connect(clean_product_db) as conn:
        assert load.load_audience(conn, "track", points, fetched_at=datetime.now(UTC)) == 0
    assert snapshot(clean_product_db) == before


def test_audience_selection_skips_up_to_date_entities(clean_product_db):
    page = parse_payload(SongAudiencePage, recorded("soundcharts_get_song_audience_for_platform.json"), "aud")
    with psycopg.connect(clean_product_db) as conn:
        load.load_track_metadata(conn, [song_metadata()], fetched_at=FETCHED_AT)
        load.load_audience(
            conn,
            "track",
            load.audience_points_from_song_items(BAD_GUY, "spotify", page.items),
            fetched_at=FETCHED_AT,
        )
        assert select_audience_entities(conn, "track", platforms=["spotify"], until=date(2025, 8, 28)) == []
        assert select_audience_entities(conn, "track", platforms=["spotify"], until=date(2025, 8, 29)) == [
            BAD_GUY
        ]
        assert select_audience_entities(
            conn, "track", platforms=["spotify", "youtube"], until=date(2025, 8, 28)
        ) == [BAD_GUY]


def test_artist_metadata_fills_the_reference_row(clean_product_db):
    artist = ArtistMetadata.model_validate(
        {
            "uuid": "11e81bcc-9c1c-ce38-b96b-a0369fe50396",
            "slug": "billie-eilish",
            "name": "Billie Eilish",
            "countryCode": "US",
            "gender": "female",
            "type": "person",
            "careerStage": "superstar",
            "birthDate": "2001-12-18T00:00:00+00:00",
            "biography": "",
        }
    )
    with psycopg.connect(clean_product_db) as conn:
        load.load_track_metadata(conn, [song_metadata()], fetched_at=FETCHED_AT)
        assert load.load_artist_metadata(conn, [artist], fetched_at=FETCHED_AT).entities_changed == 1
        assert load.load_artist_metadata(conn, [artist], fetched_at=FETCHED_AT).entities_changed == 0
        row = conn.execute(
            "SELECT name, country_code, gender, career_stage, birth_date, metadata_fetched_at, "
            "app_url FROM artists"
        ).fetchall()
    # The artist endpoint is authoritative: a field it does not serve (appUrl here) is not kept.
    assert row == [("Billie Eilish", "US", "female", "superstar", date(2001, 12, 18), FETCHED_AT, None)]


def test_catalogue_records_new_charts_as_available(clean_product_db):
    platforms = parse_payload(PlatformListPage, recorded("soundcharts_get_platforms.json"), "platforms").items
    charts = [
        ChartInfo.model_validate(
            {
                "slug": "global-28",
                "name": "Top 200 Global",
                "platform": "spotify",
                "frequency": "daily",
                "countryCode": "",
                "maxResultsCount": 200,
            }
        ),
        ChartInfo.model_validate(
            {
                "slug": "new-chart-xx",
                "name": "New",
                "platform": "spotify",
                "frequency": "weekly",
                "countryCode": "FR",
            }
        ),
    ]
    with psycopg.connect(clean_product_db) as conn:
        first = load.load_catalogue(conn, platforms, charts, enabled_slugs={"global-28"}, seen_at=FETCHED_AT)
        rows = conn.execute(
            "SELECT c.slug, p.slug, c.sync_enabled, c.country_code, c.first_seen_at FROM charts c "
            "JOIN platforms p ON p.id = c.platform_id ORDER BY c.slug"
        ).fetchall()
    assert first.charts_new == 2 and first.new_chart_slugs == ("global-28", "new-chart-xx")
    assert rows == [
        ("global-28", "spotify", True, None, FETCHED_AT),
        ("new-chart-xx", "spotify", False, "FR", FETCHED_AT),
    ]
    assert first.platforms == len({p.code for p in platforms} | {"spotify"})
    before = snapshot(clean_product_db)
    with psycopg.connect(clean_product_db) as conn:
        again = load.load_catalogue(
            conn, platforms, charts, enabled_slugs={"global-28"}, seen_at=datetime(2026, 12, 5, tzinfo=UTC)
        )
    assert (again.charts_new, again.charts_changed, again.platforms_changed) == (0, 0, 0)
    assert snapshot(clean_product_db) == before
    assert isinstance(platforms[0], Platform)
