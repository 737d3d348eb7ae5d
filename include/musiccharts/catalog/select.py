"""SQL selecting what the catalog DAGs have to fetch (no Airflow imports; takes a psycopg connection).

Selections are ordered (never-fetched first, then oldest) so that when a run fails half-way the next run
starts with what is most overdue.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Literal

import psycopg

EntityKind = Literal["track", "artist"]

_TABLES: dict[str, tuple[str, str, str]] = {
    # kind: (entity table, audience table, audience foreign key)
    "track": ("tracks", "track_audience", "track_id"),
    "artist": ("artists", "artist_audience", "artist_id"),
}


# The batch endpoint of each kind, as the call memory names it.
_BATCH_ENDPOINTS = {"track": "song_batch", "artist": "artist_batch"}


def _tables(kind: EntityKind) -> tuple[str, str, str]:
    try:
        return _TABLES[kind]
    except KeyError:
        raise ValueError(f"unknown entity kind {kind!r}") from None


def select_stale_entities(
    conn: psycopg.Connection,
    kind: EntityKind,
    *,
    staleness_days: int,
    now: datetime,
    force: bool = False,
    uuids: Sequence[str] | None = None,
) -> list[str]:
    """Uuids of tracks/artists whose metadata is missing or older than ``staleness_days`` at ``now``.

    ``uuids`` narrows the selection to those entities; uuids not stored yet are included (the loader
    inserts them). ``force`` ignores staleness. Without either, a uuid the batch endpoint lately left out
    of its answer is not selected again before its retry date (``soundcharts_call_backoff``).
    """
    table, _, _ = _tables(kind)
    cutoff = now - timedelta(days=staleness_days)
    if uuids:
        wanted = [value.lower() for value in dict.fromkeys(uuids)]
        stored = dict(
            conn.execute(
                f"SELECT uuid::text, metadata_fetched_at FROM {table} WHERE uuid::text = ANY(%s)",
                (wanted,),
            ).fetchall()
        )
        return [value for value in wanted if force or stored.get(value) is None or stored[value] < cutoff]
    rows = conn.execute(
        f"""
        SELECT e.uuid::text FROM {table} e
        WHERE %(force)s OR (
            (e.metadata_fetched_at IS NULL OR e.metadata_fetched_at < %(cutoff)s)
            AND NOT EXISTS (
                SELECT FROM soundcharts_call_backoff b
                WHERE b.endpoint = %(endpoint)s AND b.entity_uuid = e.uuid::text AND b.platform = ''
                  AND b.retry_after > %(today)s
            )
        )
        ORDER BY e.metadata_fetched_at NULLS FIRST, e.id
        """,
        {"force": force, "cutoff": cutoff, "endpoint": f"{_BATCH_ENDPOINTS[kind]}", "today": now.date()},
    ).fetchall()
    return [row[0] for row in rows]


def select_audience_entities(
    conn: psycopg.Connection,
    kind: EntityKind,
    *,
    platforms: Sequence[str],
    until: date,
    uuids: Sequence[str] | None = None,
) -> list[str]:
    """Uuids of tracks/artists with at least one platform not stored up to ``until`` (the last crawled day).

    An entity already up to date on every platform, or whose remaining platforms lately answered 404 or
    no data (put off until their retry date), is left out, so a rerun on the same day maps nothing.
    """
    table, audience, key = _tables(kind)
    rows = conn.execute(
        f"""
        SELECT e.uuid::text FROM {table} e
        WHERE (%(uuids)s::text[] IS NULL OR e.uuid::text = ANY(%(uuids)s::text[]))
          AND (
            SELECT count(*) FROM unnest(%(platforms)s::text[]) AS p(platform)
            WHERE EXISTS (
                SELECT FROM {audience} a
                WHERE a.{key} = e.id AND a.platform = p.platform AND a.date >= %(until)s
            ) OR EXISTS (
                SELECT FROM soundcharts_call_backoff b
                WHERE b.endpoint = %(endpoint)s AND b.entity_uuid = e.uuid::text
                  AND b.platform = p.platform AND b.retry_after > %(until)s
            )
          ) < %(platform_count)s
        ORDER BY e.id
        """,
        {
            "uuids": [value.lower() for value in uuids] if uuids else None,
            "platforms": sorted(set(platforms)),
            "until": until,
            "platform_count": len(set(platforms)),
            "endpoint": f"{kind}_audience",
        },
    ).fetchall()
    return [row[0] for row in rows]


def last_audience_dates(
    conn: psycopg.Connection, kind: EntityKind, uuids: Sequence[str], platforms: Sequence[str]
) -> list[tuple[str, str, str, date]]:
    """``(entity uuid, platform, identifier, newest stored date)`` for every stored series of ``uuids``."""
    table, audience, key = _tables(kind)
    rows = conn.execute(
        f"""
        SELECT e.uuid::text, a.platform, a.identifier, max(a.date)
        FROM {audience} a JOIN {table} e ON e.id = a.{key}
        WHERE e.uuid::text = ANY(%s) AND a.platform = ANY(%s)
        GROUP BY 1, 2, 3
        """,
        ([value.lower() for value in uuids], list(platforms)),
    ).fetchall()
    return [(row[0], row[1], row[2], row[3]) for row in rows]
