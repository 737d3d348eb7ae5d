"""Airplay (radio spins from ``broadcast-groups``): simulator, client paging, parser, storage and reports.

The simulator's spins are a closed form (``Catalogue.airplay_spins``): station k (0-based) plays artist a
``(k + a + ordinal(day)) % 4`` times a day, on ``245 - a // 25`` stations (at least 3). For artist 7 that is
245 stations = 61 full cycles of 0+1+2+3 (= 6) plus station 244, so a day's total is
366 + (244 + 7 + ordinal) % 4 = 366 + (ordinal + 3) % 4, and 61 or 62 stations (the zeros) are left out.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta

import psycopg
import pytest
import requests

from musiccharts.analytics.performance import (
    artists_missing_airplay,
    daily_spins,
    refresh_performance,
    store_artist_airplay,
)
from musiccharts.soundcharts.errors import SoundchartsNotFound
from musiccharts.soundcharts.models import ArtistBroadcastGroupsPage, PayloadValidationError, parse_payload
from tests.paths import DOCUMENTED

pytestmark = pytest.mark.integration

DOCUMENTED_RESPONSE = DOCUMENTED / "soundcharts_get_artist_broadcast_groups.json"
OCT_1 = date(2026, 10, 1)  # ordinal % 4 == 2: total 366 + 1 = 367; zeros at k = 3 mod 4 (61) -> 184 stations


def get(sim, artist_uuid: str, **params):
    return requests.get(
        f"{sim.base_url}/api/v2/artist/{artist_uuid}/broadcast-groups",
        params=params,
        headers={"x-app-id": sim.app_id, "x-api-key": sim.api_key},
        timeout=5,
    )


def test_every_page_of_a_day_is_fetched(client, sim_now):
    assert OCT_1.toordinal() % 4 == 2
    groups = client.get_artist_broadcast_groups(sim_now.catalogue.artist_uuid(7), OCT_1, OCT_1)

    assert len(groups) == 184  # 245 stations - 61 that did not play it: two pages of at most 100
    assert sum(group.play_count or 0 for group in groups) == 367
    assert len({group.radio.slug for group in groups}) == 184
    assert sim_now.state.call_count("artist_broadcast_groups") == 2


def test_unknown_artist_is_404(client, sim_now):
    unknown = "00000000-0000-4000-8000-000000000000"
    assert get(sim_now, unknown).status_code == 404
    with pytest.raises(SoundchartsNotFound):
        client.get_artist_broadcast_groups(unknown, OCT_1, OCT_1)


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "101"},  # documented maximum 100: refused, not clamped
        {"limit": "0"},
        {"startDate": "2026-10-1"},
        {"startDate": "2026-10-01T00:00:00Z"},  # this endpoint takes YYYY-MM-DD, not ATOM
        {"startDate": "2026-10-02", "endDate": "2026-10-01"},
        {"startDate": "2026-06-01", "endDate": "2026-10-01"},  # longer than the simulator's 90 days
    ],
)
def test_simulator_refuses_what_the_docs_do_not_allow(sim_now, params):
    response = get(sim_now, sim_now.catalogue.artist_uuid(7), **params)
    assert response.status_code == 400, response.text


def test_simulator_pages_and_defaults_like_the_docs(sim_now):
    artist_uuid = sim_now.catalogue.artist_uuid(7)
    first = get(sim_now, artist_uuid, startDate="2026-10-01", endDate="2026-10-01", limit="100").json()
    second = get(sim_now, artist_uuid, startDate="2026-10-01", endDate="2026-10-01", offset="100").json()
    assert (first["page"]["total"], len(first["items"]), len(second["items"])) == (184, 100, 84)
    assert second["page"]["next"] is None and first["page"]["next"]
    # No startDate: the 30 days before endDate (31 days, both included).
    default = get(sim_now, artist_uuid, endDate="2026-10-31", limit="1").json()
    explicit = get(sim_now, artist_uuid, startDate="2026-10-01", endDate="2026-10-31", limit="1").json()
    assert default["items"] == explicit["items"]
    documented = json.loads(DOCUMENTED_RESPONSE.read_text())
    assert set(first) == set(documented)
    assert set(first["items"][0]) == set(documented["items"][0])
    assert set(first["items"][0]["radio"]) == set(documented["items"][0]["radio"])


def test_parser_accepts_the_documented_shape_and_names_a_bad_field():
    documented = json.loads(DOCUMENTED_RESPONSE.read_text())
    page = parse_payload(ArtistBroadcastGroupsPage, documented, "artist_broadcast_groups")
    assert [(g.play_count, g.radio.slug) for g in page.items] == [(12, "example-fm"), (3, "radio-exemple")]

    documented["items"][1]["playCount"] = "three"
    with pytest.raises(PayloadValidationError, match=r"items\.1\.playCount"):
        parse_payload(ArtistBroadcastGroupsPage, documented, "artist_broadcast_groups")
    del documented["items"][0]["radio"]
    with pytest.raises(PayloadValidationError, match=r"items\.0\.radio"):
        parse_payload(ArtistBroadcastGroupsPage, documented, "artist_broadcast_groups")


def test_daily_spins_sum_known_counts_and_unknown_is_none():
    assert daily_spins([12, None, 3]) == 15
    assert daily_spins([]) == 0  # no station aired the artist that day: a real 0
    assert daily_spins([None, None]) is None  # stations listed, counts unknown: nothing to store


def test_storage_upserts_and_null_never_overwrites(clean_product_db):
    artist = "11e81bcc-9c1c-ce38-b96b-a0369fe50396"
    with psycopg.connect(clean_product_db) as conn:
        conn.execute("INSERT INTO artists (uuid, name) VALUES (%s, 'A')", (artist,))
        assert store_artist_airplay(conn, artist, [(OCT_1, 10), (OCT_1 + timedelta(days=1), 0)]) == 2
        assert store_artist_airplay(conn, artist, [(OCT_1, 10)]) == 0  # unchanged: not written
        assert store_artist_airplay(conn, artist, [(OCT_1, None), (OCT_1 + timedelta(days=2), None)]) == 0
        assert store_artist_airplay(conn, artist, [(OCT_1, 11)]) == 1
        rows = conn.execute("SELECT date, play_count FROM artist_airplay ORDER BY date").fetchall()
        missing = artists_missing_airplay(conn, OCT_1, OCT_1 + timedelta(days=2))
    assert rows == [(OCT_1, 11), (OCT_1 + timedelta(days=1), 0)]
    assert missing == {artist: [OCT_1 + timedelta(days=2)]}


def test_airplay_report_of_a_known_series(clean_product_db):
    artist = "11e81bcc-9c1c-ce38-b96b-a0369fe50396"
    spins = [40, 10, 25, 55]  # start 40, end 55: +15 = +37.5 %, average 32.5, peak 55
    with psycopg.connect(clean_product_db) as conn:
        conn.execute("INSERT INTO artists (uuid, name) VALUES (%s, 'A')", (artist,))
        store_artist_airplay(conn, artist, [(OCT_1 + timedelta(days=i), v) for i, v in enumerate(spins)])
        refresh_performance(conn, OCT_1, OCT_1 + timedelta(days=6))
        row = conn.execute(
            "SELECT entity_type, platform, start_value, end_value, difference, growth_pct, average, peak, points"
            " FROM performance_reports"
        ).fetchone()
    assert row == ("artist", "airplay", 40, 55, 15, 37.5, 32.5, 55, 4)


def artist_7_spins(day: date) -> int:
    """The simulator's daily total for artist 7 (see the module docstring)."""
    return 366 + (day.toordinal() + 3) % 4


def test_unsettled_days_are_fetched_again_and_older_days_once(airflow_connections, sim):
    from musiccharts_airflow.analytics_tasks import fetch_airplay, select_missing_airplay

    today = datetime.now(UTC).date()
    days = [today - timedelta(days=n) for n in range(6, 0, -1)]  # 6 days ago .. yesterday
    artist_uuid = sim.catalogue.artist_uuid(7)
    params = {
        "period_start": days[0].isoformat(),
        "period_end": days[-1].isoformat(),
        "artist_uuids": [artist_uuid],
    }
    with psycopg.connect(airflow_connections) as conn:
        conn.execute("INSERT INTO artists (uuid, name) VALUES (%s, 'Simulated')", (artist_uuid,))

    # Soundcharts has crawled up to 4 days ago: the last 3 days (the default settle window) answer empty.
    sim.state.set_now(datetime.combine(today - timedelta(days=3), time(13), UTC))
    assert fetch_airplay("weekly", [artist_uuid], params)["days_fetched"] == 6
    with psycopg.connect(airflow_connections) as conn:
        first = conn.execute("SELECT date, play_count FROM artist_airplay ORDER BY date").fetchall()
    assert first == [(day, artist_7_spins(day)) for day in days[:3]] + [(day, 0) for day in days[3:]]

    # Crawl finished: the 3 unsettled days are asked again and their real counts replace the stored 0s;
    # the 3 older days are final and not asked again.
    sim.state.set_now(datetime.now(UTC))
    assert select_missing_airplay("weekly", params) == [artist_uuid]
    calls_before = sim.state.call_count("artist_broadcast_groups")
    summary = fetch_airplay("weekly", [artist_uuid], params)
    assert (summary["days_fetched"], summary["rows_written"]) == (3, 3)
    assert sim.state.call_count("artist_broadcast_groups") - calls_before == 6  # 3 days x 2 pages
    with psycopg.connect(airflow_connections) as conn:
        second = conn.execute("SELECT date, play_count FROM artist_airplay ORDER BY date").fetchall()
    assert second == [(day, artist_7_spins(day)) for day in days]


def test_days_before_the_settle_window_are_not_asked_again(clean_product_db):
    artist = "11e81bcc-9c1c-ce38-b96b-a0369fe50396"
    with psycopg.connect(clean_product_db) as conn:
        conn.execute("INSERT INTO artists (uuid, name) VALUES (%s, 'A')", (artist,))
        store_artist_airplay(conn, artist, [(OCT_1 + timedelta(days=i), 0) for i in range(4)])
        unsettled = artists_missing_airplay(
            conn, OCT_1, OCT_1 + timedelta(days=4), None, OCT_1 + timedelta(days=2)
        )
        settled = artists_missing_airplay(conn, OCT_1, OCT_1 + timedelta(days=4))
    assert unsettled == {artist: [OCT_1 + timedelta(days=i) for i in (2, 3, 4)]}
    assert settled == {artist: [OCT_1 + timedelta(days=4)]}


@pytest.mark.parametrize(
    ("selector", "platforms", "selected"),
    [
        ("select_missing_airplay", [], True),
        ("select_missing_airplay", ["airplay"], True),
        ("select_missing_airplay", ["spotify"], False),
        ("select_missing_streaming", [], True),
        ("select_missing_streaming", ["spotify:streaming"], True),
        ("select_missing_streaming", ["airplay", "spotify"], False),
    ],
)
def test_a_fetch_runs_only_when_the_platforms_param_asks_for_its_report(
    airflow_connections, sim, selector, platforms, selected
):
    from musiccharts_airflow import analytics_tasks

    artist_uuid = sim.catalogue.artist_uuid(7)
    with psycopg.connect(airflow_connections) as conn:
        conn.execute("INSERT INTO artists (uuid, name) VALUES (%s, 'Simulated')", (artist_uuid,))
    params = {"period_start": "2026-10-05", "period_end": "2026-10-11", "platforms": platforms}

    select_missing = getattr(analytics_tasks, selector)
    assert select_missing("weekly", params) == ([artist_uuid] if selected else [])
