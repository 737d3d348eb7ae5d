"""Fraud and risk: the flags of every risk source (``fraud_flag_view``), filtered, each with its evidence.

A flag belongs to the DAG that computed it: audience flags (source ``soundcharts_audience``) to the fraud
detection DAG, song-analysis risk rows (source ``acrcloud_analysis``) to the analysis DAG. A user sees the
flags of the sources whose DAG they may read; the others are left out and named in ``hidden_sources``.
Each flag links to the DAG run that was running when it was computed (the run that wrote it) and its task.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from airflow.api_fastapi.common.db.common import SessionDep
from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field

from musiccharts_airflow.ui.access import (
    ANALYSIS_DAG,
    FRAUD_DETECTION_DAG,
    RETRY_ANALYSIS_DAG,
    ViewerDep,
)
from musiccharts_airflow.ui.airflow_runs import RunRef, run_at, runs_active_between, runs_by_id
from musiccharts_airflow.ui.readonly_db import ProductDbDep

router = APIRouter(prefix="/api/fraud-flags", tags=["fraud and risk"])


class FlagSource:
    """Which DAGs write a source's rows (the first one decides who may read them) and which task."""

    def __init__(self, dag_ids: tuple[str, ...], task_id: str) -> None:
        self.dag_ids = dag_ids
        self.task_id = task_id


ACRCLOUD_SOURCE = "acrcloud_analysis"
SOURCES: dict[str, FlagSource] = {
    "soundcharts_audience": FlagSource((FRAUD_DETECTION_DAG,), "score"),
    ACRCLOUD_SOURCE: FlagSource((ANALYSIS_DAG, RETRY_ANALYSIS_DAG), "analyze_song"),
}


class Flag(BaseModel):
    source: str
    entity_type: str = Field(description="track | artist (audience flags); what the source flags otherwise")
    entity_id: int
    entity_uuid: str | None = Field(None, description="Soundcharts uuid of a track or artist (page link).")
    entity_name: str | None = None
    platform: str
    identifier: str
    detector: str
    window_start: date
    window_end: date
    score: float
    evidence: dict | list
    detector_version: str
    computed_at: datetime
    dag_id: str = Field(description="The DAG that computes flags of this source.")
    task_id: str
    run_id: str | None = Field(None, description="The run that was running when the flag was computed.")


class FacetValue(BaseModel):
    source: str
    detector: str
    platform: str
    flags: int


class FlagsResponse(BaseModel):
    total: int = Field(description="Flags matching the filters (all pages).")
    flags: list[Flag]
    facets: list[FacetValue] = Field(description="Flags per source, detector and platform (unfiltered).")
    hidden_sources: list[str] = Field(description="Sources left out: their DAG is not readable.")


def readable_sources(viewer, requested: list[str] | None) -> tuple[list[str], list[str]]:
    """(sources the user may read among those asked for, sources hidden from them)."""
    primary = {name: source.dag_ids[0] for name, source in SOURCES.items()}
    readable_dags = viewer.readable_dag_ids(primary.values())
    visible = [name for name, dag_id in primary.items() if dag_id in readable_dags]
    hidden = sorted(set(primary) - set(visible))
    if requested:
        visible = [name for name in visible if name in set(requested)]
    return visible, hidden


def _number(value: Decimal | float) -> float:
    return float(value)


@router.get(
    "",
    response_model=FlagsResponse,
    summary="Fraud and risk flags with their evidence, filtered",
    description=__doc__,
)
def fraud_flags(
    viewer: ViewerDep,
    db: ProductDbDep,
    session: SessionDep,
    detector: Annotated[list[str] | None, Query(description="Only these detectors (repeatable).")] = None,
    min_score: Annotated[float | None, Query(description="Only flags scored at least this.")] = None,
    platform: Annotated[list[str] | None, Query(description="Only these platforms (repeatable).")] = None,
    source: Annotated[
        list[str] | None, Query(description=f"Only these sources: {', '.join(SOURCES)} (repeatable).")
    ] = None,
    entity_type: Annotated[str | None, Query(description="track | artist | ...")] = None,
    first_day: Annotated[
        date | None, Query(alias="from", description="Flags whose window ends on or after this day.")
    ] = None,
    last_day: Annotated[
        date | None, Query(alias="to", description="Flags whose window starts on or before this day.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> dict:
    if source:
        unknown = sorted(set(source) - set(SOURCES))
        if unknown:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"unknown source {', '.join(unknown)}")
    if first_day and last_day and first_day > last_day:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "'from' must not be after 'to'")
    sources, hidden = readable_sources(viewer, source)
    body: dict = {"total": 0, "flags": [], "facets": [], "hidden_sources": hidden}
    if not sources:
        return body
    conditions = ["source = ANY(%(sources)s)"]
    params: dict = {"sources": sources, "limit": limit, "offset": offset}
    for column, value in (("detector", detector), ("platform", platform)):
        if value:
            conditions.append(f"{column} = ANY(%({column})s)")
            params[column] = value
    if min_score is not None:
        conditions.append("score >= %(min_score)s")
        params["min_score"] = min_score
    if entity_type:
        conditions.append("entity_type = %(entity_type)s")
        params["entity_type"] = entity_type
    if first_day:
        conditions.append("window_end >= %(first_day)s")
        params["first_day"] = first_day
    if last_day:
        conditions.append("window_start <= %(last_day)s")
        params["last_day"] = last_day
    where = " AND ".join(conditions)
    with db.cursor() as cur:
        # The page and the total in one statement: the view is scanned once.
        cur.execute(
            f"""
            SELECT f.*, count(*) OVER () AS total
            FROM fraud_flag_view f
            WHERE {where}
            ORDER BY score DESC, computed_at DESC, entity_type, entity_id, detector
            LIMIT %(limit)s OFFSET %(offset)s
            """,
            params,
        )
        rows = cur.fetchall()
        names = _entity_names(cur, rows)
        analysis_runs = _analysis_runs(cur, session, rows)
        cur.execute(
            """
            SELECT source, detector, platform, count(*) AS flags FROM fraud_flag_view
            WHERE source = ANY(%(sources)s) GROUP BY source, detector, platform ORDER BY 1, 2, 3
            """,
            {"sources": sources},
        )
        body["facets"] = cur.fetchall()
    if not rows:
        return body
    body["total"] = rows[0]["total"]
    runs_of = _runs_of_sources(session, rows)
    flags = []
    for row in rows:
        flag_source = SOURCES[row["source"]]
        if row["source"] == ACRCLOUD_SOURCE:
            analysis_id = _analysis_id(row)
            run = analysis_runs.get(analysis_id) if analysis_id is not None else None
        else:
            run = run_at(runs_of.get(row["source"], []), row["computed_at"])
        uuid, name = names.get((row["entity_type"], row["entity_id"]), (None, None))
        flags.append(
            {
                **{key: value for key, value in row.items() if key != "total"},
                "score": _number(row["score"]),
                "entity_uuid": uuid,
                "entity_name": name,
                "dag_id": run.dag_id if run else flag_source.dag_ids[0],
                "task_id": flag_source.task_id,
                "run_id": run.run_id if run else None,
            }
        )
    body["flags"] = flags
    return body


def _entity_names(cur, rows: list[dict]) -> dict[tuple[str, int], tuple[str | None, str]]:
    """(entity type, id) -> (uuid, name) of the tracks, artists and songs of one page of flags."""
    names: dict[tuple[str, int], tuple[str | None, str]] = {}
    for entity_type, table in (("track", "tracks"), ("artist", "artists")):
        ids = sorted({row["entity_id"] for row in rows if row["entity_type"] == entity_type})
        if ids:
            cur.execute(f"SELECT id, uuid, name FROM {table} WHERE id = ANY(%s)", (ids,))
            names.update({(entity_type, row["id"]): (row["uuid"], row["name"]) for row in cur})
    # Song-analysis risk rows name the uploaded song; songs have no uuid, the page links them by id.
    song_ids = sorted({row["entity_id"] for row in rows if row["entity_type"] == "song"})
    if song_ids:
        cur.execute("SELECT id, title FROM songs WHERE id = ANY(%s)", (song_ids,))
        names.update({("song", row["id"]): (None, row["title"]) for row in cur})
    return names


def _analysis_id(row: dict) -> int | None:
    analysis_id = (row["evidence"] or {}).get("analysis_id")
    return int(analysis_id) if analysis_id is not None else None


def _analysis_runs(cur, session, rows: list[dict]) -> dict[int, RunRef]:
    """analysis id -> the run that analysed the song (``song_analyses.dag_run_id``).

    Exact, where a time window would not be: a retry run and a scheduled run of the analysis DAGs overlap.
    """
    analysis_ids = sorted(
        analysis_id
        for analysis_id in {_analysis_id(row) for row in rows if row["source"] == ACRCLOUD_SOURCE}
        if analysis_id is not None
    )
    if not analysis_ids:
        return {}
    cur.execute(
        "SELECT id, dag_run_id FROM song_analyses WHERE id = ANY(%s) AND dag_run_id IS NOT NULL",
        (analysis_ids,),
    )
    run_id_of = {row["id"]: row["dag_run_id"] for row in cur.fetchall()}
    runs = runs_by_id(session, list(SOURCES[ACRCLOUD_SOURCE].dag_ids), sorted(set(run_id_of.values())))
    return {analysis_id: runs[run_id] for analysis_id, run_id in run_id_of.items() if run_id in runs}


def _runs_of_sources(session, rows: list[dict]) -> dict[str, list]:
    """source -> runs of its DAGs active while its flags (of this page) were computed (audience flags)."""
    runs = {}
    for name in {row["source"] for row in rows} - {ACRCLOUD_SOURCE}:
        moments = [row["computed_at"] for row in rows if row["source"] == name]
        runs[name] = runs_active_between(session, list(SOURCES[name].dag_ids), min(moments), max(moments))
    return runs
