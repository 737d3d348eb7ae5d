"""Every recorded Soundcharts response parses into its model unchanged; a malformed one names endpoint+field."""

from __future__ import annotations

import json

import pytest

from musiccharts.soundcharts import models
from tests.paths import RECORDED

#: recorded file -> (model of the whole payload, endpoint it came from)
RECORDED_MODELS: dict[str, tuple[type, str]] = {
    "soundcharts_get_song_ranking.json": (
        models.ChartRankingPage,
        "/api/v2.14/chart/song/global-28/ranking/latest",
    ),
    "soundcharts_get_song_metadata.json": (models.SongMetadataResponse, "/api/v2.25/song/{uuid}"),
    "soundcharts_get_song_audience_for_platform.json": (
        models.SongAudiencePage,
        "/api/v2/song/{uuid}/audience/spotify",
    ),
    "soundcharts_get_platforms.json": (models.PlatformListPage, "/api/v2/chart/song/platforms"),
    "soundcharts_get_artists_streaming_audience.json": (
        models.ArtistStreamingPage,
        "/api/v2/artist/{uuid}/streaming/spotify",
    ),
}


def load(name: str) -> dict:
    return json.loads((RECORDED / name).read_text())


def test_every_recorded_soundcharts_file_has_a_model() -> None:
    recorded = {path.name for path in RECORDED.glob("soundcharts_*.json")}
    assert recorded == set(RECORDED_MODELS)


@pytest.mark.parametrize("name", sorted(RECORDED_MODELS))
def test_recorded_response_parses(name: str) -> None:
    model, endpoint = RECORDED_MODELS[name]
    payload = load(name)
    parsed = models.parse_payload(model, payload, endpoint)
    items = getattr(parsed, "items", None)
    if items is not None:
        assert len(items) == len(payload["items"])


def test_recorded_ranking_values() -> None:
    page = models.parse_payload(models.ChartRankingPage, load("soundcharts_get_song_ranking.json"), "ranking")
    assert page.related.chart.slug == "global-28"
    assert page.related.chart.max_results_count == 200
    assert page.related.date.isoformat() == "2025-08-23T12:00:00+00:00"
    assert page.page.total == 200
    assert page.page.next == "/api/v2.14/chart/song/global-28/ranking/latest?offset=100&limit=100"
    assert [item.position for item in page.items] == list(range(1, 101))
    assert page.items[0].song.name == "Golden"
    assert page.items[0].time_on_chart_unit == "DOC"


def test_recorded_metadata_values() -> None:
    song = models.parse_payload(
        models.SongMetadataResponse, load("soundcharts_get_song_metadata.json"), "song"
    ).object
    assert song.uuid == "7d534228-5165-11e9-9375-549f35161576"
    assert song.isrc is not None
    assert song.isrc.value == "USUM71900764"
    assert song.labels, "labels is a list in v2.25"


def test_recorded_untidy_page_links_mean_no_page() -> None:
    page = models.parse_payload(
        models.ArtistStreamingPage, load("soundcharts_get_artists_streaming_audience.json"), "streaming"
    )
    assert page.page is not None
    assert page.page.next is None
    assert page.page.previous is None


def test_malformed_ranking_names_endpoint_and_field() -> None:
    payload = load("soundcharts_get_song_ranking.json")
    del payload["items"][3]["position"]
    endpoint = "/api/v2.14/chart/song/global-28/ranking/latest"
    with pytest.raises(models.PayloadValidationError) as caught:
        models.parse_payload(models.ChartRankingPage, payload, endpoint)
    assert endpoint in str(caught.value)
    assert "items.3.position" in str(caught.value)
    assert "items.3.position" in caught.value.fields


def test_mistyped_metadata_names_endpoint_and_field() -> None:
    payload = load("soundcharts_get_song_metadata.json")
    payload["object"]["duration"] = "three minutes"
    with pytest.raises(models.PayloadValidationError) as caught:
        models.parse_payload(models.SongMetadataResponse, payload, "/api/v2.25/song/x")
    assert "/api/v2.25/song/x" in str(caught.value)
    assert "object.duration" in str(caught.value)
