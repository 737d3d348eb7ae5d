"""Product-database side of song analysis: songs, the analysis lifecycle, matches, links, reports, callbacks.

Every write is keyed on a natural key, so repeating any step (a retry, a cleared task, a second run)
rewrites the same rows: one analysis per song, one match per (analysis, match type, match key, offset),
one AI-detection row and one report per analysis. Lifecycle: ``uploaded -> processing -> analyzed |
failed`` on the song, mirrored on its analysis, with the reason of a failure kept on both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from musiccharts.analysis.results import AiDetection, Match
from musiccharts.analysis.risk import LinkedTrack, RiskReport

__all__ = [
    "AnalysisRow",
    "CallbackOutcome",
    "SongRow",
    "fail_song",
    "failed_song_ids",
    "finish_analysis",
    "get_analysis",
    "link_matches_by_isrc",
    "mark_upload_started",
    "record_callback",
    "record_scan",
    "record_upload",
    "register_song",
    "report_rows",
    "select_songs",
    "start_analysis",
    "store_ai_detection",
    "store_identification",
    "store_matches",
    "store_report",
]


@dataclass(frozen=True)
class SongRow:
    id: int
    title: str
    artist: str
    audio_uri: str
    original_filename: str | None
    status: str


@dataclass(frozen=True)
class AnalysisRow:
    id: int
    song_id: int
    status: str
    upload_name: str
    container_id: int | None
    file_id: str | None
    upload_started_at: datetime | None
    scan_state: int | None
    callback_received_at: datetime | None
    scan_results: dict[str, Any] | None
    identification: dict[str, Any] | None


@dataclass(frozen=True)
class CallbackOutcome:
    outcome: str  # accepted | duplicate | late | unknown_file | refused | invalid
    http_status: int
    song_id: int | None = None


_SONG_COLUMNS = "id, title, artist, audio_uri, original_filename, status"
_ANALYSIS_COLUMNS = (
    "id, song_id, status, upload_name, container_id, file_id, upload_started_at, scan_state,"
    " callback_received_at, scan_results, identification"
)


def register_song(
    conn: psycopg.Connection,
    *,
    title: str,
    artist: str,
    audio_uri: str,
    original_filename: str | None = None,
    file_size: int | None = None,
) -> int:
    """The song stored at ``audio_uri``, created with status ``uploaded`` if new (same URI = same song)."""
    if not title.strip() or not artist.strip():
        raise ValueError("a song needs a non-empty title and artist")
    if not audio_uri.strip():
        raise ValueError("a song needs an audio path or URL")
    row = conn.execute(
        """
        INSERT INTO songs (title, artist, audio_uri, original_filename, file_size)
        VALUES (%s, %s, %s, %s, %s)
        ON CONFLICT (audio_uri) DO UPDATE SET audio_uri = EXCLUDED.audio_uri
        RETURNING id
        """,
        (title.strip(), artist.strip(), audio_uri.strip(), original_filename, file_size),
    ).fetchone()
    assert row is not None  # INSERT ... ON CONFLICT DO UPDATE ... RETURNING always returns the row
    return int(row[0])


def select_songs(
    conn: psycopg.Connection,
    *,
    song_ids: Sequence[int] | None = None,
    statuses: Sequence[str] = ("uploaded",),
    limit: int = 500,
) -> list[SongRow]:
    """Songs to analyse: the given ids (any status), else those in ``statuses``, oldest first."""
    cursor = conn.cursor(row_factory=dict_row)
    if song_ids:
        rows = cursor.execute(
            f"SELECT {_SONG_COLUMNS} FROM songs WHERE id = ANY(%s) ORDER BY id LIMIT %s",
            (list(song_ids), limit),
        ).fetchall()
    else:
        rows = cursor.execute(
            f"SELECT {_SONG_COLUMNS} FROM songs WHERE status = ANY(%s) ORDER BY created_at, id LIMIT %s",
            (list(statuses), limit),
        ).fetchall()
    return [SongRow(**row) for row in rows]


def failed_song_ids(conn: psycopg.Connection, limit: int = 500) -> list[int]:
    rows = conn.execute(
        "SELECT id FROM songs WHERE status = 'failed' ORDER BY id LIMIT %s", (limit,)
    ).fetchall()
    return [int(row[0]) for row in rows]


def _upload_name(song: SongRow) -> str:
    base = song.original_filename or song.audio_uri.rstrip("/").rsplit("/", 1)[-1] or "audio"
    return f"musiccharts-song-{song.id}-" + re.sub(r"[^A-Za-z0-9._-]+", "_", base)[:120]


def _analysis(row: dict[str, Any] | None) -> AnalysisRow | None:
    return AnalysisRow(**row) if row else None


def get_analysis(
    conn: psycopg.Connection, *, song_id: int | None = None, file_id: str | None = None
) -> AnalysisRow | None:
    cursor = conn.cursor(row_factory=dict_row)
    if song_id is not None:
        row = cursor.execute(
            f"SELECT {_ANALYSIS_COLUMNS} FROM song_analyses WHERE song_id = %s", (song_id,)
        ).fetchone()
    else:
        row = cursor.execute(
            f"SELECT {_ANALYSIS_COLUMNS} FROM song_analyses WHERE file_id = %s", (file_id,)
        ).fetchone()
    return _analysis(row)


def start_analysis(conn: psycopg.Connection, song: SongRow, dag_run_id: str | None) -> AnalysisRow:
    """The song's analysis, created or reopened. A failed one is reopened keeping its ACRCloud file."""
    cursor = conn.cursor(row_factory=dict_row)
    row = cursor.execute(
        f"""
        INSERT INTO song_analyses (song_id, upload_name, dag_run_id)
        VALUES (%s, %s, %s)
        ON CONFLICT (song_id) DO UPDATE SET
            dag_run_id = coalesce(EXCLUDED.dag_run_id, song_analyses.dag_run_id),
            status = CASE WHEN song_analyses.status = 'failed' THEN 'processing'
                          ELSE song_analyses.status END,
            failure_reason = CASE WHEN song_analyses.status = 'failed' THEN NULL
                                  ELSE song_analyses.failure_reason END
        WHERE song_analyses.status = 'failed' OR song_analyses.dag_run_id IS DISTINCT FROM EXCLUDED.dag_run_id
        RETURNING {_ANALYSIS_COLUMNS}
        """,
        (song.id, _upload_name(song), dag_run_id),
    ).fetchone()
    if row is None:  # nothing to change (the same run again): leave the row untouched
        row = cursor.execute(
            f"SELECT {_ANALYSIS_COLUMNS} FROM song_analyses WHERE song_id = %s", (song.id,)
        ).fetchone()
    conn.execute(
        """
        UPDATE songs SET status = 'processing', failure_reason = NULL
        WHERE id = %s AND status IN ('uploaded', 'failed')
        """,
        (song.id,),
    )
    if row is None:
        raise LookupError(f"song {song.id} has no analysis")
    return AnalysisRow(**row)


def mark_upload_started(conn: psycopg.Connection, analysis_id: int) -> None:
    conn.execute(
        "UPDATE song_analyses SET upload_started_at = coalesce(upload_started_at, now()) WHERE id = %s",
        (analysis_id,),
    )


def record_upload(conn: psycopg.Connection, analysis_id: int, container_id: int, file_id: str) -> None:
    conn.execute(
        """
        UPDATE song_analyses SET container_id = %s, file_id = %s, uploaded_at = now(), scan_state = 0
        WHERE id = %s
        """,
        (container_id, file_id, analysis_id),
    )


def record_scan(
    conn: psycopg.Connection, analysis_id: int, state: int, results: dict[str, Any] | None
) -> None:
    conn.execute(
        """
        UPDATE song_analyses SET scan_state = %s, scan_results = coalesce(%s, scan_results),
            scan_finished_at = coalesce(scan_finished_at, now())
        WHERE id = %s
        """,
        (state, Jsonb(results) if results is not None else None, analysis_id),
    )


def store_identification(conn: psycopg.Connection, analysis_id: int, body: dict[str, Any]) -> None:
    conn.execute("UPDATE song_analyses SET identification = %s WHERE id = %s", (Jsonb(body), analysis_id))


def record_callback(
    conn: psycopg.Connection,
    *,
    token_valid: bool,
    payload: Any,
    source_ip: str | None,
    user_agent: str | None,
    error: str | None = None,
) -> CallbackOutcome:
    """Record one callback call and apply it if it is the first word on a file still being scanned.

    Refused (bad token) -> 403; unreadable body -> 400; unknown file id -> 404; a second callback for the
    same file (``duplicate``) or one arriving after the analysis ended (``late``) changes nothing -> 200.
    """
    file_id = None
    state = None
    if isinstance(payload, dict):
        file_id = payload.get("file_id") or payload.get("id")
        file_id = str(file_id) if file_id is not None else None
        try:
            state = int(payload["state"]) if payload.get("state") is not None else None
        except (TypeError, ValueError):
            state = None
    song_id = None
    if not token_valid:
        outcome = CallbackOutcome("refused", 403)
    elif error is not None or not file_id:
        outcome = CallbackOutcome("invalid", 400)
    else:
        row = conn.execute(
            """
            SELECT id, song_id, status, callback_received_at, scan_state FROM song_analyses
            WHERE file_id = %s FOR UPDATE
            """,
            (file_id,),
        ).fetchone()
        if row is None:
            outcome = CallbackOutcome("unknown_file", 404)
        else:
            analysis_id, song_id, status, received_at, scan_state = row
            if received_at is not None:
                outcome = CallbackOutcome("duplicate", 200, song_id)
            elif status != "processing" or (scan_state is not None and scan_state != 0):
                outcome = CallbackOutcome("late", 200, song_id)
            else:
                results = payload.get("results") if isinstance(payload.get("results"), dict) else None
                conn.execute(
                    """
                    UPDATE song_analyses SET callback_received_at = now(), scan_state = %s,
                        scan_results = %s, scan_finished_at = now()
                    WHERE id = %s
                    """,
                    (state, Jsonb(results) if results is not None else None, analysis_id),
                )
                outcome = CallbackOutcome("accepted", 200, song_id)
    conn.execute(
        """
        INSERT INTO acrcloud_callbacks
            (file_id, state, outcome, http_status, source_ip, user_agent, payload, error)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
        """,
        (
            file_id,
            state,
            outcome.outcome,
            outcome.http_status,
            source_ip,
            (user_agent or "")[:500] or None,
            Jsonb(payload) if payload is not None and outcome.outcome != "refused" else None,
            error,
        ),
    )
    return outcome


def _changed(table: str, columns: Sequence[str]) -> str:
    """An upsert's WHERE: update only when a value differs, so a repeated write leaves rows untouched."""
    mine = ", ".join(f"{table}.{column}" for column in columns)
    theirs = ", ".join(f"EXCLUDED.{column}" for column in columns)
    return f"ROW({mine}) IS DISTINCT FROM ROW({theirs})"


_MATCH_COLUMNS = (
    "analysis_id",
    "match_type",
    "match_key",
    "acrid",
    "offset_seconds",
    "played_duration",
    "title",
    "artists",
    "album",
    "label",
    "isrc",
    "upc",
    "release_date",
    "duration_ms",
    "outer_score",
    "inner_score",
    "similarity",
    "play_offset_ms",
    "db_begin_time_offset_ms",
    "db_end_time_offset_ms",
    "sample_begin_time_offset_ms",
    "sample_end_time_offset_ms",
    "raw",
)


def store_matches(conn: psycopg.Connection, analysis_id: int, matches: Iterable[Match]) -> int:
    """Upsert every match on its natural key; rows of this analysis no longer reported are removed."""
    rows = [
        (
            analysis_id,
            m.match_type,
            m.match_key,
            m.acrid,
            m.offset_seconds,
            m.played_duration,
            m.title,
            list(m.artists),
            m.album,
            m.label,
            m.isrc,
            m.upc,
            m.release_date,
            m.duration_ms,
            m.outer_score,
            m.inner_score,
            m.similarity,
            m.play_offset_ms,
            m.db_begin_time_offset_ms,
            m.db_end_time_offset_ms,
            m.sample_begin_time_offset_ms,
            m.sample_end_time_offset_ms,
            Jsonb(m.raw),
        )
        for m in matches
    ]
    updates = ", ".join(f"{column} = EXCLUDED.{column}" for column in _MATCH_COLUMNS[5:])
    changed = _changed("analysis_matches", _MATCH_COLUMNS[5:])
    with conn.cursor() as cursor:
        if rows:
            cursor.executemany(
                f"""
                INSERT INTO analysis_matches ({", ".join(_MATCH_COLUMNS)})
                VALUES ({", ".join(["%s"] * len(_MATCH_COLUMNS))})
                ON CONFLICT (analysis_id, match_type, match_key, offset_seconds) DO UPDATE SET {updates}
                WHERE {changed}
                """,
                rows,
            )
        # Rows of this analysis that the latest results no longer contain (e.g. after a rescan) go away.
        cursor.execute(
            """
            DELETE FROM analysis_matches AS m
            WHERE m.analysis_id = %s AND NOT EXISTS (
                SELECT 1
                FROM unnest(%s::text[], %s::text[], %s::numeric[]) AS k(match_type, match_key, offset_seconds)
                WHERE k.match_type = m.match_type AND k.match_key = m.match_key
                  AND k.offset_seconds = m.offset_seconds
            )
            """,
            (
                analysis_id,
                [row[1] for row in rows],
                [row[2] for row in rows],
                [float(row[4]) for row in rows],
            ),
        )
    return len(rows)


def link_matches_by_isrc(
    conn: psycopg.Connection, analysis_id: int
) -> dict[tuple[str, str, float], LinkedTrack]:
    """Point each match at the catalogue track with its ISRC (never creating tracks); return the links."""
    conn.execute(
        """
        UPDATE analysis_matches AS m SET track_id = linked.track_id
        FROM (
            SELECT m2.id, (
                SELECT t.id FROM tracks AS t WHERE upper(t.isrc) = upper(m2.isrc) ORDER BY t.id LIMIT 1
            ) AS track_id
            FROM analysis_matches AS m2 WHERE m2.analysis_id = %s
        ) AS linked
        WHERE m.id = linked.id AND m.track_id IS DISTINCT FROM linked.track_id
        """,
        (analysis_id,),
    )
    rows = conn.execute(
        """
        SELECT m.match_type, m.match_key, m.offset_seconds, t.id, t.uuid, t.name, t.credit_name,
               coalesce(array_agg(a.name ORDER BY a.name) FILTER (WHERE a.name IS NOT NULL), '{}')
        FROM analysis_matches AS m
        JOIN tracks AS t ON t.id = m.track_id
        LEFT JOIN track_artists AS ta ON ta.track_id = t.id
        LEFT JOIN artists AS a ON a.id = ta.artist_id
        WHERE m.analysis_id = %s
        GROUP BY m.match_type, m.match_key, m.offset_seconds, t.id, t.uuid, t.name, t.credit_name
        """,
        (analysis_id,),
    ).fetchall()
    linked = {}
    for match_type, match_key, offset, track_id, uuid, name, credit_name, artist_names in rows:
        names = tuple(artist_names) or tuple(
            part.strip() for part in re.split(r"\s*(?:&|,|feat\.)\s*", credit_name or "") if part.strip()
        )
        linked[(match_type, match_key, float(offset))] = LinkedTrack(int(track_id), uuid, name, names)
    return linked


def store_ai_detection(conn: psycopg.Connection, analysis_id: int, ai: AiDetection | None) -> None:
    if ai is None:
        conn.execute("DELETE FROM analysis_ai_detections WHERE analysis_id = %s", (analysis_id,))
        return
    conn.execute(
        """
        INSERT INTO analysis_ai_detections
            (analysis_id, prediction, ai_probability, likely_source, source_probabilities, model_id, raw)
        VALUES (%s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (analysis_id) DO UPDATE SET prediction = EXCLUDED.prediction,
            ai_probability = EXCLUDED.ai_probability, likely_source = EXCLUDED.likely_source,
            source_probabilities = EXCLUDED.source_probabilities, model_id = EXCLUDED.model_id,
            raw = EXCLUDED.raw
        WHERE {changed}
        """.replace(
            "{changed}",
            _changed(
                "analysis_ai_detections",
                ("prediction", "ai_probability", "likely_source", "source_probabilities", "model_id", "raw"),
            ),
        ),
        (
            analysis_id,
            ai.prediction,
            ai.ai_probability,
            ai.likely_source,
            Jsonb(ai.source_probabilities) if ai.source_probabilities is not None else None,
            ai.model_id,
            Jsonb(ai.raw),
        ),
    )


def store_report(conn: psycopg.Connection, analysis_id: int, report: RiskReport) -> None:
    conn.execute(
        """
        INSERT INTO analysis_reports
            (analysis_id, risk_level, match_type, confidence, critical_reasons, summary, recommendations,
             details)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (analysis_id) DO UPDATE SET risk_level = EXCLUDED.risk_level,
            match_type = EXCLUDED.match_type, confidence = EXCLUDED.confidence,
            critical_reasons = EXCLUDED.critical_reasons, summary = EXCLUDED.summary,
            recommendations = EXCLUDED.recommendations, details = EXCLUDED.details
        WHERE {changed}
        """.replace(
            "{changed}",
            _changed(
                "analysis_reports",
                (
                    "risk_level",
                    "match_type",
                    "confidence",
                    "critical_reasons",
                    "summary",
                    "recommendations",
                    "details",
                ),
            ),
        ),
        (
            analysis_id,
            report.risk_level,
            report.match_type,
            report.confidence,
            list(report.critical_reasons),
            report.summary,
            list(report.recommendations),
            Jsonb(report.details),
        ),
    )


def finish_analysis(conn: psycopg.Connection, analysis_id: int) -> None:
    conn.execute(
        """
        UPDATE song_analyses
        SET status = 'analyzed', failure_reason = NULL, completed_at = coalesce(completed_at, now())
        WHERE id = %s AND status <> 'analyzed'
        """,
        (analysis_id,),
    )
    conn.execute(
        """
        UPDATE songs SET status = 'analyzed', failure_reason = NULL
        WHERE id = (SELECT song_id FROM song_analyses WHERE id = %s) AND status <> 'analyzed'
        """,
        (analysis_id,),
    )


def fail_song(conn: psycopg.Connection, song_id: int, reason: str) -> None:
    """Mark the song (and its analysis, if any) failed with ``reason``; an analyzed song stays analyzed."""
    reason = reason.strip()[:2000] or "unknown failure"
    conn.execute(
        "UPDATE songs SET status = 'failed', failure_reason = %s WHERE id = %s AND status <> 'analyzed'",
        (reason, song_id),
    )
    conn.execute(
        """
        UPDATE song_analyses SET status = 'failed', failure_reason = %s, completed_at = now()
        WHERE song_id = %s AND status <> 'analyzed'
        """,
        (reason, song_id),
    )


def report_rows(conn: psycopg.Connection, song_ids: Sequence[int]) -> list[dict[str, Any]]:
    """What the notification tells about these songs: status, reason, risk, summary, recommendations."""
    cursor = conn.cursor(row_factory=dict_row)
    return cursor.execute(
        """
        SELECT s.id AS song_id, s.title, s.artist, s.status, s.failure_reason,
               r.risk_level, r.match_type, r.confidence, r.critical_reasons, r.summary, r.recommendations,
               r.notified_at, a.id AS analysis_id
        FROM songs AS s
        LEFT JOIN song_analyses AS a ON a.song_id = s.id
        LEFT JOIN analysis_reports AS r ON r.analysis_id = a.id
        WHERE s.id = ANY(%s)
        ORDER BY s.id
        """,
        (list(song_ids),),
    ).fetchall()
