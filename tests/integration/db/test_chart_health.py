"""Chart health on the real product database: a daily chart with gaps and a short ranking, by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from musiccharts.analytics.config import load_analytics_config
from musiccharts.analytics.health import charts_below, compute_chart_health, refresh_chart_health
from musiccharts.charts.load import load_ranking
from musiccharts.config import ChartConfig
from musiccharts.db.connection import connect
from tests.integration.db.rankings import day_period, small_ranking

pytestmark = pytest.mark.integration

THRESHOLDS = load_analytics_config().health
CHART = ChartConfig(
    slug="global-28", platform="spotify", country="GLOBAL", frequency="daily", history_start=date(2026, 3, 1)
)
AS_OF = datetime(2026, 3, 11, tzinfo=UTC)  # periods 03-01 .. 03-10 have ended


def load_day(dsn: str, offset: int, songs: list[int], total: int | None = None) -> None:
    ranking = small_ranking(datetime(2026, 3, 1, 12, tzinfo=UTC) + timedelta(days=offset), songs, total=total)
    start, end = day_period(ranking.date)
    with connect(dsn) as conn:
        load_ranking(conn, ranking, chart_slug=CHART.slug, period_start=start, period_end=end)


def test_health_of_a_chart_with_gaps_and_a_short_ranking(clean_product_db):
    for offset in (0, 1, 2, 4, 5, 7):
        load_day(clean_product_db, offset, [1, 2, 3])
    load_day(clean_product_db, 8, [1, 2, 3])
    with connect(clean_product_db) as conn:
        # A ranking stored short of what the API announced (the loader now refuses these; older rows exist).
        conn.execute("UPDATE rankings SET expected_entries = 4 WHERE ranking_date = '2026-03-09 12:00+00'")

    with connect(clean_product_db) as conn:
        health = compute_chart_health(conn, CHART, THRESHOLDS, AS_OF)

    assert (health.expected_periods, health.stored_periods, health.completeness) == (10, 7, 0.7)
    assert (health.recent_window, health.recent_completeness) == (30, 0.7)
    assert health.freshness_ratio == 1.0  # 03-10 is expected and missing
    assert health.freshness_hours == 36.0  # newest ranking 03-09 12:00
    assert health.entry_ratio == round(21 / 22, 4)
    assert health.entry_count_variation == 0.0
    assert health.validation_failures == 1
    # completeness 0.7 -> 5, freshness 1 period -> 25, entry ratio 0.955 -> 25, consistency 0 -> 25, -5
    assert health.details["points"] == {
        "completeness": 5,
        "freshness": 25,
        "entry_ratio": 25,
        "consistency": 25,
    }
    assert (health.score, health.band) == (75, "degraded")
    assert health.details["missing_recent_periods"] == ["2026-03-04", "2026-03-07", "2026-03-10"]


def test_chart_without_rankings_scores_zero_and_is_below_the_alert_threshold(clean_product_db):
    load_day(clean_product_db, 0, [1])  # creates the chart row; its period is before history_start below
    late_start = CHART.model_copy(update={"history_start": date(2026, 3, 2)})
    with connect(clean_product_db) as conn:
        stored = refresh_chart_health(conn, [late_start], THRESHOLDS, AS_OF)

    assert [(h.score, h.band, h.stored_periods, h.expected_periods) for h in stored] == [
        (0, "unhealthy", 0, 9)
    ]
    assert charts_below(stored, THRESHOLDS.alert_below) == stored


def test_refresh_stores_one_row_per_chart_and_day_and_replaces_it(clean_product_db):
    for offset in range(10):
        load_day(clean_product_db, offset, [1, 2, 3])
    with connect(clean_product_db) as conn:
        first = refresh_chart_health(conn, [CHART], THRESHOLDS, AS_OF)
        again = refresh_chart_health(conn, [CHART], THRESHOLDS, AS_OF)
        rows = conn.execute("SELECT day, score, band, completeness FROM chart_health").fetchall()

    assert first == again
    assert rows == [(date(2026, 3, 11), 100, "healthy", 1)]
