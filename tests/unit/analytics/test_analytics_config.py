"""analytics.yaml goes through the shared sections parser: the shipped file parses, bad fields are named."""

from __future__ import annotations

import pytest
import yaml

from musiccharts.analytics.config import ANALYTICS_FILE, parse_analytics_config
from musiccharts.config import ConfigError


def shipped() -> dict:
    return yaml.safe_load(ANALYTICS_FILE.read_text())


def test_the_shipped_file_parses():
    config = parse_analytics_config(ANALYTICS_FILE.read_text())
    assert config.health.band(100) and config.fraud.burst_z > config.fraud.revert_z


def test_every_bad_field_is_named_with_its_section():
    document = shipped()
    document["fraud"]["burst_z"] = -1
    document["exports"]["bump_chart_top"] = 0
    document["airplay"]["settle_days"] = -1
    with pytest.raises(ConfigError) as error:
        parse_analytics_config(yaml.safe_dump(document), source="analytics.yaml")
    assert "field 'fraud.burst_z'" in str(error.value)
    assert "field 'exports.bump_chart_top'" in str(error.value)
    assert "field 'airplay.settle_days'" in str(error.value)


@pytest.mark.parametrize("text", ["fraud: [1, 2", "- a list\n- not sections\n"])
def test_not_yaml_or_not_sections_is_refused(text):
    with pytest.raises(ConfigError, match=r"analytics\.yaml"):
        parse_analytics_config(text)
