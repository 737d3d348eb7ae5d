"""Checks on what is stored: is a chart period complete, and does a stored ranking keep its invariants.

"Complete" means a validated ranking of the period is stored whole: not an empty one, and as many entries
as the API announced, counted from the entries themselves. :func:`check_ranking_quality` is the guard run
after every load (the loader validates before writing; this re-checks the stored rows and their
references, which have no row-level foreign keys).
"""

from __future__ import annotations

from datetime import datetime

import psycopg

from musiccharts.charts.validation import listing as _listing

_MAX_SONGS_LISTED = 10  # repeated songs named one by one; the count is always given in full


def _require_aware(name: str, value: datetime) -> None:
    # A naive datetime would be read in the session time zone: silently wrong periods. Refuse it.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")


#: Complete rankings of one chart dated in ``[start, end)``: non-empty, with as many entries stored (counted
#: from the entries themselves) as the API announced. The one definition of "complete" for both readers below.
_COMPLETE_RANKING_DATES_SQL = """
    SELECT r.ranking_date FROM rankings r JOIN charts c ON c.id = r.chart_id
    WHERE c.slug = %(slug)s
      AND r.ranking_date >= %(start)s AND r.ranking_date < %(end)s
      AND r.expected_entries > 0
      AND r.entry_count = r.expected_entries
      AND (SELECT count(*) FROM ranking_entries e WHERE e.ranking_id = r.id) = r.expected_entries
"""


def is_period_complete(
    conn: psycopg.Connection, chart_slug: str, period_start: datetime, period_end: datetime
) -> bool:
    """True when a ranking of the chart dated in ``[period_start, period_end)`` is stored completely.

    Complete means: a non-empty ranking with as many entries stored as the API announced
    (``expected_entries``), counted from the entries themselves, not only from the ranking's ``entry_count``.
    """
    _require_aware("period_start", period_start)
    _require_aware("period_end", period_end)
    row = conn.execute(
        f"SELECT EXISTS ({_COMPLETE_RANKING_DATES_SQL})",
        {"slug": chart_slug, "start": period_start, "end": period_end},
    ).fetchone()
    return bool(row[0])


def complete_ranking_dates(
    conn: psycopg.Connection, chart_slug: str, start: datetime, end: datetime
) -> list[datetime]:
    """Datetimes of the chart's complete rankings dated in ``[start, end)``: :func:`is_period_complete` for
    every period of a range in one query (a period is complete when one of them falls in it)."""
    _require_aware("start", start)
    _require_aware("end", end)
    rows = conn.execute(
        _COMPLETE_RANKING_DATES_SQL, {"slug": chart_slug, "start": start, "end": end}
    ).fetchall()
    return [row[0] for row in rows]


def check_ranking_quality(conn: psycopg.Connection, ranking_id: int) -> list[str]:
    """Data-quality problems of a stored ranking, one sentence each; an empty list when it is sound.

    Checked: positions are unique and exactly 1..N; N equals the entry count recorded and the total the API
    announced; N does not exceed the chart's ``max_entries``; no song appears at two positions.
    """
    header = conn.execute(
        """
        SELECT c.slug, r.ranking_date, r.entry_count, r.expected_entries, c.max_entries
        FROM rankings r JOIN charts c ON c.id = r.chart_id WHERE r.id = %s
        """,
        (ranking_id,),
    ).fetchone()
    if header is None:
        return [f"ranking {ranking_id} does not exist"]
    slug, ranking_date, entry_count, expected_entries, max_entries = header
    where = f"{slug} {ranking_date.isoformat()}"

    stored, distinct_positions, max_position = conn.execute(
        "SELECT count(*), count(DISTINCT position), coalesce(max(position), 0)"
        " FROM ranking_entries WHERE ranking_id = %s",
        (ranking_id,),
    ).fetchone()
    problems: list[str] = []

    duplicates = [
        row[0]
        for row in conn.execute(
            "SELECT position FROM ranking_entries WHERE ranking_id = %s"
            " GROUP BY position HAVING count(*) > 1 ORDER BY position",
            (ranking_id,),
        )
    ]
    if duplicates or stored != distinct_positions:
        problems.append(f"{where}: duplicate positions {_listing(duplicates)}")

    missing = [
        row[0]
        for row in conn.execute(
            """
            SELECT expected.position
            FROM generate_series(1, %(last)s) AS expected(position)
            WHERE NOT EXISTS (
                SELECT 1 FROM ranking_entries e WHERE e.ranking_id = %(id)s AND e.position = expected.position
            )
            ORDER BY expected.position
            """,
            {"id": ranking_id, "last": max(max_position, stored)},
        )
    ]
    if missing:
        problems.append(f"{where}: positions are not contiguous from 1, missing {_listing(missing)}")

    if stored != entry_count:
        problems.append(f"{where}: {stored} entries stored but the ranking records entry_count={entry_count}")
    if expected_entries is None:
        problems.append(f"{where}: the total number of entries announced by the API is unknown")
    elif stored != expected_entries:
        problems.append(f"{where}: {stored} entries stored, the API announced {expected_entries}")
    if max_entries is not None and stored > max_entries:
        problems.append(f"{where}: {stored} entries exceed the chart's maximum of {max_entries}")

    # ranking_entries has no row-level foreign keys (migration 0002): the references are checked here.
    dangling_tracks = conn.execute(
        "SELECT count(*) FROM ranking_entries e WHERE e.ranking_id = %s"
        " AND NOT EXISTS (SELECT FROM tracks t WHERE t.id = e.track_id)",
        (ranking_id,),
    ).fetchone()[0]
    if dangling_tracks:
        problems.append(f"{where}: {dangling_tracks} entries reference a track that does not exist")

    repeated_songs = conn.execute(
        """
        SELECT t.uuid, array_agg(e.position ORDER BY e.position)
        FROM ranking_entries e JOIN tracks t ON t.id = e.track_id
        WHERE e.ranking_id = %s
        GROUP BY t.uuid HAVING count(*) > 1 ORDER BY min(e.position)
        """,
        (ranking_id,),
    ).fetchall()
    for song_uuid, positions in repeated_songs[:_MAX_SONGS_LISTED]:
        problems.append(f"{where}: song {song_uuid} appears at several positions ({_listing(positions)})")
    if len(repeated_songs) > _MAX_SONGS_LISTED:
        problems.append(f"{where}: {len(repeated_songs)} songs appear at several positions in all")
    return problems
