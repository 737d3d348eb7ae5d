"""One chart period, end to end: skip if complete, find the period's ranking datetime, fetch, validate, load.

``api`` is anything with ``get_chart_ranking(slug, ranking_date)`` and ``iter_available_ranking_dates(slug)``
(the Airflow ``SoundchartsHook`` in production, a plain ``SoundchartsClient`` in benchmarks), so this module
needs no Airflow.

The errors a retry cannot fix (:class:`RankingMismatch`, :class:`DataQualityError`,
:class:`~musiccharts.charts.validation.InvalidRanking`, :class:`RankingNeverPublished`,
:class:`PublicationDeadlineMissed`) are :data:`PERMANENT_ERRORS`: the DAG fails them at once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Protocol

from musiccharts.charts.load import load_ranking
from musiccharts.charts.quality import check_ranking_quality, is_period_complete
from musiccharts.charts.ranking_dates import PeriodPublication, find_period_ranking
from musiccharts.charts.validation import InvalidRanking, validate_ranking
from musiccharts.config import ChartConfig
from musiccharts.db.connection import product_db_session
from musiccharts.periods import in_period
from musiccharts.soundcharts.models import ChartRanking

log = logging.getLogger(__name__)


class RankingApi(Protocol):
    def get_chart_ranking(self, slug: str, ranking_date: datetime | None) -> ChartRanking: ...

    def iter_available_ranking_dates(self, slug: str) -> Iterator[list[datetime]]: ...


class RankingMismatch(ValueError):
    """The API answered with another chart, frequency or date than the one asked for."""


class DataQualityError(ValueError):
    """A stored ranking breaks an invariant; the message lists every problem found."""


class RankingNeverPublished(LookupError):
    """The chart published newer rankings but none inside this period: waiting cannot help."""


class PublicationDeadlineMissed(TimeoutError):
    """The period's ranking is still not published past the chart's publication deadline."""


PERMANENT_ERRORS: tuple[type[Exception], ...] = (
    RankingMismatch,
    DataQualityError,
    InvalidRanking,
    RankingNeverPublished,
    PublicationDeadlineMissed,
)


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
    with product_db_session(dsn) as conn:
        complete = is_period_complete(conn, chart.slug, start, end)
    if complete:
        log.info("%s [%s, %s) is already complete: no API call", chart.slug, start, end)
    return not complete


def _period_label(chart: ChartConfig, start: datetime, end: datetime) -> str:
    return f"chart {chart.slug} period [{start.isoformat()}, {end.isoformat()})"


def published_ranking_date(
    api: RankingApi, dsn: str, chart: ChartConfig, start: datetime, end: datetime, *, now: datetime
) -> datetime | None:
    """The ranking datetime of the period once published, None while it may still appear.

    Raises :class:`RankingNeverPublished` when newer rankings exist and none covers the period, and
    :class:`PublicationDeadlineMissed` once ``now`` is past ``end + chart.deadline`` with nothing published.
    """
    with product_db_session(dsn) as conn:
        publication: PeriodPublication = find_period_ranking(api, conn, chart.slug, start, end)
    if publication.ranking_date is not None:
        return publication.ranking_date
    newest = publication.newest_published.isoformat() if publication.newest_published else "none"
    if publication.never_published:
        raise RankingNeverPublished(
            f"{_period_label(chart, start, end)}: Soundcharts published no ranking in this period "
            f"(newest published ranking: {newest})"
        )
    deadline = end + chart.deadline
    if now >= deadline:
        raise PublicationDeadlineMissed(
            f"{_period_label(chart, start, end)}: not published by the deadline {deadline.isoformat()} "
            f"(publication_deadline {chart.deadline}); newest published ranking: {newest}"
        )
    log.info(
        "%s: not published yet (newest published ranking: %s); waiting until %s at the latest",
        _period_label(chart, start, end),
        newest,
        deadline.isoformat(),
    )
    return None


def check_fetched_ranking(
    chart: ChartConfig, ranking: ChartRanking, start: datetime, end: datetime, ranking_date: datetime
) -> None:
    """Raise unless ``ranking`` is the valid ranking of ``chart`` published at ``ranking_date`` in the period.

    Everything a period load checks before its transaction (a period run and the history import alike).
    """
    if not in_period(ranking_date, start, end):
        raise RankingMismatch(
            f"{_period_label(chart, start, end)}: ranking date {ranking_date.isoformat()} is outside it"
        )
    if ranking.chart.slug != chart.slug:
        raise RankingMismatch(f"asked for chart {chart.slug!r}, the API answered {ranking.chart.slug!r}")
    if ranking.chart.frequency.lower() != chart.frequency.value:
        raise RankingMismatch(
            f"{chart.slug}: charts.yaml says frequency {chart.frequency.value!r}, "
            f"the API says {ranking.chart.frequency!r}; fix the entry in include/config/charts.yaml"
        )
    if ranking.date != ranking_date:
        raise RankingMismatch(
            f"{chart.slug}: asked for the ranking of {ranking_date.isoformat()}, "
            f"the API answered the one of {ranking.date.isoformat()}"
        )
    validate_ranking(ranking)  # before any transaction: an invalid ranking never replaces a stored one


def fetch_and_load_period(
    api: RankingApi,
    dsn: str,
    chart: ChartConfig,
    start: datetime,
    end: datetime,
    ranking_date: datetime,
) -> PeriodLoad:
    """Fetch the ranking published at ``ranking_date`` (all pages), validate it, then load it atomically."""
    if not in_period(ranking_date, start, end):
        raise RankingMismatch(
            f"{_period_label(chart, start, end)}: ranking date {ranking_date.isoformat()} is outside it"
        )
    ranking = api.get_chart_ranking(chart.slug, ranking_date)
    check_fetched_ranking(chart, ranking, start, end, ranking_date)
    with product_db_session(dsn) as conn:
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
    with product_db_session(dsn) as conn:
        problems = check_ranking_quality(conn, ranking_id)
    if problems:
        raise DataQualityError(f"ranking {ranking_id} failed data-quality checks: " + "; ".join(problems))
