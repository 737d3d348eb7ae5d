"""Synthetic product data for the maintenance tests and bench/bench_backup.py (set-based SQL: fast at 1M rows)."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg


def seed_rankings(
    dsn: str, *, charts: int, days: int, entries: int, tracks: int, first_day: datetime | None = None
) -> int:
    """``charts`` daily charts with ``days`` rankings of ``entries`` entries each; returns the entry count.

    Every ranking and entry carries a raw payload and is dated (created_at/fetched_at) on its ranking day,
    so age-based pruning has old and recent rows to tell apart.
    """
    first_day = first_day or datetime(2026, 1, 1, tzinfo=UTC)
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO platforms (slug, name) VALUES ('spotify', 'Spotify') ON CONFLICT DO NOTHING"
        )
        conn.execute(
            """
            INSERT INTO charts (slug, platform_id, name, frequency)
            SELECT 'seed-chart-' || g, p.id, 'Seed chart ' || g, 'daily'
            FROM generate_series(1, %(charts)s) AS g, platforms AS p WHERE p.slug = 'spotify'
            """,
            {"charts": charts},
        )
        conn.execute(
            """
            INSERT INTO tracks (uuid, name)
            SELECT overlay(overlay(overlay(overlay(md5('seed' || g) placing '-' from 9 for 0)
                   placing '-' from 14 for 0) placing '-' from 19 for 0) placing '-' from 24 for 0),
                   'Seed track ' || g
            FROM generate_series(1, %(tracks)s) AS g
            """,
            {"tracks": tracks},
        )
        conn.execute(
            """
            INSERT INTO rankings (chart_id, ranking_date, period_start, period_end, expected_entries,
                                  entry_count, raw_pages, fetched_at, created_at)
            SELECT c.id, d, d, d + interval '1 day', %(entries)s, %(entries)s,
                   '[{"page": 1, "total": 100}]'::jsonb, d, d
            FROM charts AS c, generate_series(%(first)s::timestamptz,
                                               %(first)s::timestamptz + (%(days)s - 1) * interval '1 day',
                                               interval '1 day') AS d
            WHERE c.slug LIKE 'seed-chart-%%'
            """,
            {"entries": entries, "first": first_day, "days": days},
        )
        conn.execute(
            """
            WITH track_ids AS (SELECT array_agg(id ORDER BY id) AS ids FROM tracks)
            INSERT INTO ranking_entries (ranking_id, position, track_id, metric, raw, created_at)
            SELECT r.id, pos, t.ids[1 + (r.id * 31 + pos) %% array_length(t.ids, 1)], pos * 10,
                   jsonb_build_object('position', pos), r.created_at
            FROM rankings AS r, track_ids AS t, generate_series(1, %(entries)s) AS pos
            """,
            {"entries": entries},
        )
        return conn.execute("SELECT count(*) FROM ranking_entries").fetchone()[0]
