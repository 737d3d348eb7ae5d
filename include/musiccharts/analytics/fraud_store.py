"""Fraud detection against the product database: read audience series, score them, store the flags.

Series are scored whole (the baselines need their history); the flags of every scored series are then
replaced set-based: flags found again are kept (rewritten only when their score or evidence moved), flags
no longer found are deleted, new ones inserted. Rerunning on unchanged data therefore writes nothing.

Chart/stream mismatch uses the daily worldwide charts of the same platform: the streams of a full ranking's
last entry are the least a track needs that day to chart. The chart day is the ranking's date and the
audience increment of that day is the growth up to it (both are what Soundcharts serves for the day).

Pure: takes a psycopg connection, imports nothing from Airflow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import msgspec
import psycopg
from psycopg import sql

from musiccharts.analytics.config import FraudThresholds
from musiccharts.analytics.fraud import Flag, Points, detect, detect_chart_mismatch

_ENTITY_TABLES = {"track": ("track_audience", "track_id"), "artist": ("artist_audience", "artist_id")}
# Proleptic ordinal of a date (date.toordinal()) computed by the server, so that no date objects are built.
_ORDINAL = "(a.date - DATE '0001-01-01' + 1)"

_encode_json = msgspec.json.Encoder().encode

#: The value of a series: tracks have one; an artist series is its followers (the platform's primary fan
#: metric) or, for a streaming series (``<platform>:streaming``), its listeners.
_VALUE = {"track": "a.value", "artist": "coalesce(a.follower_count, a.listener_count)"}


def audience_query(entity_type: str) -> sql.Composed:
    """The SELECT that reads an entity type's audience points (entity, platform, identifier, day, value)."""
    table, id_column = _ENTITY_TABLES[entity_type]
    return sql.SQL(
        f"SELECT a.{{id}}, a.platform, a.identifier, {_ORDINAL}, {_VALUE[entity_type]} FROM {{table}} a"
        " WHERE (%(entity_ids)s::bigint[] IS NULL OR a.{id} = ANY(%(entity_ids)s::bigint[]))"
        " AND (%(platforms)s::text[] IS NULL OR a.platform = ANY(%(platforms)s::text[]))"
        # The natural-key index gives this order without a sort; it keeps each series' rows together.
        " ORDER BY a.{id}, a.platform, a.identifier, a.date"
    ).format(id=sql.Identifier(id_column), table=sql.Identifier(table))


def read_audience_points(
    conn: psycopg.Connection,
    entity_type: str,
    *,
    entity_ids: Sequence[int] | None = None,
    platforms: Sequence[str] | None = None,
) -> Points:
    """Every stored point of the selected series; keys are (entity id, platform, identifier)."""
    params = {
        "entity_ids": list(entity_ids) if entity_ids else None,
        "platforms": list(platforms or []) or None,
    }
    with conn.cursor() as cur:
        cur.execute(audience_query(entity_type), params)
        rows = cur.fetchall()
    return Points.from_grouped_rows(rows, key_width=3)


_MISMATCH_SQL = """
WITH cutoffs AS (
    SELECT p.slug AS platform, r.ranking_date::date AS day, r.id AS ranking_id, last_entry.metric AS cutoff
    FROM rankings r
    JOIN charts c ON c.id = r.chart_id
    JOIN platforms p ON p.id = c.platform_id
    CROSS JOIN LATERAL (
        SELECT e.metric FROM ranking_entries e WHERE e.ranking_id = r.id ORDER BY e.position DESC LIMIT 1
    ) last_entry
    WHERE c.frequency = 'daily' AND c.country_code IS NULL
      AND r.entry_count >= coalesce(r.expected_entries, r.entry_count) AND last_entry.metric > 0
), increments AS (
    SELECT a.track_id, a.platform, a.identifier, a.date,
           a.value - lag(a.value) OVER w AS increment,
           lag(a.value) OVER w - lag(a.value, 2) OVER w AS previous_increment,
           lag(a.date) OVER w AS previous_date
    FROM track_audience a
    WHERE a.platform IN (SELECT DISTINCT platform FROM cutoffs)
      AND (%(entity_ids)s::bigint[] IS NULL OR a.track_id = ANY(%(entity_ids)s::bigint[]))
    WINDOW w AS (PARTITION BY a.track_id, a.platform, a.identifier ORDER BY a.date)
)
SELECT i.track_id, i.platform, i.identifier, i.date, i.increment, min(c.cutoff), max(own.metric)
FROM increments i
JOIN cutoffs c ON c.platform = i.platform AND c.day = i.date
LEFT JOIN ranking_entries own ON own.ranking_id = c.ranking_id AND own.track_id = i.track_id
-- consecutive days only, and not the catch-up after a day the source did not update
WHERE i.previous_date = i.date - 1 AND i.increment > 0 AND i.previous_increment IS DISTINCT FROM 0
GROUP BY i.track_id, i.platform, i.identifier, i.date, i.increment
ORDER BY 1, 2, 3, 4
"""


def chart_mismatch_flags(
    conn: psycopg.Connection, thresholds: FraudThresholds, entity_ids: Sequence[int] | None = None
) -> tuple[list[Flag], set[tuple[Any, ...]]]:
    """Chart/stream mismatch flags of tracks, and the series that could be checked at all."""
    by_series: dict[tuple[Any, ...], tuple[dict[date, float], dict[date, tuple[float, float | None]]]] = {}
    rows = conn.execute(_MISMATCH_SQL, {"entity_ids": list(entity_ids) if entity_ids else None}).fetchall()
    for track_id, platform, identifier, day, increment, cutoff, own in rows:
        increments, chart = by_series.setdefault((track_id, platform, identifier), ({}, {}))
        increments[day] = float(increment)
        chart[day] = (float(cutoff), float(own) if own is not None else None)
    flags = []
    for key, (increments, chart) in by_series.items():
        flags += detect_chart_mismatch(key, increments, chart, thresholds)
    return flags, set(by_series)


@dataclass(frozen=True)
class FraudRun:
    series: int
    points: int
    flags: int
    inserted: int
    updated: int
    deleted: int

    def as_xcom(self) -> dict[str, Any]:
        return asdict(self)


_STORE_SQL = """
CREATE TEMP TABLE _fraud_scope (entity_id bigint, platform text, identifier text, detector text)
    ON COMMIT DROP;
CREATE TEMP TABLE _fraud_new (
    entity_id bigint, platform text, identifier text, detector text, window_start date, window_end date,
    score numeric, evidence jsonb) ON COMMIT DROP;
"""


def store_flags(
    conn: psycopg.Connection,
    entity_type: str,
    flags: Sequence[Flag],
    scored: dict[str, set[tuple[Any, ...]]],
    detector_version: str,
) -> tuple[int, int, int]:
    """Replace the flags of every scored series (``scored``: detector -> series keys); (ins, upd, del)."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(_STORE_SQL)
        with cur.copy("COPY _fraud_scope FROM STDIN") as copy:
            for detector, keys in scored.items():
                for entity_id, platform, identifier in keys:
                    copy.write_row((entity_id, platform, identifier, detector))
        with cur.copy("COPY _fraud_new FROM STDIN") as copy:
            for flag in flags:
                entity_id, platform, identifier = flag.key
                copy.write_row(
                    (
                        entity_id,
                        platform,
                        identifier,
                        flag.detector,
                        flag.window_start,
                        flag.window_end,
                        flag.score,
                        _encode_json(flag.evidence).decode(),
                    )
                )
        cur.execute(
            """
            DELETE FROM audience_fraud_flags f USING _fraud_scope s
            WHERE f.entity_type = %(entity_type)s AND f.detector_version = %(version)s
              AND f.entity_id = s.entity_id AND f.platform = s.platform AND f.identifier = s.identifier
              AND f.detector = s.detector
              AND NOT EXISTS (
                  SELECT FROM _fraud_new n
                  WHERE n.entity_id = f.entity_id AND n.platform = f.platform AND n.identifier = f.identifier
                    AND n.detector = f.detector AND n.window_start = f.window_start)
            """,
            {"entity_type": entity_type, "version": detector_version},
        )
        deleted = cur.rowcount
        cur.execute(
            """
            INSERT INTO audience_fraud_flags AS f (entity_type, entity_id, platform, identifier, detector,
                window_start, window_end, score, evidence, detector_version)
            SELECT %(entity_type)s, entity_id, platform, identifier, detector, window_start, window_end,
                   score, evidence, %(version)s
            FROM _fraud_new
            ON CONFLICT ON CONSTRAINT audience_fraud_flags_natural_key DO UPDATE SET
                window_end = EXCLUDED.window_end, score = EXCLUDED.score, evidence = EXCLUDED.evidence,
                computed_at = now()
            WHERE (f.window_end, f.score, f.evidence) IS DISTINCT FROM
                  (EXCLUDED.window_end, EXCLUDED.score, EXCLUDED.evidence)
            RETURNING (xmax = 0) AS inserted
            """,
            {"entity_type": entity_type, "version": detector_version},
        )
        results = [row[0] for row in cur.fetchall()]
    inserted = sum(results)
    return inserted, len(results) - inserted, deleted


def score_and_store(
    conn: psycopg.Connection,
    entity_type: str,
    thresholds: FraudThresholds,
    *,
    entity_ids: Sequence[int] | None = None,
    platforms: Sequence[str] | None = None,
) -> FraudRun:
    """Score every selected series of ``entity_type`` and replace their stored flags."""
    if entity_type not in _ENTITY_TABLES:
        raise ValueError(f"entity_type must be one of {sorted(_ENTITY_TABLES)}, not {entity_type!r}")
    points = read_audience_points(conn, entity_type, entity_ids=entity_ids, platforms=platforms)
    flags = detect(points, thresholds)
    keys = set(points.keys)
    scored: dict[str, set[tuple[Any, ...]]] = {"burst": keys, "plateau": keys}
    if entity_type == "track":
        mismatch, checked = chart_mismatch_flags(conn, thresholds, entity_ids)
        flags += [flag for flag in mismatch if not platforms or flag.key[1] in platforms]
        scored["chart_mismatch"] = {key for key in checked if not platforms or key[1] in platforms}
    inserted, updated, deleted = store_flags(conn, entity_type, flags, scored, thresholds.detector_version)
    return FraudRun(len(points.keys), len(points.day), len(flags), inserted, updated, deleted)
