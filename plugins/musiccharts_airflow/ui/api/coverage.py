"""Coverage: for every chart and every period that has ended, is its ranking stored, and if not, why.

Status of one period, first match wins:

- ``stored``: the ranking is in the product database with every announced entry;
- ``incomplete``: a ranking is stored but holds fewer entries than the API announced (a bad period);
- ``waiting``: no ranking yet and the period's DAG run is queued or running (the sync task retries
  until Soundcharts publishes the ranking);
- ``failed``: no ranking and the period's DAG run failed;
- ``missing``: no ranking and no run that could still bring it (never run, or the data was removed).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated

from airflow.api_fastapi.common.db.common import SessionDep
from fastapi import APIRouter, HTTPException, Query, Response, status
from pydantic import BaseModel, Field

from musiccharts.config import ChartConfig
from musiccharts_airflow.ui.access import ViewerDep
from musiccharts_airflow.ui.airflow_runs import ACTIVE_STATES, runs_by_period
from musiccharts_airflow.ui.chart_catalog import complete_periods, configured_charts, default_window
from musiccharts_airflow.ui.readonly_db import ProductDbDep, ReadOnlyProductDatabase

router = APIRouter(prefix="/api/coverage", tags=["coverage"])

MAX_WINDOW_DAYS = 731
#: Up to this many charts per request, every period carries its DAG run (links); beyond, only the runs
#: that decide a status (not successful) are read, and a page asks for one chart's runs when it needs them.
RUN_LINKS_MAX_CHARTS = 5


class PeriodStatus(StrEnum):
    STORED = "stored"
    INCOMPLETE = "incomplete"
    WAITING = "waiting"
    FAILED = "failed"
    MISSING = "missing"


class PeriodCoverage(BaseModel):
    start: date = Field(description="First day of the period (the DAG run's data interval start).")
    end: date = Field(description="Day after the period (data interval end, exclusive).")
    status: PeriodStatus
    ranking_id: int | None = Field(None, description="The stored ranking, if any.")
    entries: int | None = Field(None, description="Entries stored for the period.")
    expected: int | None = Field(None, description="Entries the API announced for the period.")
    run_id: str | None = Field(None, description="The period's latest DAG run, if any.")
    run_state: str | None = None


class ChartCoverage(BaseModel):
    slug: str
    dag_id: str
    platform: str
    country: str
    frequency: str
    enabled: bool
    history_start: date
    counts: dict[PeriodStatus, int]
    first_period_start: date | None = Field(description="Start of the first period of the window.")
    statuses: str = Field(
        description="Every period's status in order, one letter each: s(tored), i(ncomplete), w(aiting), "
        "f(ailed), m(issing)."
    )
    periods: list[PeriodCoverage] = Field(
        description="Detailed periods: every period (with its DAG run) when at most 5 charts are asked for "
        "or detail=true; otherwise only the periods that are not stored."
    )


class CoverageResponse(BaseModel):
    first_day: date
    last_day: date
    generated_at: datetime
    charts: list[ChartCoverage]
    hidden_charts: int = Field(description="Configured charts left out because their DAG is not readable.")


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _stored_rankings(db: ReadOnlyProductDatabase, slugs: list[str], start: datetime, end: datetime) -> dict:
    """(slug, period_start) -> (ranking id, entries, expected entries) of rankings dated in [start, end)."""
    with db.cursor() as cur:
        cur.execute(
            """
            SELECT c.slug, r.period_start, r.id, r.entry_count, r.expected_entries
            FROM charts c
            JOIN rankings r ON r.chart_id = c.id
            WHERE c.slug = ANY(%(slugs)s)
              AND r.ranking_date >= %(start)s AND r.ranking_date < %(end)s
            """,
            {"slugs": slugs, "start": start, "end": end},
        )
        return {
            (row["slug"], row["period_start"]): (row["id"], row["entry_count"], row["expected_entries"])
            for row in cur
        }


def _stored_summary(db: ReadOnlyProductDatabase, slugs: list[str], start: datetime, end: datetime) -> dict:
    """slug -> (period starts "YYYY-MM-DD" of complete rankings, {start: incomplete ranking}).

    Aggregated in the database: a year of 50 daily charts is 18,250 rankings, and turning each into a Python
    row would cost more than the query itself.
    """
    with db.cursor() as cur:
        cur.execute(
            """
            SELECT c.slug,
                   string_agg(to_char(r.period_start AT TIME ZONE 'UTC', 'YYYY-MM-DD'), ',')
                       FILTER (WHERE r.expected_entries IS NULL OR r.entry_count >= r.expected_entries)
                       AS complete,
                   json_agg(json_build_object(
                       'start', to_char(r.period_start AT TIME ZONE 'UTC', 'YYYY-MM-DD'), 'id', r.id,
                       'entries', r.entry_count, 'expected', r.expected_entries))
                       FILTER (WHERE r.entry_count < r.expected_entries) AS incomplete
            FROM charts c
            JOIN rankings r ON r.chart_id = c.id
            WHERE c.slug = ANY(%(slugs)s)
              AND r.ranking_date >= %(start)s AND r.ranking_date < %(end)s
            GROUP BY c.slug
            """,
            {"slugs": slugs, "start": start, "end": end},
        )
        return {
            row["slug"]: (
                set(row["complete"].split(",")) if row["complete"] else set(),
                {item["start"]: item for item in row["incomplete"] or []},
            )
            for row in cur
        }


_LETTERS = {
    PeriodStatus.STORED: "s",
    PeriodStatus.INCOMPLETE: "i",
    PeriodStatus.WAITING: "w",
    PeriodStatus.FAILED: "f",
    PeriodStatus.MISSING: "m",
}


def build_coverage(
    db: ReadOnlyProductDatabase,
    session,
    charts: list[ChartConfig],
    first_day: date,
    last_day: date,
    statuses: set[PeriodStatus] | None = None,
    detailed: bool | None = None,
) -> list[dict]:
    """Coverage of each chart. Detailed: every period is a cell with its ranking and run; otherwise only
    the periods that are not stored are cells, and ``statuses`` spells every period's status."""
    if detailed is None:
        detailed = len(charts) <= RUN_LINKS_MAX_CHARTS
    now = datetime.now(UTC)
    periods = {chart.slug: complete_periods(chart, first_day, last_day, now) for chart in charts}
    all_starts = [start for chart_periods in periods.values() for start, _ in chart_periods]
    if not all_starts:
        return [_chart_dict(chart, [], "") for chart in charts]
    window_start = min(all_starts)
    window_end = max(end for chart_periods in periods.values() for _, end in chart_periods)
    slugs = [chart.slug for chart in charts]
    if detailed:
        rows = _stored_rankings(db, slugs, window_start, window_end)
        stored: dict = {}
        for (slug, start), (ranking_id, entries, expected) in rows.items():
            complete, incomplete = stored.setdefault(slug, (set(), {}))
            item = {
                "start": start.date().isoformat(),
                "id": ranking_id,
                "entries": entries,
                "expected": expected,
            }
            if expected is None or entries >= expected:
                complete.add(item["start"])
            else:
                incomplete[item["start"]] = item
        details = {
            (slug, start.date().isoformat()): (ranking_id, entries, expected)
            for (slug, start), (ranking_id, entries, expected) in rows.items()
        }
    else:
        stored = _stored_summary(db, slugs, window_start, window_end)
        details = {}
    runs = runs_by_period(
        session, [chart.dag_id for chart in charts], window_start, window_end, successful=detailed
    )
    result = []
    for chart in charts:
        complete, incomplete = stored.get(chart.slug, (set(), {}))
        chart_periods = periods[chart.slug]
        keys = [start.date().isoformat() for start, _ in chart_periods]
        # Most periods are stored: one set lookup each; only the others are looked at one by one.
        letters = ["s" if key in complete else "" for key in keys]
        cells = []
        for index, key in enumerate(keys):
            if letters[index] and not detailed:
                continue
            start, end = chart_periods[index]
            run = runs.get((chart.dag_id, start))
            if letters[index]:
                state = PeriodStatus.STORED
            elif key in incomplete:
                state = PeriodStatus.INCOMPLETE
            elif run is not None and run.state in ACTIVE_STATES:
                state = PeriodStatus.WAITING
            elif run is not None and run.state == "failed":
                state = PeriodStatus.FAILED
            else:
                state = PeriodStatus.MISSING
            letters[index] = _LETTERS[state]
            if statuses and state not in statuses:
                continue
            ranking = details.get((chart.slug, key))
            if ranking is None and key in incomplete:
                ranking = (incomplete[key]["id"], incomplete[key]["entries"], incomplete[key]["expected"])
            cells.append(
                {
                    "start": key,
                    "end": end.date().isoformat(),
                    "status": state.value,
                    "ranking_id": ranking[0] if ranking else None,
                    "entries": ranking[1] if ranking else None,
                    "expected": ranking[2] if ranking else None,
                    "run_id": run.run_id if run else None,
                    "run_state": run.state if run else None,
                }
            )
        result.append(_chart_dict(chart, cells, "".join(letters), keys[0] if keys else None))
    return result


def _chart_dict(chart: ChartConfig, cells: list[dict], letters: str, first_start: str | None = None) -> dict:
    counts = {state.value: letters.count(letter) for state, letter in _LETTERS.items()}
    return {
        "slug": chart.slug,
        "dag_id": chart.dag_id,
        "platform": chart.platform,
        "country": chart.country,
        "frequency": chart.frequency.value,
        "enabled": chart.enabled,
        "history_start": chart.history_start.isoformat(),
        "counts": counts,
        "first_period_start": first_start,
        "statuses": letters,
        "periods": cells,
    }


def resolve_window(first_day: date | None, last_day: date | None) -> tuple[date, date]:
    default_first, default_last = default_window()
    last_day = last_day or default_last
    first_day = first_day or (last_day - (default_last - default_first))
    if first_day > last_day:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "'from' must not be after 'to'")
    if (last_day - first_day) > timedelta(days=MAX_WINDOW_DAYS):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"the window may span at most {MAX_WINDOW_DAYS} days"
        )
    return first_day, last_day


@router.get(
    "",
    response_model=CoverageResponse,
    summary="Charts x periods: stored, incomplete, waiting, failed or missing",
    description=__doc__,
)
def coverage(
    viewer: ViewerDep,
    db: ProductDbDep,
    session: SessionDep,
    chart: Annotated[list[str] | None, Query(description="Only these chart slugs (repeatable).")] = None,
    period_status: Annotated[
        list[PeriodStatus] | None, Query(alias="status", description="Only periods in these states.")
    ] = None,
    first_day: Annotated[
        date | None, Query(alias="from", description="First day (default: a year ago).")
    ] = None,
    last_day: Annotated[date | None, Query(alias="to", description="Last day (default: today).")] = None,
    detail: Annotated[
        bool | None, Query(description="Every period with its run (default: when at most 5 charts).")
    ] = None,
) -> Response:
    first, last = resolve_window(first_day, last_day)
    charts = list(configured_charts())
    if chart:
        unknown = sorted(set(chart) - {c.slug for c in charts})
        if unknown:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no configured chart {', '.join(unknown)}")
        charts = [c for c in charts if c.slug in set(chart)]
    readable = viewer.readable_dag_ids(c.dag_id for c in charts)
    visible = [c for c in charts if c.dag_id in readable]
    body = {
        "first_day": first.isoformat(),
        "last_day": last.isoformat(),
        "generated_at": datetime.now(UTC).isoformat(),
        "charts": build_coverage(
            db, session, visible, first, last, set(period_status) if period_status else None, detail
        ),
        "hidden_charts": len(charts) - len(visible),
    }
    return Response(json.dumps(body, separators=(",", ":")), media_type="application/json")
