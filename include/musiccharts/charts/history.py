"""Deep chart history in chunks: plan the missing periods of a range, then fetch and load them chunk by chunk.

The per-period DAG pays Airflow's task start-up for every period; an import of hundreds of periods should
instead run at the rate the API allows. This module holds the logic, without Airflow:

- :func:`plan_import` finds, per chart, the periods of the range that are not stored completely, resolves
  each one's ranking datetime from the API's published dates, and cuts them into a few balanced chunks
  (a chunk may span charts: each mapped task pays Airflow's start-up once for hundreds of periods);
- :func:`import_chunk` fetches the periods of a chunk a few at a time (threads sharing the hook's session
  and the shared rate limit, so one chunk alone can keep up with the limit) and stores them in
  ``load_rankings`` transactions of up to :data:`LOAD_BATCH` periods of one chart, each as soon as its
  periods are fetched (loading overlaps fetching), with the same checks, exits and idempotency as a single
  period run. A period that fails (not published, a bad page, a mismatch) fails alone: it is reported and
  left to its per-period DAG run, and the rest of the chunk is stored;
- :func:`summarise_import` turns the chunk results into per-chart progress (stored, skipped, failed).

A period this import stores is complete in the sense of :func:`~musiccharts.charts.load.is_period_complete`,
so the per-period catchup run of that period skips the API entirely.
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections.abc import Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import psycopg

from musiccharts.charts.load import RankingLoad, load_rankings
from musiccharts.charts.quality import complete_ranking_dates
from musiccharts.charts.ranking_dates import find_period_ranking, stored_ranking_dates
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

#: Most periods per chunk (one mapped task each); chunks are balanced, so 600 periods make 3 of 200. A
#: task's start-up under load (10-30 s) is then paid a few times per import instead of once per 30 periods,
#: and a retry redoes little: what a chunk already loaded is skipped without a call.
DEFAULT_CHUNK_SIZE = 200
#: Rankings a chunk fetches at once. Each request waits on the shared limiter (one grant every 0.1 s at
#: 600/min) and then on the network; a few in flight keep the limiter busy through those waits, even when a
#: chunk runs alone. More would only queue on the limiter.
FETCH_CONCURRENCY = 4
#: Periods of one chart per load transaction: loading starts while the chunk still fetches, and a failed
#: chunk keeps what it stored.
LOAD_BATCH = 30
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


def latest_per_period(
    periods: Sequence[tuple[datetime, datetime]], moments: Iterable[datetime]
) -> dict[int, datetime]:
    """For sorted, disjoint ``periods`` ``[start, end)``: the latest of ``moments`` in each, by index."""
    starts = [start for start, _end in periods]
    found: dict[int, datetime] = {}
    for moment in moments:
        index = bisect.bisect_right(starts, moment) - 1
        if index >= 0 and moment < periods[index][1] and (index not in found or moment > found[index]):
            found[index] = moment
    return found


def complete_periods(
    conn: psycopg.Connection, slug: str, periods: Sequence[tuple[datetime, datetime]]
) -> set[int]:
    """Indexes of ``periods`` stored completely (one query for the whole range, not one per period)."""
    if not periods:
        return set()
    return set(latest_per_period(periods, complete_ranking_dates(conn, slug, periods[0][0], periods[-1][1])))


def plan_chart(
    api: RankingApi, conn: psycopg.Connection, chart_range: ChartRange, now: datetime
) -> ChartPlan:
    """Missing periods of one chart and the datetime of each one's published ranking.

    The ranking datetimes come from :func:`~musiccharts.charts.ranking_dates.find_period_ranking` (the
    dates the API published, kept in the database and read incrementally), exactly as a period run gets
    its own; the API is asked only when something is missing, so a stored range costs no call. Completeness
    and the kept dates are read for the whole range at once: per period, hundreds of queries made planning
    a deep range take seconds before any chunk could start.
    """
    chart = chart_range.chart
    plan = ChartPlan(slug=chart.slug)
    periods = chart_periods(chart, chart_range.first_day, chart_range.last_day, now)
    plan.periods = len(periods)
    complete = complete_periods(conn, chart.slug, periods)
    missing = [period for index, period in enumerate(periods) if index not in complete]
    plan.already_stored = len(periods) - len(missing)
    if not missing:
        return plan
    # Oldest first: the first lookup reads available-rankings back past the oldest missing period (and keeps
    # the dates), so the others are answered from the kept dates without another call.
    first = find_period_ranking(api, conn, chart.slug, *missing[0])
    published = latest_per_period(
        missing, stored_ranking_dates(conn, chart.slug, missing[0][0], missing[-1][1])
    )
    for index, (start, end) in enumerate(missing):
        if index in published:
            plan.planned.append(published[index])
            continue
        # No kept date: not published yet, or skipped for good; find_period_ranking tells which.
        publication = first if index == 0 else find_period_ranking(api, conn, chart.slug, start, end)
        if publication.ranking_date is not None:
            plan.planned.append(publication.ranking_date)
        elif publication.never_published:
            plan.never_published.append(start.date().isoformat())
        else:
            plan.unpublished.append(start.date().isoformat())
    return plan


def cut_chunks(plans: Sequence[ChartPlan], chunk_size: int) -> list[dict[str, Any]]:
    """The planned periods, chart by chart and oldest first, in balanced chunks of at most ``chunk_size``.

    A chunk is ``{"parts": [{"chart": slug, "dates": [ranking datetimes]}, ...]}``: one part per chart it
    covers. Balanced: 610 periods with a size of 200 make 4 chunks of 152-153, not 3 full ones and a
    straggler of 10 that would pay a whole task start-up for almost nothing.
    """
    periods = [(plan.slug, moment) for plan in plans for moment in sorted(plan.planned)]
    if not periods:
        return []
    count = -(-len(periods) // chunk_size)
    chunks = []
    for index in range(count):
        parts: list[dict[str, Any]] = []
        for slug, moment in periods[index * len(periods) // count : (index + 1) * len(periods) // count]:
            if not parts or parts[-1]["chart"] != slug:
                parts.append({"chart": slug, "dates": []})
            parts[-1]["dates"].append(moment.isoformat())
        chunks.append({"parts": parts})
    return chunks


def _part_label(part: dict[str, Any]) -> str:
    first, last = part["dates"][0][:10], part["dates"][-1][:10]
    return f"{part['chart']} {first if first == last else f'{first}..{last}'}"


def chunk_label(chunk: dict[str, Any]) -> str:
    """The map index users see for a chunk.

    One chart: ``global-28 2025-01-01..2025-01-30 (30)``; several: ``at-28 2026-10-01..2026-10-30, be-28
    2026-10-01..2026-10-30 (60)``, the middle ones elided past three charts (``at-28 ... + 5 charts ...``).
    """
    parts = chunk["parts"]
    total = sum(len(part["dates"]) for part in parts)
    if len(parts) <= 3:
        return f"{', '.join(_part_label(part) for part in parts)} ({total})"
    return f"{_part_label(parts[0])} + {len(parts) - 2} charts + {_part_label(parts[-1])} ({total})"


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
        chunk_size = max(chunk_size, -(-total // max_chunks))
    chunks = cut_chunks(plans, chunk_size)
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
_FATAL_API_ERRORS: tuple[type[Exception], ...] = (SoundchartsAuthError, SoundchartsQuotaExhausted)
#: Errors of one period (a transient API failure past the hook's retries, a bad payload, a mismatch): that
#: period is reported, and the rest of the chunk goes on.
_PERIOD_ERRORS: tuple[type[Exception], ...] = (SoundchartsError, *PERMANENT_ERRORS)
#: What the loader refuses for a ranking (it wrote nothing then).
_LOAD_ERRORS: tuple[type[Exception], ...] = (
    ValueError,
    psycopg.errors.DataError,
    psycopg.errors.IntegrityError,
)


def _reason(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:_REASON_CHARS]


@dataclass(frozen=True)
class _Period:
    chart: ChartConfig
    moment: datetime  # the published ranking datetime
    start: datetime
    end: datetime

    @property
    def day(self) -> str:
        return self.start.date().isoformat()


def _fetch_period(api: RankingApi, period: _Period, stop: threading.Event) -> RankingLoad | str | None:
    """The period's checked ranking, or why it failed (runs in a fetch thread; fatal errors propagate).

    None: not fetched, because a fatal error in another thread set ``stop`` (the call would fail alike, and
    a quota refusal must not be answered with more calls). Threads still pick up the queued periods until
    the main thread cancels them, so the event, not the cancellation, bounds the calls sent after it.
    """
    if stop.is_set():
        return None
    try:
        ranking = api.get_chart_ranking(period.chart.slug, period.moment)
        check_fetched_ranking(period.chart, ranking, period.start, period.end, period.moment)
    except _FATAL_API_ERRORS:
        stop.set()
        raise
    except _PERIOD_ERRORS as error:
        log.warning(
            "%s %s failed and is left to its per-period run: %s", period.chart.slug, period.day, error
        )
        return _reason(error)
    return RankingLoad(ranking, period.start, period.end)


@dataclass
class _ChartOutcome:
    stored: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def as_xcom(self) -> dict[str, Any]:
        return {"stored": sorted(self.stored), "skipped": sorted(self.skipped), "failed": self.failed}


def _load(conn: psycopg.Connection, slug: str, loads: list[RankingLoad], outcome: _ChartOutcome) -> None:
    """Store ``loads`` in one transaction; if the loader refuses it (nothing written), one by one."""
    try:
        load_rankings(conn, slug, loads)
        outcome.stored += [load.period_start.date().isoformat() for load in loads]
        return
    except _LOAD_ERRORS as error:
        if len(loads) == 1:
            outcome.failed[loads[0].period_start.date().isoformat()] = _reason(error)
            return
        log.warning("%s: batch load refused (%s); loading its periods one by one", slug, error)
    for load in loads:
        _load(conn, slug, [load], outcome)


def removed_chart_reason(slug: str) -> str:
    """Why the periods of a chart planned but no longer configured are not imported."""
    return (
        f"chart {slug!r} is no longer in include/config/charts.yaml (removed after the import was planned): "
        f"its periods are not imported"
    )


def import_chunk(
    api: RankingApi,
    dsn: str,
    charts: Mapping[str, ChartConfig],
    parts: Sequence[dict[str, Any]],
    *,
    fetch_concurrency: int = FETCH_CONCURRENCY,
    load_batch: int = LOAD_BATCH,
) -> dict[str, dict[str, Any]]:
    """Fetch the rankings of a chunk's ``parts`` (chart slug + ranking datetimes) and store the good ones.

    Periods already complete (stored meanwhile, or by an earlier try of this chunk) are skipped without a
    call. The others are fetched ``fetch_concurrency`` at a time, in order, by threads sharing ``api`` (its
    session and rate limiter must be thread-safe, and built before: the caller's business); the main thread
    loads them as they arrive, in :func:`load_rankings` transactions of up to ``load_batch`` periods of one
    chart. A period whose fetch or checks fail is reported in its chart's ``failed`` and not stored; should
    a batch's transaction be refused, it has written nothing and its periods are loaded one by one, so that
    only the culprit fails. Errors that hit every period alike (credentials, quota, the database) are
    raised; before a credential or quota error is, every ranking already fetched (paid for) is stored.
    A chart of ``parts`` missing from ``charts`` (dropped from charts.yaml since planning) has its periods
    failed, saying so. Returns ``{slug: {stored, skipped, failed}}``.
    """
    outcomes = {part["chart"]: _ChartOutcome() for part in parts}
    todo: list[_Period] = []
    # Autocommit: the completeness checks hold no transaction open across the API calls; each
    # load_rankings call below is then one transaction of its own.
    with product_db_session(dsn, autocommit=True) as conn:
        for part in parts:
            chart = charts.get(part["chart"])
            if chart is None:
                # Dropped from charts.yaml since planning: its periods fail (reported), the others go on.
                reason = removed_chart_reason(part["chart"])
                log.error("%s", reason)
                outcomes[part["chart"]].failed.update({moment[:10]: reason for moment in part["dates"]})
                continue
            moments = sorted(datetime.fromisoformat(text) for text in part["dates"])
            periods = [period_containing(chart.frequency, moment.date()) for moment in moments]
            complete = complete_periods(conn, chart.slug, periods)
            for index, (moment, (start, end)) in enumerate(zip(moments, periods, strict=True)):
                if index in complete:
                    outcomes[chart.slug].skipped.append(start.date().isoformat())
                else:
                    todo.append(_Period(chart, moment, start, end))
        batch: list[RankingLoad] = []
        batch_chart = ""

        def flush() -> None:
            if batch:
                _load(conn, batch_chart, batch, outcomes[batch_chart])
                batch.clear()

        def take(period: _Period, fetched: RankingLoad | str) -> None:
            nonlocal batch_chart
            if isinstance(fetched, str):
                outcomes[period.chart.slug].failed[period.day] = fetched
                return
            if period.chart.slug != batch_chart or len(batch) >= load_batch:
                flush()
                batch_chart = period.chart.slug
            batch.append(fetched)

        stop = threading.Event()
        pool = ThreadPoolExecutor(max_workers=max(1, fetch_concurrency), thread_name_prefix="ranking-fetch")
        try:
            futures = [pool.submit(_fetch_period, api, period, stop) for period in todo]
            for index, (period, future) in enumerate(zip(todo, futures, strict=True)):
                try:
                    fetched = future.result()
                except _FATAL_API_ERRORS:
                    # The rankings fetched so far are paid for and sound: store them before failing the
                    # chunk (a retry then skips them), those the other threads fetched after this one too.
                    pool.shutdown(wait=True, cancel_futures=True)
                    for later_period, later in zip(todo[index + 1 :], futures[index + 1 :], strict=True):
                        if not later.cancelled() and later.exception() is None:
                            later_fetched = later.result()
                            if later_fetched is not None:
                                take(later_period, later_fetched)
                    flush()
                    raise
                if fetched is not None:  # None: stopped by a fatal error of a later period, raised there
                    take(period, fetched)
            flush()
        finally:
            # On a fatal error, the fetches not started yet are dropped (they would fail alike).
            pool.shutdown(wait=True, cancel_futures=True)
    for slug, outcome in outcomes.items():
        log.info(
            "%s: %d periods stored, %d already complete, %d failed%s",
            slug,
            len(outcome.stored),
            len(outcome.skipped),
            len(outcome.failed),
            "".join(f"\n  failed {day}: {reason}" for day, reason in sorted(outcome.failed.items())),
        )
    return {slug: outcome.as_xcom() for slug, outcome in outcomes.items()}


# --- the run's summary -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChartProgress:
    stored: int = 0
    skipped: int = 0
    failed: int = 0


def chunks_without_result(chunks: Sequence[dict[str, Any]], results: Iterable[dict[str, Any] | None]) -> list:
    """The chunks whose task left no result (it failed as a whole), matched by their ``chunk`` label."""
    labels = {result["chunk"] for result in results if result}
    return [chunk for chunk in chunks if chunk_label(chunk) not in labels]


def complete_moments(
    dsn: str, charts: Mapping[str, ChartConfig], parts: Iterable[dict[str, Any]]
) -> dict[str, set[str]]:
    """Per chart, the ranking datetimes of ``parts`` (as given) whose period is now stored completely.

    What a failed chunk stored before it failed: its load batches commit one by one, so it may have stored
    most of its periods. The same completeness query as the planner's; a chart no longer configured (its
    period boundaries unknown) has none.
    """
    found: dict[str, set[str]] = {}
    with product_db_session(dsn, autocommit=True) as conn:
        for part in parts:
            chart = charts.get(part["chart"])
            if chart is None:
                continue
            texts = sorted(part["dates"], key=datetime.fromisoformat)
            periods = [
                period_containing(chart.frequency, datetime.fromisoformat(text).date()) for text in texts
            ]
            complete = complete_periods(conn, chart.slug, periods)
            found.setdefault(chart.slug, set()).update(texts[index] for index in complete)
    return found


def summarise_import(
    plan: dict[str, Any],
    results: Iterable[dict[str, Any] | None],
    complete_in_failed_chunks: Mapping[str, Collection[str]] | None = None,
) -> dict[str, Any]:
    """Per-chart progress of a run: periods stored, skipped (already stored, not published), failed.

    ``results`` (``{"chunk": label, "charts": {slug: {stored, skipped, failed}}}``) are matched to chunks
    by their ``chunk`` label (Airflow hands over only the results that exist, so positions do not match
    once a chunk failed). A chunk without a result (its task failed as a whole) may have stored some of its
    load batches first: ``complete_in_failed_chunks`` (:func:`complete_moments` of those chunks, read from
    the database) tells which of its ranking datetimes are stored; they count as stored, the others as
    failed. ``failed_periods`` lists ``{chart, period, reason}``: those periods are left to the per-period
    DAG. ``failed_chunks`` lists ``{chunk, stored, not_stored}`` (``{slug: [period days]}`` each).
    """
    complete = complete_in_failed_chunks or {}
    results_by_chunk = {result["chunk"]: result for result in results if result}
    counts: dict[str, dict[str, int]] = {}
    failed_periods: list[dict[str, str]] = []
    failed_chunks: list[dict[str, Any]] = []
    for slug, chart in plan["charts"].items():
        counts[slug] = {
            "stored": 0,
            "skipped": chart["already_stored"]
            + len(chart["unpublished"])
            + len(chart.get("never_published", [])),
            "failed": 0,
        }
    for chunk in plan["chunks"]:
        label = chunk_label(chunk)
        result = results_by_chunk.get(label)
        if result is None:
            failed_chunks.append({"chunk": label, "stored": {}, "not_stored": {}})
        for part in chunk["parts"]:
            slug = part["chart"]
            chart = counts[slug]
            outcome = result["charts"].get(slug) if result else None
            if outcome is None:
                stored = [moment for moment in part["dates"] if moment in complete.get(slug, ())]
                lost = [moment for moment in part["dates"] if moment not in complete.get(slug, ())]
                chart["stored"] += len(stored)
                chart["failed"] += len(lost)
                failed_periods += [
                    {
                        "chart": slug,
                        "period": moment[:10],
                        "reason": "the chunk's task failed before storing it",
                    }
                    for moment in lost
                ]
                if result is None:
                    failed_chunks[-1]["stored"][slug] = [moment[:10] for moment in stored]
                    failed_chunks[-1]["not_stored"][slug] = [moment[:10] for moment in lost]
                continue
            chart["stored"] += len(outcome["stored"])
            chart["skipped"] += len(outcome["skipped"])
            chart["failed"] += len(outcome["failed"])
            failed_periods += [
                {"chart": slug, "period": day, "reason": reason}
                for day, reason in sorted(outcome["failed"].items())
            ]
    totals = {key: sum(chart[key] for chart in counts.values()) for key in ("stored", "skipped", "failed")}
    return {
        "charts": counts,
        "totals": totals,
        "failed_periods": failed_periods,
        "failed_chunks": failed_chunks,
    }


def format_summary(summary: dict[str, Any]) -> str:
    """The summary as a small table for the task log."""
    lines = [f"{'chart':30s} {'stored':>7s} {'skipped':>8s} {'failed':>7s}"]
    for slug, chart in sorted(summary["charts"].items()):
        lines.append(f"{slug:30s} {chart['stored']:7d} {chart['skipped']:8d} {chart['failed']:7d}")
    totals = summary["totals"]
    lines.append(f"{'total':30s} {totals['stored']:7d} {totals['skipped']:8d} {totals['failed']:7d}")
    for chunk in summary.get("failed_chunks", []):
        stored = sum(len(days) for days in chunk["stored"].values())
        lost = sum(len(days) for days in chunk["not_stored"].values())
        lines.append(
            f"chunk failed: {chunk['chunk']}: {stored} period(s) stored before it failed, {lost} not stored"
        )
    for failure in summary["failed_periods"]:
        lines.append(f"failed {failure['chart']} {failure['period']}: {failure['reason']}")
    return "\n".join(lines)
