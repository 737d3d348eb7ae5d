"""Deep chart history in chunks: plan the missing periods of a range, then fetch and load them chunk by chunk.

The per-period DAG pays Airflow's task start-up for every period; an import of hundreds of periods should
instead run at the rate the API allows. This module holds the logic, without Airflow:

- :func:`plan_import` finds, per chart, the periods of the range that are not stored completely, resolves
  each one's ranking datetime from the API's published dates, and cuts them into chunks (one chart each);
- :func:`import_chunk` fetches every period of a chunk (the shared rate limit is the hook's business) and
  stores the good ones in ONE ``load_rankings`` transaction, with the same checks, exits and idempotency as a
  single period run. A period that fails (not published, a bad page, a mismatch) fails alone: it is reported
  and left to its per-period DAG run, and the rest of the chunk is stored;
- :func:`summarise_import` turns the chunk results into per-chart progress (stored, skipped, failed).

A period this import stores is complete in the sense of :func:`~musiccharts.charts.load.is_period_complete`,
so the per-period catchup run of that period skips the API entirely.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import psycopg

from musiccharts.charts.load import RankingLoad, load_rankings
from musiccharts.charts.quality import is_period_complete
from musiccharts.charts.ranking_dates import find_period_ranking
from musiccharts.charts.sync import PERMANENT_ERRORS, RankingApi, check_fetched_ranking
from musiccharts.config import ChartConfig
from musiccharts.db.connection import product_db_session
from musiccharts.periods import period_containing, start_of_day
from musiccharts.soundcharts.errors import (
    SoundchartsAuthError,
    SoundchartsError,
    SoundchartsQuotaExhausted,
)

log = logging.getLogger(__name__)

#: Periods per chunk (one mapped task each). 30 daily periods x 2 pages = 60 calls: long enough that the
#: task's start-up (seconds) is small next to its API time, short enough that a retry redoes little.
DEFAULT_CHUNK_SIZE = 30
#: Error text kept per failed period in XCom (the task log has the full message).
_REASON_CHARS = 300


class ImportRequestError(ValueError):
    """The import's parameters are inconsistent (unknown chart, from after to, ...); nothing was done."""


@dataclass(frozen=True)
class ChartRange:
    """Import the periods of ``chart`` that start in ``[first_day, last_day]`` (both included)."""

    chart: ChartConfig
    first_day: date
    last_day: date


@dataclass
class ChartPlan:
    """What planning found for one chart: ``planned`` ranking datetimes, and what needs nothing."""

    slug: str
    periods: int = 0
    already_stored: int = 0
    unpublished: list[str] = field(default_factory=list)  # period starts whose ranking is not out yet
    never_published: list[str] = field(default_factory=list)  # periods the chart skipped for good
    planned: list[datetime] = field(default_factory=list)


def choose_ranges(
    charts: Sequence[ChartConfig],
    *,
    slugs: Sequence[str],
    first_day: date | None,
    last_day: date | None,
    oldest_stored: dict[str, date | None],
    today: date,
) -> list[ChartRange]:
    """The ranges an import covers, from its Params.

    ``slugs`` empty means every enabled chart. With ``first_day``/``last_day`` the range is the same for
    every chart (clipped to its ``history_start``); without them each chart imports from its
    ``history_start`` up to the day before its oldest stored period (all of its history when nothing is
    stored), i.e. the charts whose history reaches further back than what is stored.
    """
    if (first_day is None) != (last_day is None):
        raise ImportRequestError("give both 'from' and 'to', or neither (then each chart's missing history)")
    if first_day and last_day and first_day > last_day:
        raise ImportRequestError(f"'from' ({first_day}) is after 'to' ({last_day})")
    by_slug = {chart.slug: chart for chart in charts}
    unknown = sorted(set(slugs) - set(by_slug))
    if unknown:
        raise ImportRequestError(
            f"unknown chart(s) {', '.join(unknown)}: not in include/config/charts.yaml "
            f"(known: {', '.join(sorted(by_slug)) or 'none'})"
        )
    selected = [by_slug[slug] for slug in dict.fromkeys(slugs)] if slugs else [c for c in charts if c.enabled]
    ranges = []
    for chart in selected:
        if first_day is not None and last_day is not None:
            start, end = max(first_day, chart.history_start), min(last_day, today)
        else:
            oldest = oldest_stored.get(chart.slug)
            start = chart.history_start
            end = (oldest - timedelta(days=1)) if oldest else today
        if start <= end:
            ranges.append(ChartRange(chart, start, end))
    return ranges


def oldest_stored_days(dsn: str, slugs: Iterable[str]) -> dict[str, date | None]:
    """Day of the oldest stored ranking per chart (None when the chart has none)."""
    slugs = list(slugs)
    with product_db_session(dsn) as conn:
        rows = conn.execute(
            "SELECT c.slug, min(r.ranking_date) FROM charts c JOIN rankings r ON r.chart_id = c.id "
            "WHERE c.slug = ANY(%s) GROUP BY c.slug",
            (slugs,),
        ).fetchall()
    found = {slug: moment.date() if moment else None for slug, moment in rows}
    return {slug: found.get(slug) for slug in slugs}


def chart_periods(chart: ChartConfig, first_day: date, last_day: date, now: datetime) -> list[tuple]:
    """Periods ``[start, end)`` of the chart starting in ``[first_day, last_day]`` that have ended by now."""
    periods = []
    start, end = period_containing(chart.frequency, first_day)
    if start < start_of_day(first_day):  # the period holding first_day began earlier: start at the next one
        start, end = period_containing(chart.frequency, end.date())
    while start.date() <= last_day and end <= now:
        periods.append((start, end))
        start, end = period_containing(chart.frequency, end.date())
    return periods


def plan_chart(
    api: RankingApi, conn: psycopg.Connection, chart_range: ChartRange, now: datetime
) -> ChartPlan:
    """Missing periods of one chart and the datetime of each one's published ranking.

    The ranking datetimes come from :func:`~musiccharts.charts.ranking_dates.find_period_ranking` (the
    dates the API published, kept in the database and read incrementally), exactly as a period run gets
    its own; the API is asked only when something is missing, so a stored range costs no call.
    """
    chart = chart_range.chart
    plan = ChartPlan(slug=chart.slug)
    periods = chart_periods(chart, chart_range.first_day, chart_range.last_day, now)
    plan.periods = len(periods)
    missing = [(start, end) for start, end in periods if not is_period_complete(conn, chart.slug, start, end)]
    plan.already_stored = len(periods) - len(missing)
    if not missing:
        return plan
    # Oldest first: the first lookup reads available-rankings back past the oldest missing period (and keeps
    # the dates), so the others are answered from the stored dates without another call.
    for start, end in missing:
        publication = find_period_ranking(api, conn, chart.slug, start, end)
        if publication.ranking_date is not None:
            plan.planned.append(publication.ranking_date)
        elif publication.never_published:
            plan.never_published.append(start.date().isoformat())
        else:
            plan.unpublished.append(start.date().isoformat())
    return plan


def chunk_plan(plan: ChartPlan, chunk_size: int) -> list[dict[str, Any]]:
    """The planned periods of one chart, oldest first, as small chunks (chart slug + ranking datetimes)."""
    dates = sorted(plan.planned)
    return [
        {"chart": plan.slug, "dates": [moment.isoformat() for moment in dates[i : i + chunk_size]]}
        for i in range(0, len(dates), chunk_size)
    ]


def chunk_label(chunk: dict[str, Any]) -> str:
    """``global-28 2025-01-01..2025-01-30 (30)``: the map index users see for a chunk."""
    dates = chunk["dates"]
    first, last = dates[0][:10], dates[-1][:10]
    span = first if first == last else f"{first}..{last}"
    return f"{chunk['chart']} {span} ({len(dates)})"


def plan_import(
    api: RankingApi,
    dsn: str,
    ranges: Sequence[ChartRange],
    *,
    now: datetime,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    max_chunks: int | None = None,
) -> dict[str, Any]:
    """Plan every range: ``{"charts": {slug: counts}, "chunks": [...]}`` (small, JSON-serialisable).

    ``max_chunks`` (the deployment's ``max_map_length``) grows the chunk size when needed instead of failing.
    """
    plans = []
    # Autocommit: no transaction stays open while the API is read (the date cache commits on its own).
    with product_db_session(dsn, autocommit=True) as conn:
        for chart_range in ranges:
            plans.append(plan_chart(api, conn, chart_range, now))
    total = sum(len(plan.planned) for plan in plans)
    if max_chunks:
        # Each chart's last chunk may be partial: leave one chunk of slack per chart.
        budget = max(1, max_chunks - len(plans))
        chunk_size = max(chunk_size, -(-total // budget))
    chunks = [chunk for plan in plans for chunk in chunk_plan(plan, chunk_size)]
    charts = {
        plan.slug: {
            "periods": plan.periods,
            "already_stored": plan.already_stored,
            "planned": len(plan.planned),
            "unpublished": plan.unpublished,
            "never_published": plan.never_published,
        }
        for plan in plans
    }
    for plan in plans:
        log.info(
            "%s: %d periods in range, %d already stored, %d to import, %d not published yet, %d never",
            plan.slug,
            plan.periods,
            plan.already_stored,
            len(plan.planned),
            len(plan.unpublished),
            len(plan.never_published),
        )
    return {"charts": charts, "chunks": chunks, "chunk_size": chunk_size}


# --- one chunk ---------------------------------------------------------------------------------------------

#: Errors that would hit every period alike: they fail the chunk (and stop), never one period each.
_FATAL_API_ERRORS = (SoundchartsAuthError, SoundchartsQuotaExhausted)
#: Errors of one period (a transient API failure past the hook's retries, a bad payload, a mismatch): that
#: period is reported, and the rest of the chunk goes on.
_PERIOD_ERRORS = (SoundchartsError, *PERMANENT_ERRORS)


def _reason(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:_REASON_CHARS]


def import_chunk(api: RankingApi, dsn: str, chart: ChartConfig, dates: Sequence[str]) -> dict[str, Any]:
    """Fetch the rankings of ``dates`` (ranking datetimes of one chart) and store the good ones atomically.

    Periods already complete (stored meanwhile, or by an earlier try of this chunk) are skipped without a
    call. A period whose fetch or checks fail is reported in ``failed`` and not stored; the others are
    loaded with ONE :func:`load_rankings`. Should that transaction fail (e.g. a ranking the loader refuses),
    it has written nothing and the periods are loaded one by one, so that only the culprit fails.
    Errors that hit every period alike (credentials, quota, the database) are raised.
    """
    stored: list[str] = []
    skipped: list[str] = []
    failed: dict[str, str] = {}
    loads: list[RankingLoad] = []
    # Autocommit: the completeness checks hold no transaction open across the API calls; each
    # load_rankings call below is then one transaction of its own.
    with product_db_session(dsn, autocommit=True) as conn:
        for text in dates:
            moment = datetime.fromisoformat(text)
            start, end = period_containing(chart.frequency, moment.date())
            day = start.date().isoformat()
            if is_period_complete(conn, chart.slug, start, end):
                skipped.append(day)
                continue
            try:
                ranking = api.get_chart_ranking(chart.slug, moment)
                check_fetched_ranking(chart, ranking, start, end, moment)
            except _FATAL_API_ERRORS:
                raise
            except _PERIOD_ERRORS as error:
                log.warning("%s %s failed and is left to its per-period run: %s", chart.slug, day, error)
                failed[day] = _reason(error)
                continue
            loads.append(RankingLoad(ranking, start, end))
        if loads:
            try:
                load_rankings(conn, chart.slug, loads)
                stored += [load.period_start.date().isoformat() for load in loads]
            except (ValueError, psycopg.errors.DataError, psycopg.errors.IntegrityError) as error:
                log.warning("%s: chunk load refused (%s); loading its periods one by one", chart.slug, error)
                for load in loads:
                    day = load.period_start.date().isoformat()
                    try:
                        load_rankings(conn, chart.slug, [load])
                        stored.append(day)
                    except (ValueError, psycopg.errors.DataError, psycopg.errors.IntegrityError) as single:
                        failed[day] = _reason(single)
    log.info(
        "%s: %d periods stored, %d already complete, %d failed%s",
        chart.slug,
        len(stored),
        len(skipped),
        len(failed),
        "".join(f"\n  failed {day}: {reason}" for day, reason in sorted(failed.items())),
    )
    return {"chart": chart.slug, "stored": sorted(stored), "skipped": sorted(skipped), "failed": failed}


# --- the run's summary -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChartProgress:
    stored: int = 0
    skipped: int = 0
    failed: int = 0


def summarise_import(plan: dict[str, Any], results: Iterable[dict[str, Any] | None]) -> dict[str, Any]:
    """Per-chart progress of a run: periods stored, skipped (already stored, not published), failed.

    ``results`` are matched to chunks by their ``chunk`` label (Airflow hands over only the results that
    exist, so positions do not match once a chunk failed); a chunk without a result (its task failed as a
    whole) counts all its periods as failed. ``failed_periods`` lists ``{chart, period, reason}``: those
    periods are left to the per-period DAG.
    """
    results_by_chunk = {result["chunk"]: result for result in results if result}
    counts: dict[str, dict[str, int]] = {}
    failed_periods: list[dict[str, str]] = []
    for slug, chart in plan["charts"].items():
        counts[slug] = {
            "stored": 0,
            "skipped": chart["already_stored"]
            + len(chart["unpublished"])
            + len(chart.get("never_published", [])),
            "failed": 0,
        }
    chunks = plan["chunks"]
    for chunk in chunks:
        result = results_by_chunk.get(chunk_label(chunk))
        chart = counts[chunk["chart"]]
        if result is None:
            chart["failed"] += len(chunk["dates"])
            failed_periods += [
                {"chart": chunk["chart"], "period": moment[:10], "reason": "the chunk's task failed"}
                for moment in chunk["dates"]
            ]
            continue
        chart["stored"] += len(result["stored"])
        chart["skipped"] += len(result["skipped"])
        chart["failed"] += len(result["failed"])
        failed_periods += [
            {"chart": result["chart"], "period": day, "reason": reason}
            for day, reason in sorted(result["failed"].items())
        ]
    totals = {key: sum(chart[key] for chart in counts.values()) for key in ("stored", "skipped", "failed")}
    return {"charts": counts, "totals": totals, "failed_periods": failed_periods}


def format_summary(summary: dict[str, Any]) -> str:
    """The summary as a small table for the task log."""
    lines = [f"{'chart':30s} {'stored':>7s} {'skipped':>8s} {'failed':>7s}"]
    for slug, chart in sorted(summary["charts"].items()):
        lines.append(f"{slug:30s} {chart['stored']:7d} {chart['skipped']:8d} {chart['failed']:7d}")
    totals = summary["totals"]
    lines.append(f"{'total':30s} {totals['stored']:7d} {totals['skipped']:8d} {totals['failed']:7d}")
    for failure in summary["failed_periods"]:
        lines.append(f"failed {failure['chart']} {failure['period']}: {failure['reason']}")
    return "\n".join(lines)
