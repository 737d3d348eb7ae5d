import re
from datetime import UTC, date, datetime

import pytest

from musiccharts.config import ConfigError, Frequency, load_chart_configs, parse_chart_configs
from musiccharts.periods import PeriodError, period_containing, resolve_period

VALID = """
charts:
  - {slug: global-28, platform: spotify, country: GLOBAL, frequency: daily, history_start: 2026-11-01}
  - {slug: it-weekly, platform: spotify, country: IT, frequency: Weekly, history_start: 2026-09-04, enabled: false}
"""


def test_repository_charts_file_is_valid():
    charts = load_chart_configs()
    assert len(charts) >= 3
    assert len({chart.slug for chart in charts}) == len(charts)
    assert {chart.frequency for chart in charts} >= {Frequency.DAILY, Frequency.WEEKLY}


def test_valid_file_parses_into_typed_objects():
    daily, weekly = parse_chart_configs(VALID)
    assert daily.dag_id == "sync_chart_rankings__global-28"
    assert daily.country_code is None
    assert daily.history_start == date(2026, 11, 1)
    assert weekly.frequency is Frequency.WEEKLY
    assert weekly.country_code == "IT"
    assert weekly.enabled is False


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            "{slug: a, platform: spotify, country: IT, frequency: hourly, history_start: 2026-01-01}",
            "charts[0] (slug=a): field 'frequency'",
        ),
        (
            "{slug: a, platform: spotify, country: Italy, frequency: daily, history_start: 2026-01-01}",
            "field 'country'",
        ),
        ("{slug: a, platform: spotify, country: IT, frequency: daily}", "field 'history_start'"),
        (
            "{slug: a, platform: spotify, country: IT, frequency: daily, history_start: 2026-01-01, colour: red}",
            "field 'colour'",
        ),
        (
            "{slug: 'Bad Slug', platform: spotify, country: IT, frequency: daily, history_start: 2026-01-01}",
            "field 'slug'",
        ),
    ],
)
def test_bad_entry_rejects_file_naming_entry_and_field(entry, expected):
    with pytest.raises(ConfigError, match=re.escape(expected)):
        parse_chart_configs(f"charts:\n  - {entry}\n")


def test_bad_entry_after_good_ones_rejects_whole_file():
    text = VALID + "  - {slug: x, platform: spotify, country: IT, frequency: daily, history_start: nope}\n"
    with pytest.raises(ConfigError, match=r"charts\[2\] \(slug=x\)"):
        parse_chart_configs(text)


def test_duplicate_slug_is_rejected():
    text = (
        VALID
        + "  - {slug: global-28, platform: spotify, country: US, frequency: daily, history_start: 2026-01-01}\n"
    )
    with pytest.raises(ConfigError, match=r"charts\[2\].*duplicate of charts\[0\]"):
        parse_chart_configs(text)


def test_not_yaml_and_wrong_shape():
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_chart_configs("charts: [unclosed")
    with pytest.raises(ConfigError, match="top-level 'charts:'"):
        parse_chart_configs("- just a list")


def utc(*args):
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("frequency", "day", "start", "end"),
    [
        ("daily", date(2026, 12, 31), utc(2026, 12, 31), utc(2027, 1, 1)),
        ("weekly", date(2026, 11, 27), utc(2026, 11, 27), utc(2026, 12, 4)),  # a Friday
        ("weekly", date(2026, 12, 3), utc(2026, 11, 27), utc(2026, 12, 4)),  # the Thursday after
        ("monthly", date(2026, 12, 15), utc(2026, 12, 1), utc(2027, 1, 1)),
    ],
)
def test_period_containing(frequency, day, start, end):
    assert period_containing(frequency, day) == (start, end)


def test_resolve_period_prefers_param_then_interval():
    interval = (utc(2026, 11, 2), utc(2026, 11, 3))
    assert resolve_period(Frequency.DAILY, *interval) == interval
    assert resolve_period(Frequency.DAILY, *interval, "2026-11-05") == (utc(2026, 11, 5), utc(2026, 11, 6))
    with pytest.raises(PeriodError, match="no data interval"):
        resolve_period(Frequency.DAILY, None, None)
    with pytest.raises(PeriodError, match="YYYY-MM-DD"):
        resolve_period(Frequency.DAILY, None, None, "05/11/2026")
