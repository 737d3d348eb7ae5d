"""One chart period, end to end: skip if complete, fetch every page, validate, load in one transaction.

``api`` is anything with ``get_chart_ranking(slug, ranking_date)`` (the Airflow ``SoundchartsHook`` in
production, a plain ``SoundchartsClient`` in benchmarks), so this module needs no Airflow.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Protocol

from musiccharts.charts.load import check_ranking_quality, is_period_complete, load_ranking
from musiccharts.config import ChartConfig
from musiccharts.db.connection import connect
from musiccharts.periods import in_period
from musiccharts.soundcharts.models import ChartRanking

log = logging.getLogger(__name__)


class RankingApi(Protocol):
    def get_chart_ranking(self, slug: str, ranking_date: datetime | None) -> ChartRanking: ...


class RankingNotPublishedYet(RuntimeError):
    """The API has no ranking inside the period yet (it answered with an older one); retry later."""


class RankingMismatch(ValueError):
    """The API answered with another chart or frequency than the configuration says."""


class DataQualityError(ValueError):
    """A stored ranking breaks an invariant; the message lists every problem found."""


@dataclass(frozen=True)
class PeriodLoad:
    ranking_id: int
    ranking_date: str
    entries: int
    new_tracks: int
    exits_recorded: int

    def as_xcom(self) -> dict:
        return asdict(self)


def period_needs_sync(dsn: str, chart: ChartConfig, start: datetime, end: datetime, *, force: bool) -> bool:
    """False when the period is already complete in the database and the run does not force a refetch."""
    if force:
        log.info("force=True: refetching %s for [%s, %s)", chart.slug, start, end)
        return True
    with connect(dsn) as conn:
        complete = is_period_complete(conn, chart.slug, start, end)
    if complete:
        log.info("%s [%s, %s) is already complete: no API call", chart.slug, start, end)
    return not complete


def check_fetched_ranking(chart: ChartConfig, ranking: ChartRanking, start: datetime, end: datetime) -> None:
    """Raise unless ``ranking`` is the whole ranking of ``chart`` for the period ``[start, end)``."""
    if ranking.chart.slug != chart.slug:
        raise RankingMismatch(f"asked for chart {chart.slug!r}, the API answered {ranking.chart.slug!r}")
    if ranking.chart.frequency.lower() != chart.frequency.value:
        raise RankingMismatch(
            f"{chart.slug}: charts.yaml says frequency {chart.frequency.value!r}, "
            f"the API says {ranking.chart.frequency!r}; fix the entry in include/config/charts.yaml"
        )
    if not in_period(ranking.date, start, end):
        raise RankingNotPublishedYet(
            f"{chart.slug}: latest ranking at or before {start.isoformat()} is dated "
            f"{ranking.date.isoformat()}, outside the period [{start.isoformat()}, {end.isoformat()})"
        )
    if len(ranking.items) != ranking.total:
        raise DataQualityError(
            f"{chart.slug} {ranking.date.isoformat()}: fetched {len(ranking.items)} entries, "
            f"the API announced {ranking.total}"
        )


def fetch_and_load_period(
    api: RankingApi, dsn: str, chart: ChartConfig, start: datetime, end: datetime
) -> PeriodLoad:
    """Fetch the ranking of ``[start, end)`` (all pages) and load it atomically."""
    ranking = api.get_chart_ranking(chart.slug, start)
    check_fetched_ranking(chart, ranking, start, end)
    with connect(dsn) as conn:
        result = load_ranking(conn, ranking, chart_slug=chart.slug, period_start=start, period_end=end)
    log.info(
        "%s %s: %d entries loaded (%d new tracks, %d exits)",
        chart.slug,
        ranking.date.isoformat(),
        result.entries,
        result.new_tracks,
        result.exits_recorded,
    )
    return PeriodLoad(
        ranking_id=result.ranking_id,
        ranking_date=ranking.date.isoformat(),
        entries=result.entries,
        new_tracks=result.new_tracks,
        exits_recorded=result.exits_recorded,
    )


def assert_ranking_quality(dsn: str, ranking_id: int) -> None:
    """Raise :class:`DataQualityError` listing every broken invariant of a stored ranking."""
    with connect(dsn) as conn:
        problems = check_ranking_quality(conn, ranking_id)
    if problems:
        raise DataQualityError(f"ranking {ranking_id} failed data-quality checks: " + "; ".join(problems))
