"""Performance reports per entity x platform x period, computed set-based from the stored series and charts.

For a period ``[start, end]`` (both days included) and each series in it:

- ``start_value`` / ``end_value``: the first and last stored values inside the period (series with several
  platform identifiers are summed per day first), ``difference`` = end - start, ``growth_pct`` = difference /
  start x 100 (empty when start is 0), ``average`` and ``peak`` of the stored values, ``points`` stored;
- ``best_chart_position`` and ``chart_days``: the best position and the number of distinct days on any
  stored chart of the same platform in the period (for an artist: through any of their tracks).

Rows: ``track`` x platform (track audience), ``artist`` x platform (the artist's own audience, e.g. monthly
listeners, and ``airplay``: radio spins per day summed over stations, from ``artist_airplay``; unlike the
cumulative audience series, ``difference`` and ``growth_pct`` compare the first and last day's spins and
``average`` is spins per stored day), and the artist roll-ups ``artist_tracks`` x platform (the sum over
the artist's tracks) and ``artist_tracks`` x ``*`` (the sum over platforms). Rerunning a period rewrites
only rows that changed.

Unlike the first implementation (computed inside web requests, origin-inventory), the reports are stored and
exported by a scheduled DAG. Pure: takes a psycopg connection, imports nothing from Airflow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import psycopg

_SERIES_SQL = """
CREATE TEMP TABLE _perf_series ON COMMIT DROP AS
WITH points AS (
    SELECT 'track'::text AS entity_type, a.track_id AS entity_id, a.platform, a.date, sum(a.value) AS value
    FROM track_audience a
    WHERE a.date BETWEEN %(start)s AND %(end)s
      AND (%(platforms)s::text[] IS NULL OR a.platform = ANY(%(platforms)s::text[]))
      AND (%(track_ids)s::bigint[] IS NULL OR a.track_id = ANY(%(track_ids)s::bigint[]))
    GROUP BY a.track_id, a.platform, a.date
    UNION ALL
    SELECT 'artist', a.artist_id, a.platform, a.date, sum(coalesce(a.follower_count, a.listener_count))
    FROM artist_audience a
    WHERE a.date BETWEEN %(start)s AND %(end)s
      AND a.platform <> 'airplay'  -- an artist's airplay series is artist_airplay's (below)
      AND (%(platforms)s::text[] IS NULL OR a.platform = ANY(%(platforms)s::text[]))
      AND (%(artist_ids)s::bigint[] IS NULL OR a.artist_id = ANY(%(artist_ids)s::bigint[]))
    GROUP BY a.artist_id, a.platform, a.date
    UNION ALL
    SELECT 'artist', p.artist_id, 'airplay', p.date, p.play_count
    FROM artist_airplay p
    WHERE p.date BETWEEN %(start)s AND %(end)s
      AND (%(platforms)s::text[] IS NULL OR 'airplay' = ANY(%(platforms)s::text[]))
      AND (%(artist_ids)s::bigint[] IS NULL OR p.artist_id = ANY(%(artist_ids)s::bigint[]))
)
SELECT entity_type, entity_id, platform,
       (array_agg(value ORDER BY date))[1] AS start_value,
       (array_agg(value ORDER BY date DESC))[1] AS end_value,
       avg(value) AS average, max(value) AS peak, count(*)::integer AS points
FROM points
GROUP BY entity_type, entity_id, platform
"""

# Per track and platform: best position and distinct days on the platform's charts in the period.
_CHARTS_SQL = """
CREATE TEMP TABLE _perf_charts ON COMMIT DROP AS
SELECT e.track_id, p.slug AS platform, min(e.position) AS best_position,
       count(DISTINCT (r.ranking_date AT TIME ZONE 'UTC')::date)::integer AS chart_days
FROM rankings r
JOIN charts c ON c.id = r.chart_id
JOIN platforms p ON p.id = c.platform_id
JOIN ranking_entries e ON e.ranking_id = r.id
WHERE r.ranking_date >= %(start)s::date AT TIME ZONE 'UTC'
  AND r.ranking_date < (%(end)s::date + 1) AT TIME ZONE 'UTC'
GROUP BY e.track_id, p.slug
"""

_ROWS_SQL = """
WITH tracks AS (
    SELECT s.*, ch.best_position, coalesce(ch.chart_days, 0) AS chart_days
    FROM _perf_series s
    LEFT JOIN _perf_charts ch ON ch.track_id = s.entity_id AND ch.platform = s.platform
    WHERE s.entity_type = 'track'
), artists AS (
    SELECT s.*, ch.best_position, coalesce(ch.chart_days, 0) AS chart_days
    FROM _perf_series s
    LEFT JOIN LATERAL (
        SELECT min(c.best_position) AS best_position, max(c.chart_days) AS chart_days
        FROM track_artists ta JOIN _perf_charts c ON c.track_id = ta.track_id AND c.platform = s.platform
        WHERE ta.artist_id = s.entity_id
    ) ch ON true
    WHERE s.entity_type = 'artist'
      AND (%(artist_ids)s::bigint[] IS NULL OR s.entity_id = ANY(%(artist_ids)s::bigint[]))
), artist_tracks AS (
    SELECT 'artist_tracks'::text AS entity_type, ta.artist_id AS entity_id, t.platform,
           sum(t.start_value) AS start_value, sum(t.end_value) AS end_value, sum(t.average) AS average,
           sum(t.peak) AS peak, sum(t.points)::integer AS points, min(t.best_position) AS best_position,
           max(t.chart_days) AS chart_days
    FROM tracks t JOIN track_artists ta ON ta.track_id = t.entity_id
    WHERE %(artist_ids)s::bigint[] IS NULL OR ta.artist_id = ANY(%(artist_ids)s::bigint[])
    GROUP BY ta.artist_id, t.platform
), rolled AS (
    SELECT * FROM artist_tracks
    UNION ALL
    SELECT 'artist_tracks', entity_id, '*', sum(start_value), sum(end_value), sum(average), sum(peak),
           sum(points)::integer, min(best_position), max(chart_days)
    FROM artist_tracks GROUP BY entity_id
), all_rows AS (
    SELECT entity_type, entity_id, platform, start_value, end_value, average, peak, points, best_position,
           chart_days FROM tracks
    UNION ALL
    SELECT entity_type, entity_id, platform, start_value, end_value, average, peak, points, best_position,
           chart_days FROM artists
    UNION ALL
    SELECT * FROM rolled
)
INSERT INTO performance_reports AS pr (entity_type, entity_id, platform, period_start, period_end,
    start_value, end_value, difference, growth_pct, average, peak, points, best_chart_position, chart_days)
SELECT entity_type, entity_id, platform, %(start)s, %(end)s, start_value, end_value, end_value - start_value,
       CASE WHEN start_value <> 0 THEN round((end_value - start_value) * 100.0 / start_value, 4) END,
       round(average, 4), peak, points, best_position, chart_days
FROM all_rows
ON CONFLICT (entity_type, entity_id, platform, period_start, period_end) DO UPDATE SET
    start_value = EXCLUDED.start_value, end_value = EXCLUDED.end_value, difference = EXCLUDED.difference,
    growth_pct = EXCLUDED.growth_pct, average = EXCLUDED.average, peak = EXCLUDED.peak,
    points = EXCLUDED.points, best_chart_position = EXCLUDED.best_chart_position,
    chart_days = EXCLUDED.chart_days, computed_at = now()
WHERE (pr.start_value, pr.end_value, pr.difference, pr.growth_pct, pr.average, pr.peak, pr.points,
       pr.best_chart_position, pr.chart_days)
    IS DISTINCT FROM
      (EXCLUDED.start_value, EXCLUDED.end_value, EXCLUDED.difference, EXCLUDED.growth_pct, EXCLUDED.average,
       EXCLUDED.peak, EXCLUDED.points, EXCLUDED.best_chart_position, EXCLUDED.chart_days)
"""


@dataclass(frozen=True)
class PerformanceRun:
    period_start: date
    period_end: date
    series: int
    rows_written: int

    def as_xcom(self) -> dict:
        return {
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "series": self.series,
            "rows_written": self.rows_written,
        }


def previous_period(cadence: str, today: date) -> tuple[date, date]:
    """The last complete week (Monday..Sunday) or calendar month before ``today``."""
    if cadence == "weekly":
        end = today - timedelta(days=today.weekday() + 1)
        return end - timedelta(days=6), end
    if cadence == "monthly":
        end = today.replace(day=1) - timedelta(days=1)
        return end.replace(day=1), end
    raise ValueError(f"cadence must be weekly or monthly, not {cadence!r}")


def refresh_performance(
    conn: psycopg.Connection,
    start: date,
    end: date,
    *,
    track_ids: Sequence[int] | None = None,
    artist_ids: Sequence[int] | None = None,
    platforms: Sequence[str] | None = None,
) -> PerformanceRun:
    """Compute and store the reports of ``[start, end]`` for the selected entities and platforms."""
    if end < start:
        raise ValueError(f"period end {end} is before its start {start}")
    params = {
        "start": start,
        "end": end,
        "track_ids": list(track_ids) if track_ids else None,
        "artist_ids": list(artist_ids) if artist_ids else None,
        "platforms": list(platforms) if platforms else None,
    }
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(_SERIES_SQL, params)
        series = cur.rowcount
        cur.execute(_CHARTS_SQL, params)
        cur.execute(_ROWS_SQL, params)
        written = cur.rowcount
    return PerformanceRun(start, end, series, written)


def performance_rows(conn: psycopg.Connection, start: date, end: date) -> list[tuple]:
    """The stored reports of one period, in the export schema's column order."""
    return [
        (
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            *(float(v) if v is not None else None for v in row[5:11]),
            *row[11:],
        )
        for row in conn.execute(
            """
            SELECT entity_type, entity_id, platform, period_start, period_end, start_value, end_value,
                   difference, growth_pct, average, peak, points, best_chart_position, chart_days
            FROM performance_reports WHERE period_start = %s AND period_end = %s
            ORDER BY entity_type, entity_id, platform
            """,
            (start, end),
        ).fetchall()
    ]


# --- missing inputs: artist streaming audience ---------------------------------------------------------

#: Streaming audience (monthly listeners) is stored next to the follower series of the same platform, as its
#: own series: platform code + this suffix (the audience endpoint's followers keep the bare code).
STREAMING_SUFFIX = ":streaming"

_MISSING_STREAMING_SQL = """
SELECT a.uuid FROM artists a
WHERE (%(uuids)s::text[] IS NULL OR a.uuid = ANY(%(uuids)s::text[]))
  AND NOT EXISTS (
      SELECT FROM artist_audience s
      WHERE s.artist_id = a.id AND s.platform = %(platform)s AND s.date = %(end)s)
ORDER BY a.uuid
"""


def artists_missing_streaming(
    conn: psycopg.Connection, platform: str, end: date, uuids: Sequence[str] | None = None
) -> list[str]:
    """Artists without a streaming value on the period's last day (what a report of the period needs)."""
    return [
        row[0]
        for row in conn.execute(
            _MISSING_STREAMING_SQL,
            {
                "uuids": [u.lower() for u in uuids] if uuids else None,
                "platform": platform + STREAMING_SUFFIX,
                "end": end,
            },
        ).fetchall()
    ]


def store_artist_streaming(
    conn: psycopg.Connection, artist_uuid: str, platform: str, points: Sequence[tuple[date, float]]
) -> int:
    """Upsert one artist's streaming points; returns the rows written (unchanged values are not written)."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            """
            INSERT INTO artist_audience AS a (artist_id, platform, identifier, date, listener_count)
            SELECT ar.id, %(platform)s, '', p.day, p.value
            FROM artists ar, unnest(%(days)s::date[], %(values)s::bigint[]) AS p(day, value)
            WHERE ar.uuid = %(uuid)s
            ON CONFLICT ON CONSTRAINT artist_audience_natural_key DO UPDATE SET
                listener_count = EXCLUDED.listener_count, fetched_at = now()
            WHERE a.listener_count IS DISTINCT FROM EXCLUDED.listener_count
            """,
            {
                "platform": platform + STREAMING_SUFFIX,
                "uuid": artist_uuid.lower(),
                "days": [day for day, _ in points],
                "values": [int(value) for _, value in points],
            },
        )
        return cur.rowcount


# --- missing inputs: artist airplay (radio spins per day) ------------------------------------------------

#: ``performance_reports.platform`` of an artist's radio spins (series in ``artist_airplay``).
AIRPLAY_PLATFORM = "airplay"

_MISSING_AIRPLAY_SQL = """
SELECT a.uuid, array_agg(d.day::date ORDER BY d.day)
FROM artists a
CROSS JOIN generate_series(%(start)s::date, %(end)s::date, interval '1 day') AS d(day)
WHERE (%(uuids)s::text[] IS NULL OR a.uuid = ANY(%(uuids)s::text[]))
  AND (d.day::date >= %(unsettled_from)s::date
       OR NOT EXISTS (SELECT FROM artist_airplay p WHERE p.artist_id = a.id AND p.date = d.day::date))
GROUP BY a.uuid
ORDER BY a.uuid
"""


def artists_missing_airplay(
    conn: psycopg.Connection,
    start: date,
    end: date,
    uuids: Sequence[str] | None = None,
    unsettled_from: date | None = None,
) -> dict[str, list[date]]:
    """Per artist uuid, the days of ``[start, end]`` to fetch (artists with none: absent): days without stored
    airplay, and every day from ``unsettled_from`` on even when stored (Soundcharts may still be crawling
    them: a stored 0 there may only mean "not crawled yet")."""
    if end < start:
        return {}
    rows = conn.execute(
        _MISSING_AIRPLAY_SQL,
        {
            "start": start,
            "end": end,
            "uuids": [u.lower() for u in uuids] if uuids else None,
            "unsettled_from": unsettled_from,
        },
    ).fetchall()
    return {uuid: list(days) for uuid, days in rows}


def daily_spins(play_counts: Sequence[int | None]) -> int | None:
    """One day's spins from its broadcast groups: the sum of the known counts; None when no count is known
    although stations were listed (nothing to store), 0 when no station aired the artist."""
    known = [count for count in play_counts if count is not None]
    if play_counts and not known:
        return None
    return sum(known)


def store_artist_airplay(
    conn: psycopg.Connection, artist_uuid: str, days: Sequence[tuple[date, int | None]]
) -> int:
    """Upsert one artist's daily spins; a None (unknown) never overwrites nor inserts. Returns rows written"""
    known = [(day, value) for day, value in days if value is not None]
    if not known:
        return 0
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            """
            INSERT INTO artist_airplay AS p (artist_id, date, play_count)
            SELECT ar.id, d.day, d.spins
            FROM artists ar, unnest(%(days)s::date[], %(spins)s::bigint[]) AS d(day, spins)
            WHERE ar.uuid = %(uuid)s
            ON CONFLICT (artist_id, date) DO UPDATE SET play_count = EXCLUDED.play_count, fetched_at = now()
            WHERE p.play_count IS DISTINCT FROM EXCLUDED.play_count
            """,
            {
                "uuid": artist_uuid.lower(),
                "days": [day for day, _ in known],
                "spins": [int(value) for _, value in known],
            },
        )
        return cur.rowcount
