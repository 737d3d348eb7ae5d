"""Song analyses: status per song (uploaded, processing, analyzed, failed), matches and risk report.

Failed songs carry their reason; the page retries them by triggering ``retry_failed_analyses`` with the
song's id through Airflow's REST API (the user's own permission decides). Every song links to the DAG run
that analysed it and to its mapped ``analyze_song`` task instance (labelled by the song's title). The data
belongs to the analysis DAG: users who may not read ``analyze_songs`` are refused.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from airflow.api_fastapi.common.db.common import SessionDep
from fastapi import APIRouter, HTTPException, Path, Query, status
from pydantic import BaseModel, Field

from musiccharts_airflow.ui.access import ANALYSIS_DAG, RETRY_ANALYSIS_DAG, ViewerDep
from musiccharts_airflow.ui.airflow_runs import mapped_task_indexes, runs_by_id
from musiccharts_airflow.ui.readonly_db import ProductDbDep

router = APIRouter(prefix="/api/analyses", tags=["song analyses"])

ANALYSIS_TASK = "analyze_song"
MATCHES_SHOWN = 200


class SongStatus(StrEnum):
    UPLOADED = "uploaded"
    PROCESSING = "processing"
    ANALYZED = "analyzed"
    FAILED = "failed"


class RunLink(BaseModel):
    dag_id: str
    run_id: str
    state: str
    task_id: str = ANALYSIS_TASK
    map_index: int | None = Field(None, description="The song's mapped task instance in that run, if found.")
    task_state: str | None = None


class Report(BaseModel):
    risk_level: str
    match_type: str
    confidence: float
    summary: str
    critical_reasons: list[str] = []
    recommendations: list[str] = []
    details: dict | None = None


class SongSummary(BaseModel):
    id: int
    title: str
    artist: str
    status: SongStatus
    failure_reason: str | None
    original_filename: str | None
    created_at: datetime
    updated_at: datetime
    analysis_status: str | None
    scan_state: int | None
    completed_at: datetime | None
    matches: int
    report: Report | None
    run: RunLink | None


class Match(BaseModel):
    match_type: str
    match_key: str
    title: str | None
    artists: list[str]
    album: str | None
    label: str | None
    isrc: str | None
    outer_score: float | None
    similarity: float | None
    offset_seconds: float
    played_duration: float | None
    track_uuid: str | None = Field(description="The catalogue track with the same ISRC, if any.")


class AiDetection(BaseModel):
    prediction: str
    ai_probability: float | None
    likely_source: str | None


class SongDetail(SongSummary):
    audio_uri: str
    file_id: str | None
    matches_list: list[Match] = Field(description=f"Up to {MATCHES_SHOWN} matches, best first.")
    ai_detection: AiDetection | None


class AnalysesResponse(BaseModel):
    counts: dict[SongStatus, int] = Field(description="Songs per status (all songs).")
    total: int = Field(description="Songs matching the filters (all pages).")
    songs: list[SongSummary]
    retry_dag_id: str = Field(description="The DAG the page's Retry action triggers.")


_SONG_COLUMNS = """
    s.id, s.title, s.artist, s.status, coalesce(s.failure_reason, a.failure_reason) AS failure_reason,
    s.original_filename, s.created_at, s.updated_at, a.id AS analysis_id, a.status AS analysis_status,
    a.scan_state, a.completed_at, a.dag_run_id,
    r.risk_level, r.match_type, r.confidence, r.summary, r.critical_reasons, r.recommendations,
    (SELECT count(*) FROM analysis_matches m WHERE m.analysis_id = a.id) AS matches
"""
_SONG_FROM = """
    FROM songs s
    LEFT JOIN song_analyses a ON a.song_id = s.id
    LEFT JOIN analysis_reports r ON r.analysis_id = a.id
"""


def _float(value: Decimal | float | None) -> float | None:
    return None if value is None else float(value)


def _song(row: dict, run: dict | None, *, details: dict | None = None) -> dict:
    report = None
    if row["risk_level"] is not None:
        report = {
            "risk_level": row["risk_level"],
            "match_type": row["match_type"],
            "confidence": _float(row["confidence"]),
            "summary": row["summary"],
            "critical_reasons": row["critical_reasons"] or [],
            "recommendations": row["recommendations"] or [],
            "details": details,
        }
    keys = (
        "id",
        "title",
        "artist",
        "status",
        "failure_reason",
        "original_filename",
        "created_at",
        "updated_at",
        "analysis_status",
        "scan_state",
        "completed_at",
        "matches",
    )
    return {**{key: row[key] for key in keys}, "report": report, "run": run}


def _run_links(session, rows: list[dict]) -> dict[int, dict]:
    """song id -> link to its run and mapped task instance (runs of both analysis DAGs)."""
    run_ids = sorted({row["dag_run_id"] for row in rows if row["dag_run_id"]})
    runs = runs_by_id(session, [ANALYSIS_DAG, RETRY_ANALYSIS_DAG], run_ids)
    tasks = mapped_task_indexes(session, list(runs.values()), ANALYSIS_TASK)
    links = {}
    for row in rows:
        run = runs.get(row["dag_run_id"])
        if run is None:
            continue
        map_index, task_state = tasks.get((run.dag_id, run.run_id, row["title"]), (None, None))
        links[row["id"]] = {
            "dag_id": run.dag_id,
            "run_id": run.run_id,
            "state": run.state,
            "task_id": ANALYSIS_TASK,
            "map_index": map_index,
            "task_state": task_state,
        }
    return links


@router.get("", response_model=AnalysesResponse, summary="Songs and their analyses", description=__doc__)
def analyses(
    viewer: ViewerDep,
    db: ProductDbDep,
    session: SessionDep,
    song_status: Annotated[
        list[SongStatus] | None, Query(alias="status", description="Only songs in these states.")
    ] = None,
    risk_level: Annotated[
        list[str] | None, Query(description="Only songs whose report has these risk levels.")
    ] = None,
    q: Annotated[str | None, Query(max_length=100, description="Title or artist contains this.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> dict:
    viewer.require_dag(ANALYSIS_DAG, "song analyses")
    conditions = ["true"]
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    if song_status:
        conditions.append("s.status = ANY(%(statuses)s)")
        params["statuses"] = [value.value for value in song_status]
    if risk_level:
        conditions.append("r.risk_level = ANY(%(risk_levels)s)")
        params["risk_levels"] = risk_level
    if q:
        conditions.append("(s.title ILIKE %(pattern)s OR s.artist ILIKE %(pattern)s)")
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params["pattern"] = f"%{escaped}%"
    with db.cursor() as cur:
        cur.execute("SELECT status, count(*) AS songs FROM songs GROUP BY status")
        counts = {value.value: 0 for value in SongStatus} | {row["status"]: row["songs"] for row in cur}
        # Failed songs first (they need an action), then the most recently changed.
        cur.execute(
            f"""
            SELECT {_SONG_COLUMNS}, count(*) OVER () AS total
            {_SONG_FROM}
            WHERE {" AND ".join(conditions)}
            ORDER BY s.status = 'failed' DESC, s.updated_at DESC, s.id DESC
            LIMIT %(limit)s OFFSET %(offset)s
            """,
            params,
        )
        rows = cur.fetchall()
    links = _run_links(session, rows)
    return {
        "counts": counts,
        "total": rows[0]["total"] if rows else 0,
        "songs": [_song(row, links.get(row["id"])) for row in rows],
        "retry_dag_id": RETRY_ANALYSIS_DAG,
    }


@router.get(
    "/{song_id}", response_model=SongDetail, summary="One song: analysis, matches, AI detection, report"
)
def analysis_detail(
    viewer: ViewerDep,
    db: ProductDbDep,
    session: SessionDep,
    song_id: Annotated[int, Path(ge=1, description="The song's id (songs.id)")],
) -> dict:
    viewer.require_dag(ANALYSIS_DAG, "song analyses")
    with db.cursor() as cur:
        cur.execute(
            f"SELECT {_SONG_COLUMNS}, s.audio_uri, a.file_id, r.details {_SONG_FROM} WHERE s.id = %s",
            (song_id,),
        )
        row = cur.fetchone()
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no song {song_id}")
        matches: list[dict] = []
        ai_detection = None
        if row["analysis_id"] is not None:
            cur.execute(
                """
                SELECT m.match_type, m.match_key, m.title, m.artists, m.album, m.label, m.isrc,
                       m.outer_score, m.similarity, m.offset_seconds, m.played_duration, t.uuid AS track_uuid
                FROM analysis_matches m LEFT JOIN tracks t ON t.id = m.track_id
                WHERE m.analysis_id = %s
                ORDER BY m.outer_score DESC NULLS LAST, m.similarity DESC NULLS LAST, m.offset_seconds
                LIMIT %s
                """,
                (row["analysis_id"], MATCHES_SHOWN),
            )
            for match in cur:
                for key in ("outer_score", "similarity", "offset_seconds", "played_duration"):
                    match[key] = _float(match[key])
                matches.append(match)
            cur.execute(
                "SELECT prediction, ai_probability, likely_source FROM analysis_ai_detections"
                " WHERE analysis_id = %s",
                (row["analysis_id"],),
            )
            ai_detection = cur.fetchone()
            if ai_detection:
                ai_detection["ai_probability"] = _float(ai_detection["ai_probability"])
    links = _run_links(session, [row])
    return {
        **_song(row, links.get(row["id"]), details=row["details"]),
        "audio_uri": row["audio_uri"],
        "file_id": row["file_id"],
        "matches_list": matches,
        "ai_detection": ai_detection,
    }
