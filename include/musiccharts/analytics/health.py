"""Chart health per chart and day: completeness, freshness, entry counts, validation, a 0-100 score.

The first implementation showed these as admin columns computed on every page view (activity, frequency
compliance, data quality, consistency, completeness, "4 x 25 points"). Here they are materialised once per
chart and day in ``chart_health``, with the bands in ``include/config/analytics.yaml`` (``health``):

- completeness: stored periods / expected periods since ``history_start``, and over the recent window
  (30 daily, 12 weekly or 6 monthly periods); a period is expected once it has ended;
- freshness: how many expected periods lie after the newest stored one (0 = up to date), and the age in
  hours of the newest ranking at the moment of the computation;
- entry ratio: stored entries / entries the API announced, over the recent window's rankings;
- consistency: mean absolute relative change of the entry count between consecutive recent rankings;
- validation failures: recent rankings whose positions are not exactly 1..N, or that hold fewer entries
  than announced, or none.

Score = 25 points for each of completeness (recent), freshness, entry ratio and consistency, by band
(25 / 15 / 5 / 0), minus ``validation_failure_penalty`` per failing ranking, clamped to 0..100.

Pure: takes a psycopg connection and the chart configurations, imports nothing from Airflow.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from musiccharts.analytics.config import HealthThresholds
from musiccharts.config import ChartConfig
from musiccharts.periods import period_containing, start_of_day

_RANKINGS_SQL = """
SELECT r.period_start, r.ranking_date, r.entry_count, r.expected_entries,
       (SELECT count(*) FROM ranking_entries e WHERE e.ranking_id = r.id) AS stored,
       (SELECT max(e.position) FROM ranking_entries e WHERE e.ranking_id = r.id) AS last_position
FROM rankings r JOIN charts c ON c.id = r.chart_id
WHERE c.slug = %(slug)s AND r.period_start >= %(history_start)s AND r.period_end <= %(as_of)s
ORDER BY r.period_start, r.ranking_date
"""

_UPSERT_SQL = """
INSERT INTO chart_health AS h (chart_id, day, frequency, expected_periods, stored_periods, completeness,
    recent_window, recent_completeness, newest_ranking_date, freshness_hours, freshness_ratio, entry_ratio,
    entry_count_variation, validation_failures, score, band, details)
SELECT c.id, %(day)s, %(frequency)s, %(expected_periods)s, %(stored_periods)s, %(completeness)s,
       %(recent_window)s, %(recent_completeness)s, %(newest_ranking_date)s, %(freshness_hours)s,
       %(freshness_ratio)s, %(entry_ratio)s, %(entry_count_variation)s, %(validation_failures)s, %(score)s,
       %(band)s, %(details)s
FROM charts c WHERE c.slug = %(slug)s
ON CONFLICT (chart_id, day) DO UPDATE SET
    frequency = EXCLUDED.frequency, expected_periods = EXCLUDED.expected_periods,
    stored_periods = EXCLUDED.stored_periods, completeness = EXCLUDED.completeness,
    recent_window = EXCLUDED.recent_window, recent_completeness = EXCLUDED.recent_completeness,
    newest_ranking_date = EXCLUDED.newest_ranking_date, freshness_hours = EXCLUDED.freshness_hours,
    freshness_ratio = EXCLUDED.freshness_ratio, entry_ratio = EXCLUDED.entry_ratio,
    entry_count_variation = EXCLUDED.entry_count_variation,
    validation_failures = EXCLUDED.validation_failures,
    score = EXCLUDED.score, band = EXCLUDED.band, details = EXCLUDED.details, computed_at = now()
RETURNING h.chart_id
"""


@dataclass(frozen=True)
class ChartHealth:
    slug: str
    day: date
    frequency: str
    expected_periods: int
    stored_periods: int
    completeness: float
    recent_window: int
    recent_completeness: float
    newest_ranking_date: datetime | None
    freshness_hours: float | None
    freshness_ratio: float | None  # expected periods after the newest stored one
    entry_ratio: float | None
    entry_count_variation: float | None
    validation_failures: int
    score: int
    band: str
    details: dict[str, Any]

    def as_xcom(self) -> dict[str, Any]:
        values = asdict(self)
        values["day"] = self.day.isoformat()
        newest = self.newest_ranking_date
        values["newest_ranking_date"] = newest.isoformat() if newest else None
        return values


def expected_period_starts(chart: ChartConfig, as_of: datetime) -> list[datetime]:
    """Starts of every period from ``history_start`` that has ended by ``as_of``."""
    starts = []
    start, end = period_containing(chart.frequency, chart.history_start)
    while end <= as_of:
        starts.append(start)
        start, end = period_containing(chart.frequency, end.date())
    return starts


def _points(
    value: float | None, bands: Sequence[float], points: Sequence[int], higher_is_better: bool
) -> int:
    if value is None:
        return points[-1]
    for band, earned in zip(bands, points, strict=False):
        if (value >= band) if higher_is_better else (value <= band):
            return earned
    return points[-1]


def compute_chart_health(
    conn: psycopg.Connection, chart: ChartConfig, thresholds: HealthThresholds, as_of: datetime
) -> ChartHealth:
    """The health of one chart as of ``as_of`` (aware datetime); nothing is written."""
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    expected = expected_period_starts(chart, as_of)
    rows = conn.execute(
        _RANKINGS_SQL,
        {"slug": chart.slug, "history_start": start_of_day(chart.history_start), "as_of": as_of},
    ).fetchall()
    by_period: dict[datetime, tuple] = {}
    for row in rows:
        by_period[row[0]] = row  # one ranking per period; the latest ranking_date wins if several
    stored = [start for start in expected if start in by_period]
    window = thresholds.recent_windows[str(chart.frequency)]
    recent_expected = expected[-window:]
    recent = [by_period[start] for start in recent_expected if start in by_period]

    completeness = len(stored) / len(expected) if expected else 1.0
    recent_completeness = len(recent) / len(recent_expected) if recent_expected else 1.0
    newest = max((row[1] for row in by_period.values()), default=None)
    newest_start = max(stored, default=None)
    lag_periods = (
        len(expected) - 1 - expected.index(newest_start) if newest_start is not None else len(expected)
    )
    freshness_hours = (as_of - newest).total_seconds() / 3600 if newest else None

    announced = [(row[2], row[3]) for row in recent if row[3]]
    entry_ratio = sum(c for c, _ in announced) / sum(e for _, e in announced) if announced else None
    counts = [row[2] for row in recent]
    changes = [abs(b - a) / a for a, b in itertools.pairwise(counts) if a]
    variation = sum(changes) / len(changes) if changes else None
    failures = [
        row[1].isoformat()
        for row in recent
        if row[4] == 0 or row[5] != row[4] or row[2] != row[4] or (row[3] is not None and row[4] < row[3])
    ]

    parts = {
        "completeness": _points(
            recent_completeness, thresholds.completeness_bands, thresholds.band_points, higher_is_better=True
        ),
        "freshness": _points(
            float(lag_periods) if expected else 0.0,
            thresholds.freshness_bands,
            thresholds.band_points,
            higher_is_better=False,
        ),
        "entry_ratio": _points(
            entry_ratio if entry_ratio is not None else (1.0 if recent else None),
            thresholds.entry_ratio_bands,
            thresholds.band_points,
            higher_is_better=True,
        ),
        "consistency": _points(
            variation if variation is not None else (0.0 if recent else None),
            thresholds.consistency_bands,
            thresholds.band_points,
            higher_is_better=False,
        ),
    }
    penalty = thresholds.validation_failure_penalty * len(failures)
    score = max(0, min(100, sum(parts.values()) - penalty))
    return ChartHealth(
        slug=chart.slug,
        day=as_of.astimezone(UTC).date(),
        frequency=str(chart.frequency),
        expected_periods=len(expected),
        stored_periods=len(stored),
        completeness=round(completeness, 4),
        recent_window=window,
        recent_completeness=round(recent_completeness, 4),
        newest_ranking_date=newest,
        freshness_hours=round(freshness_hours, 2) if freshness_hours is not None else None,
        freshness_ratio=float(lag_periods),
        entry_ratio=round(entry_ratio, 4) if entry_ratio is not None else None,
        entry_count_variation=round(variation, 4) if variation is not None else None,
        validation_failures=len(failures),
        score=score,
        band=thresholds.band(score),
        details={
            "points": parts,
            "penalty": penalty,
            "failing_rankings": failures,
            "missing_recent_periods": [s.date().isoformat() for s in recent_expected if s not in by_period],
        },
    )


def refresh_chart_health(
    conn: psycopg.Connection, charts: Sequence[ChartConfig], thresholds: HealthThresholds, as_of: datetime
) -> list[ChartHealth]:
    """Compute and store the health of every chart that has a row in ``charts`` (one transaction)."""
    results = []
    with conn.transaction():
        for chart in charts:
            health = compute_chart_health(conn, chart, thresholds, as_of)
            params = {**health.as_xcom(), "details": Jsonb(health.details)}
            params["newest_ranking_date"] = health.newest_ranking_date
            if conn.execute(_UPSERT_SQL, params).fetchone() is not None:
                results.append(health)
    return results


def charts_below(healths: Sequence[ChartHealth], threshold: int) -> list[ChartHealth]:
    return [health for health in healths if health.score < threshold]
