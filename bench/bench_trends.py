"""Chart trends: full recompute against one window-function pass, and the incremental update of one ranking.

    python bench/bench_trends.py [--charts 20] [--days 365] [--entries 200] [--dsn DSN]

Builds ``--charts`` daily charts x ``--days`` rankings x ``--entries`` entries (default 1.46M entries) with
SQL in a scratch database created on the server of ``--dsn`` (default: local Postgres) and dropped at the
end. Songs stay ten days on a chart and move every day, so every kind of movement occurs. Then, all
committed, in the same run:

(w) baseline: one window-function pass over the same rows: ``lag(position)`` per chart and track in ranking
    order, over the entries joined with their rankings (what any trend computation must at least do),
    materialised as an unlogged table of the same row count, with the refresh's session settings (jit
    off, the same ``work_mem``); best of three;
(t) the first computation of every trend (``refresh_chart_trends``, empty trend tables);
(r) recompute: ``refresh_chart_trends(force=True)`` over the same 1.46M entries (every ranking recomputed,
    nothing differs, so nothing is written); runs interleaved with (w), best of three each;
(i) incremental: one new ranking appended to one chart, then ``refresh_chart_trends``: must write exactly that
    ranking's entries and its summary row.

Targets: (r) <= 1.5x (w); (i) writes only the new ranking's rows. Exit status 1 when one is missed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
for part in ("include", "plugins", "simulators", "stack"):
    if str(REPO_ROOT / part) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT / part))

import psycopg  # noqa: E402
from psycopg.conninfo import conninfo_to_dict, make_conninfo  # noqa: E402

from musiccharts.analytics.trends import WORK_MEM, refresh_chart_trends  # noqa: E402
from musiccharts.db.connection import to_libpq_dsn  # noqa: E402
from musiccharts.db.migrate import upgrade  # noqa: E402

TARGET_RATIO = 1.5
DEFAULT_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
STAY_DAYS = 10

BUILD_SQL = """
INSERT INTO platforms (slug, name) VALUES ('spotify', 'Spotify');
INSERT INTO charts (slug, platform_id, name, frequency, max_entries)
SELECT 'bench-' || c, (SELECT id FROM platforms), 'Bench chart ' || c, 'daily', %(entries)s
FROM generate_series(1, %(charts)s) c;
INSERT INTO rankings (chart_id, ranking_date, period_start, period_end, expected_entries, entry_count)
SELECT ch.id, timestamptz '2025-01-01 12:00+00' + d * interval '1 day',
       timestamptz '2025-01-01 00:00+00' + d * interval '1 day',
       timestamptz '2025-01-02 00:00+00' + d * interval '1 day', %(entries)s, %(entries)s
FROM charts ch CROSS JOIN generate_series(0, %(days)s - 1) d;
-- Ranking d of a chart holds the songs d*churn .. d*churn + entries - 1 (each stays STAY_DAYS days), in an
-- order that changes every day (37 is coprime with the entry count used here: a bijection of positions).
INSERT INTO ranking_entries (ranking_id, position, track_id)
SELECT r.id, ((s * 37 + d * 11) %% %(entries)s) + 1, ch.id * 1000000 + d * %(churn)s + s
FROM charts ch
JOIN rankings r ON r.chart_id = ch.id
CROSS JOIN LATERAL (SELECT (r.period_start::date - date '2025-01-01') AS d) day
CROSS JOIN generate_series(0, %(entries)s - 1) s;
"""

WINDOW_PASS_SQL = """
CREATE UNLOGGED TABLE bench_window_pass AS
SELECT e.ranking_id, e.position, e.track_id,
       lag(e.position) OVER (PARTITION BY r.chart_id, e.track_id ORDER BY r.ranking_date) AS previous_position
FROM ranking_entries e JOIN rankings r ON r.id = e.ranking_id
"""


def timed(dsn: str, action) -> tuple[float, object]:
    with psycopg.connect(dsn) as conn:
        # The baseline runs with the same settings the refresh gives its own transaction.
        conn.execute("SET jit = off")
        conn.execute(f"SET work_mem = '{WORK_MEM}'")
        started = time.perf_counter()
        result = action(conn)
        conn.commit()
        return time.perf_counter() - started, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--charts", type=int, default=20)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--entries", type=int, default=200)
    parser.add_argument("--dsn", default=os.environ.get("MUSICCHARTS_BENCH_DSN", DEFAULT_DSN))
    args = parser.parse_args(argv)
    if args.entries % 37 == 0:
        parser.error("--entries must not be a multiple of 37")
    admin = conninfo_to_dict(to_libpq_dsn(args.dsn))
    scratch = f"mc_bench_trends_{os.getpid()}"
    scratch_dsn = make_conninfo(**{**admin, "dbname": scratch})
    with psycopg.connect(make_conninfo(**admin), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{scratch}"')
        conn.execute(f'CREATE DATABASE "{scratch}"')
    try:
        upgrade(scratch_dsn)
        churn = max(1, args.entries // STAY_DAYS)
        params = {"charts": args.charts, "days": args.days, "entries": args.entries, "churn": churn}
        print(f"building {args.charts} charts x {args.days} days x {args.entries} entries ...", flush=True)

        def build(conn):
            # One statement per execute: parameters are bound server-side.
            for statement in BUILD_SQL.split(";\n"):
                if statement.strip():
                    conn.execute(statement, params)

        build_seconds, _ = timed(scratch_dsn, build)
        with psycopg.connect(scratch_dsn, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
            entries = conn.execute("SELECT count(*) FROM ranking_entries").fetchone()[0]
        print(f"  {entries:,} entries in {build_seconds:.1f} s", flush=True)

        def window_pass(conn):
            conn.execute("DROP TABLE IF EXISTS bench_window_pass")
            conn.execute(WINDOW_PASS_SQL)
            return conn.execute("SELECT count(*) FROM bench_window_pass").fetchone()[0]

        first_seconds, first = timed(scratch_dsn, refresh_chart_trends)
        with psycopg.connect(scratch_dsn, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE chart_trend_entries, chart_trend_rankings")
        # Interleaved, three of each, best of each: the machine's load drifts during a run.
        window_runs, recompute_runs = [], []
        for _ in range(3):
            window_runs.append(timed(scratch_dsn, window_pass)[0])
            recompute_runs.append(timed(scratch_dsn, lambda conn: refresh_chart_trends(conn, force=True)))
        window_seconds = min(window_runs)
        recompute_seconds, recompute = min(recompute_runs, key=lambda run: run[0])

        # (i) one new ranking at the end of the first chart: the next day, yesterday's songs moved on by one.
        def append_ranking(conn):
            ranking_id = conn.execute(
                """
                INSERT INTO rankings (chart_id, ranking_date, period_start, period_end, expected_entries,
                                      entry_count)
                SELECT r.chart_id, r.ranking_date + interval '1 day', r.period_start + interval '1 day',
                       r.period_end + interval '1 day', r.expected_entries, r.entry_count
                FROM rankings r WHERE r.chart_id = (SELECT min(id) FROM charts)
                ORDER BY r.ranking_date DESC LIMIT 1
                RETURNING id
                """
            ).fetchone()[0]
            conn.execute(
                """
                INSERT INTO ranking_entries (ranking_id, position, track_id)
                SELECT %(new)s, (e.position %% %(entries)s) + 1, e.track_id
                FROM ranking_entries e
                WHERE e.ranking_id = (
                    SELECT r.id FROM rankings r
                    WHERE r.chart_id = (SELECT min(id) FROM charts) AND r.id <> %(new)s
                    ORDER BY r.ranking_date DESC LIMIT 1)
                """,
                {"new": ranking_id, "entries": args.entries},
            )
            return ranking_id

        _, new_ranking = timed(scratch_dsn, append_ranking)
        incremental_seconds, incremental = timed(scratch_dsn, refresh_chart_trends)
        with psycopg.connect(scratch_dsn) as conn:
            new_rows = conn.execute(
                "SELECT count(*) FROM chart_trend_entries WHERE ranking_id = %s", (new_ranking,)
            ).fetchone()[0]
    finally:
        with psycopg.connect(make_conninfo(**admin), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')

    ratio = recompute_seconds / window_seconds
    print(
        f"(w) one window-function pass over {entries:,} entries: {window_seconds:.2f} s (baseline, best of 3)"
    )
    print(
        f"(t) first computation: {first_seconds:.2f} s = {first_seconds / window_seconds:.2f}x the pass"
        f" ({first.entries_written:,} trend rows, {first.summaries_written:,} summaries)"
    )
    print(
        f"(r) recompute of every ranking (force): {recompute_seconds:.2f} s = {ratio:.2f}x the pass"
        f" (target <= {TARGET_RATIO}x);"
        f" rows written {recompute.entries_written + recompute.summaries_written}"
    )
    print(
        f"(i) one new ranking: {incremental_seconds:.3f} s,"
        f" rankings recomputed {incremental.rankings_recomputed},"
        f" trend rows written {incremental.entries_written} (the ranking has {new_rows}),"
        f" summaries {incremental.summaries_written}, deleted {incremental.entries_deleted}"
    )
    only_its_rows = (
        incremental.rankings_recomputed == 1
        and incremental.entries_written == new_rows == args.entries
        and incremental.summaries_written == 1
        and incremental.entries_deleted == 0
    )
    ok = ratio <= TARGET_RATIO and only_its_rows and recompute.entries_written == 0
    print("targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
