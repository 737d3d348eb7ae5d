"""catalog.yaml is parsed strictly: errors name the section and the field."""

from __future__ import annotations

import pytest

from musiccharts.catalog.config import CATALOG_FILE, load_catalog_config, parse_catalog_config
from musiccharts.config import ConfigError


def test_shipped_file_parses_with_the_issue_defaults():
    config = load_catalog_config(CATALOG_FILE)
    assert config.track_metadata.staleness_days == 30
    assert config.track_metadata.max_batches <= 1024
    assert config.artist_metadata.endpoint_max == 10
    assert config.audience.track_platforms == ("spotify", "youtube", "shazam", "airplay")
    assert config.audience.artist_platforms == ("spotify", "youtube", "instagram", "tiktok")
    assert config.audience.max_window_days <= 90
    assert "GLOBAL" in config.catalogue.countries


def test_empty_document_means_defaults():
    assert parse_catalog_config("").track_metadata.endpoint_max == 10


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("track_metadata: {staleness_days: -1}", "track_metadata.staleness_days"),
        ("track_metadata: {max_batches: 5000}", "track_metadata.max_batches"),
        ("artist_metadata: {batch: 10}", "artist_metadata.batch"),
        ("audience: {track_platforms: [spotify, spotify]}", "audience.track_platforms"),
        ("audience: {max_window_days: 120}", "audience.max_window_days"),
        ("catalogue: {countries: [usa]}", "catalogue.countries"),
        ("audiences: {}", "audiences"),
        ("track_metadata: {failure_threshold: 1.5}", "track_metadata.failure_threshold"),
    ],
)
def test_bad_values_name_the_field(text, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        parse_catalog_config(text, source="catalog.yaml")


def test_invalid_yaml_and_wrong_shape():
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_catalog_config("track_metadata: [")
    with pytest.raises(ConfigError, match="mapping"):
        parse_catalog_config("- a\n- b")
