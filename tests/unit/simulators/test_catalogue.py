"""The simulator's synthetic catalogue: determinism, ranking consistency over time, dating, entity shapes."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime

import pytest

from soundcharts_simulator.catalogue import PLATFORMS, Catalogue, UnknownEntityError, parse_ranking_day
from tests.paths import RECORDED

NOW = datetime(2026, 11, 29, 13, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue(seed=42)


def _recorded(name: str) -> dict:
    return json.loads((RECORDED / name).read_text())


def test_platforms_are_the_recorded_21_in_order(catalogue):
    assert catalogue.platforms() == _recorded("soundcharts_get_platforms.json")["items"]
    assert len(PLATFORMS) == 21


@pytest.mark.parametrize(
    ("slug", "platform", "frequency", "country_code", "country_name", "size", "metric_type"),
    [
        ("global-28", "spotify", "daily", "", "Worldwide", 200, "streamcount"),
        ("us-28", "spotify", "daily", "US", "United States", 200, "streamcount"),
        ("global-weekly-28", "spotify", "weekly", "", "Worldwide", 200, "streamcount"),
        ("apple-music-it-daily", "apple-music", "daily", "IT", "Italy", 100, None),
        ("airplay-us-monthly", "airplay", "monthly", "US", "United States", 50, "spins"),
        ("shazam-fr-daily", "shazam", "daily", "FR", "France", 100, None),
    ],
)
def test_configured_charts_exist_with_their_attributes(
    catalogue, slug, platform, frequency, country_code, country_name, size, metric_type
):
    chart = catalogue.chart(slug).to_api()
    assert chart["platform"] == platform
    assert chart["frequency"] == frequency
    assert chart["countryCode"] == country_code
    assert chart["countryName"] == country_name
    assert chart["maxResultsCount"] == size
    assert (chart["metric"] or {}).get("type") == metric_type
    assert len(catalogue.ranking(slug, NOW.date(), now=NOW).items) == size


def test_chart_list_is_worth_paging_and_filters_by_country(catalogue):
    spotify = catalogue.charts(platform="spotify")
    assert len(spotify) >= 150
    assert len({chart.slug for chart in spotify}) == len(spotify)
    assert {chart.slug for chart in catalogue.charts(platform="spotify", country_code="US")} == {
        "us-28",
        "us-weekly-28",
    }
    assert {chart.slug for chart in catalogue.charts(platform="spotify", country_code="GLOBAL")} == {
        "global-28",
        "global-weekly-28",
    }
    with pytest.raises(UnknownEntityError):
        catalogue.chart("no-such-chart")


def test_same_seed_same_data_other_seed_other_data(catalogue):
    again = Catalogue(seed=42)
    other = Catalogue(seed=7)
    day = date(2026, 11, 1)
    assert (
        again.ranking("apple-music-it-daily", day).items
        == catalogue.ranking("apple-music-it-daily", day).items
    )
    first_song = catalogue.ranking("apple-music-it-daily", day).items[0]["song"]["uuid"]
    assert again.song(first_song) == catalogue.song(first_song)
    other_items = other.ranking("apple-music-it-daily", day).items
    assert [item["song"]["uuid"] for item in other_items] != [
        item["song"]["uuid"] for item in catalogue.ranking("apple-music-it-daily", day).items
    ]


def test_ranking_does_not_depend_on_the_order_dates_are_asked(catalogue):
    fresh = Catalogue(seed=42)
    late = fresh.ranking("airplay-us-monthly", date(2026, 10, 1)).items
    early = fresh.ranking("airplay-us-monthly", date(2025, 3, 1)).items
    assert early == catalogue.ranking("airplay-us-monthly", date(2025, 3, 1)).items
    assert late == catalogue.ranking("airplay-us-monthly", date(2026, 10, 1)).items


@pytest.mark.parametrize("slug", ["global-28", "global-weekly-28", "airplay-us-monthly"])
def test_consecutive_rankings_are_consistent(catalogue, slug):
    chart = catalogue.chart(slug)
    latest = chart.latest_period(NOW)
    entered = left = 0
    for period in range(latest - 12, latest + 1):
        previous = catalogue.ranking_at_period(slug, period - 1)
        current = catalogue.ranking_at_period(slug, period)
        before = {item["song"]["uuid"]: item for item in previous.items}
        items = current.items
        assert [item["position"] for item in items] == list(range(1, chart.size + 1))
        assert len({item["song"]["uuid"] for item in items}) == chart.size
        assert all(item["rankDate"] == current.date.isoformat() for item in items)
        if chart.metric_type:
            metrics = [item["metric"] for item in items]
            assert metrics == sorted(metrics, reverse=True)
            assert metrics[-1] > 0
        for item in items:
            old = before.get(item["song"]["uuid"])
            if old is None:
                entered += 1
                assert item["oldPosition"] == 0
                assert item["positionEvolution"] == 0
                assert item["entryState"] in ("NEW", "RE-ENTRY")
                if item["entryState"] == "NEW":
                    assert item["timeOnChart"] == 1
                    assert item["entryDate"] == item["rankDate"]
            else:
                assert item["oldPosition"] == old["position"]
                assert item["positionEvolution"] == old["position"] - item["position"]
                assert item["entryState"] == ""
                assert item["timeOnChart"] == old["timeOnChart"] + 1
                assert item["entryDate"] == old["entryDate"]
        left += len(set(before) - {item["song"]["uuid"] for item in items})
    # Songs really move: over 13 periods some enter and leave, and the same number each way.
    assert entered == left
    assert entered >= 5


def test_first_ranking_already_carries_history(catalogue):
    first = catalogue.ranking("global-28", date(2024, 1, 1))
    assert first.date == datetime(2024, 1, 1, 12, tzinfo=UTC)
    assert any(item["entryDate"] < "2024-01-01" for item in first.items)
    assert max(item["timeOnChart"] for item in first.items) > 30
    with pytest.raises(UnknownEntityError):
        catalogue.ranking("global-28", date(2023, 12, 31))


def test_daily_weekly_monthly_dating_and_units(catalogue):
    daily = catalogue.ranking("us-28", date(2026, 11, 20))
    assert daily.date == datetime(2026, 11, 20, 12, tzinfo=UTC)
    assert daily.items[0]["timeOnChartUnit"] == "DOC"

    # Thursday 2026-11-26 -> the Friday before; weekly charts are dated on Fridays.
    weekly = catalogue.ranking("global-weekly-28", date(2026, 11, 26))
    assert weekly.date == datetime(2026, 11, 20, 12, tzinfo=UTC)
    assert weekly.items[0]["timeOnChartUnit"] == "WOC"
    weekly_dates = catalogue.ranking_dates("global-weekly-28", NOW)
    assert all(moment.weekday() == 4 and moment.hour == 12 for moment in weekly_dates)
    assert weekly_dates[0] == datetime(2026, 11, 27, 12, tzinfo=UTC)
    assert weekly_dates[-1] == datetime(2024, 1, 5, 12, tzinfo=UTC)

    monthly = catalogue.ranking("airplay-us-monthly", date(2026, 11, 20))
    assert monthly.date == datetime(2026, 11, 1, 12, tzinfo=UTC)
    assert monthly.items[0]["timeOnChartUnit"] == "MOC"
    monthly_dates = catalogue.ranking_dates("airplay-us-monthly", NOW)
    assert all(moment.day == 1 for moment in monthly_dates)
    assert len(monthly_dates) == 35  # 2024-01 .. 2026-11
    assert monthly_dates == sorted(monthly_dates, reverse=True)


def test_latest_follows_the_injected_clock(catalogue):
    before_noon = datetime(2026, 11, 29, 11, 59, tzinfo=UTC)
    assert catalogue.latest_ranking("global-28", before_noon).date == datetime(2026, 11, 28, 12, tzinfo=UTC)
    assert catalogue.latest_ranking("global-28", NOW).date == datetime(2026, 11, 29, 12, tzinfo=UTC)
    # A date after "now" answers the latest published ranking, never a future one.
    assert catalogue.ranking("global-28", date(2027, 1, 1), now=NOW).date == datetime(
        2026, 11, 29, 12, tzinfo=UTC
    )
    assert len(catalogue.ranking_dates("global-28", NOW)) == (NOW.date() - date(2024, 1, 1)).days + 1


def test_song_metadata_has_the_recorded_keys_and_sane_values(catalogue):
    recorded = _recorded("soundcharts_get_song_metadata.json")["object"]
    items = catalogue.ranking("global-28", NOW.date(), now=NOW).items
    for item in items[:20]:
        song = catalogue.song(item["song"]["uuid"])
        assert set(song) == set(recorded)
        assert set(song["isrc"]) == set(recorded["isrc"])
        assert set(song["audio"]) == set(recorded["audio"])
        assert set(song["artists"][0]) == set(recorded["artists"][0])
        assert 1 <= len(song["artists"]) <= 3
        assert len(song["isrc"]["value"]) == 12
        assert song["creditName"] == " & ".join(artist["name"] for artist in song["artists"])
        assert song["name"] == item["song"]["name"]
        assert song["releaseDate"] <= item["entryDate"]
        assert all(set(label) == {"name", "type"} for label in song["labels"])
        assert all(set(genre) == {"root", "sub"} for genre in song["genres"])


def test_artists_are_shared_across_songs_and_have_the_documented_fields(catalogue):
    artist_counts: Counter[str] = Counter()
    for slug in ("global-28", "us-28"):
        for item in catalogue.ranking(slug, NOW.date(), now=NOW).items:
            for artist in catalogue.song(item["song"]["uuid"])["artists"]:
                artist_counts[artist["uuid"]] += 1
    assert artist_counts.most_common(1)[0][1] >= 2
    artist = catalogue.artist(artist_counts.most_common(1)[0][0])
    assert set(artist) == {
        "uuid", "slug", "name", "appUrl", "imageUrl", "webUrl", "countryCode", "genres", "biography", "isni",
        "ipi", "gender", "type", "birthDate", "careerStage", "growthLevel", "cityName",
    }  # fmt: skip
    with pytest.raises(UnknownEntityError):
        catalogue.artist("00000000-0000-0000-0000-000000000000")


def test_identifiers_and_songs_with_two_spotify_ids(catalogue):
    songs = [item["song"]["uuid"] for item in catalogue.ranking("global-28", NOW.date(), now=NOW).items]
    spotify_counts = {}
    for song_uuid in songs:
        identifiers = catalogue.song_identifiers(song_uuid)
        assert {"isrc", "spotify", "deezer", "apple-music", "youtube"} <= {
            i["platformCode"] for i in identifiers
        }
        assert all(
            set(i) == {"platformName", "platformCode", "identifier", "url", "default"} for i in identifiers
        )
        spotify = [i for i in identifiers if i["platformCode"] == "spotify"]
        assert sum(i["default"] for i in spotify) == 1
        spotify_counts[song_uuid] = len(spotify)
    doubled = [song for song, count in spotify_counts.items() if count == 2]
    assert doubled, "some songs must have two Spotify ids"
    points = catalogue.song_audience(doubled[0], "spotify", date(2026, 11, 1), date(2026, 11, 10))
    assert all(len(point["plots"]) == 2 for point in points)


def test_song_audience_grows_newest_first_and_respects_release_and_crawl_day(catalogue):
    song_uuid = catalogue.ranking("global-28", NOW.date(), now=NOW).items[0]["song"]["uuid"]
    points = catalogue.song_audience(song_uuid, "spotify", date(2026, 9, 1), date(2026, 12, 31), now=NOW)
    dates = [point["date"] for point in points]
    assert dates == sorted(dates, reverse=True)
    assert dates[0] == "2026-11-28T00:00:00+00:00"  # the day before "now": today is not crawled yet
    values = [point["plots"][0]["value"] for point in points]
    assert values == sorted(values, reverse=True)  # cumulative streams only grow
    assert values[0] > values[-1] > 0
    release = catalogue.song(song_uuid)["releaseDate"][:10]
    early = catalogue.song_audience(song_uuid, "spotify", date(2020, 1, 1), date.fromisoformat(release))
    assert [point["date"][:10] for point in early] == [release]
    one = catalogue.song_audience(song_uuid, "youtube", date(2026, 11, 1), date(2026, 11, 1))
    identifier = one[0]["plots"][0]["identifier"]
    youtube = [
        i["identifier"] for i in catalogue.song_identifiers(song_uuid) if i["platformCode"] == "youtube"
    ]
    assert youtube == [identifier]


def test_artist_audience_per_platform(catalogue):
    song = catalogue.song(catalogue.ranking("global-28", NOW.date(), now=NOW).items[0]["song"]["uuid"])
    artist_uuid = song["artists"][0]["uuid"]
    # The documented metric set of each platform, followerCount everywhere, no "value" (the API sends none).
    expected = {
        "spotify": {"followerCount"},
        "deezer": {"followerCount"},
        "youtube": {"followerCount", "viewCount", "postCount"},
        "instagram": {"followerCount", "followingCount", "postCount"},
        "soundcloud": {"followerCount", "followingCount", "postCount"},
        "tiktok": {"followerCount", "likeCount", "followingCount", "postCount"},
    }
    for platform, metrics in expected.items():
        points = catalogue.artist_audience(artist_uuid, platform, date(2026, 10, 1), date(2026, 10, 31))
        assert len(points) == 31
        assert points[0]["date"] == "2026-10-31T00:00:00+00:00"
        assert {key for point in points for key in point} == {"date", *metrics}
        assert points[0]["followerCount"] > 0
    with pytest.raises(UnknownEntityError):
        catalogue.artist_audience(artist_uuid, "myspace", date(2026, 10, 1), date(2026, 10, 2))


@pytest.mark.parametrize(
    "text",
    ["2026-11-01", "2026-11-01T00:00:00Z", "2026-11-01T00:00:00+00:00", "2026-11-01T12:00:00 00:00"],
)
def test_ranking_path_dates(text):
    assert parse_ranking_day(text) == date(2026, 11, 1)


@pytest.mark.parametrize("text", ["2026-13-01", "yesterday", "2026-11-01Tnoon"])
def test_bad_ranking_path_dates(text):
    with pytest.raises(ValueError):
        parse_ranking_day(text)


def test_unknown_song_uuid(catalogue):
    with pytest.raises(UnknownEntityError):
        catalogue.song("7d534228-0000-11e9-9375-549f35161576")
