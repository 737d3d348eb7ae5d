"""UI endpoints: 95th-percentile latency on a year of 50 daily charts, and no sequential scan of a big table.

    python bench/bench_ui_endpoints.py [--dsn DSN] [--requests 40] [--rebuild] [--drop]

Builds (once; reused by later runs unless ``--rebuild``) two databases on the server of ``--dsn`` (default:
the local Postgres, 127.0.0.1:5432 user postgres): a product database holding one year of 50 daily charts
(18,250 rankings, 3.65M ranking entries, 18,200 exits, 20,000 tracks, 5,000 artists), 1M track audience
points and 182,500 artist audience points, 20,000 fraud flags, 10,000 analysed songs (40,000 matches)
and a year of health checks, and an Airflow metadata database with one DAG run per chart period. Then it
serves requests through Airflow's own api-server app (``create_app``, the MusicCharts plugin mounted, a real
token checked by the auth manager) and measures each endpoint ``--requests`` times after a warm-up.

Prints, per endpoint, the median and p95 in ms and the p95 as a ratio of the p95 of Airflow's own
``GET /api/v2/version`` measured in the same run (what any request through the same stack costs). Every SQL
statement the endpoints ran is then EXPLAINed with the same parameters; a sequential scan of a big table
(ranking_entries, chart_exits, track_audience, artist_audience) is reported.
Exit status 1 when an endpoint's p95 is 200 ms or more, or a plan scans a big table sequentially.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
for part in ("include", "plugins", "stack"):
    if str(REPO_ROOT / part) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT / part))

import psycopg  # noqa: E402
from psycopg.conninfo import conninfo_to_dict, make_conninfo  # noqa: E402

TARGET_P95_MS = 200.0
DEFAULT_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
PRODUCT_DB = "mc_bench_ui_product"
METADATA_DB = "mc_bench_ui_airflow"
CHARTS = 50
DAYS = 365
ENTRIES = 200
TRACK_POOL = 400  # tracks per chart: each day the ranking rotates by one place through the pool
AUDIENCE_TRACKS = 2740  # x 365 days = 1,000,100 audience points
# rankings is one row per chart period (18,250 here): reading all of it for a year-wide coverage is the
# right plan. The tables below grow with entries and audience points.
BIG_TABLES = {
    "ranking_entries",
    "chart_exits",
    "track_audience",
    "artist_audience",
    "analysis_matches",
    "health_check_results",
}
ARTIST_AUDIENCE_ARTISTS = 500  # x 365 days: artist series, so their plans are checked on real data too
FRAUD_FLAGS = 20_000  # 4 detectors x 5,000 series: far more than the detectors flag on a year of data
SONGS = 10_000  # uploaded songs, 2% failed, 5 matches per analysed song (40,000 matches)
FIRST_DAY = date(2025, 1, 1)


def slug(chart: int) -> str:
    return f"bench-{chart:02d}"


def dsn_for(admin_dsn: str, dbname: str) -> str:
    info = conninfo_to_dict(admin_dsn)
    info["dbname"] = dbname
    return make_conninfo(**info)


def sqlalchemy_url(admin_dsn: str, dbname: str) -> str:
    info = conninfo_to_dict(admin_dsn)
    user, host, port = info.get("user", "postgres"), info.get("host", "127.0.0.1"), info.get("port", 5432)
    return f"postgresql+psycopg2://{user}@{host}:{port}/{dbname}"


def database_exists(admin_dsn: str, dbname: str) -> bool:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone() is not None


def recreate(admin_dsn: str, dbname: str) -> None:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{dbname}"')


def build_product_db(dsn: str) -> None:
    from musiccharts.db.migrate import upgrade

    upgrade(dsn)
    last_day = FIRST_DAY + timedelta(days=DAYS - 1)
    steps = [
        (
            "platform and charts",
            """
            INSERT INTO platforms (slug, name) VALUES ('spotify', 'Spotify');
            INSERT INTO charts (slug, platform_id, name, frequency, sync_enabled)
            SELECT 'bench-' || lpad(c::text, 2, '0'), 1, 'Bench chart ' || c, 'daily', true
            FROM generate_series(1, %(charts)s) c;""",
        ),
        (
            "tracks and artists",
            """
            INSERT INTO artists (uuid, name)
            SELECT '00000000-0000-4000-9000-' || lpad(a::text, 12, '0'), 'Artist ' || a
            FROM generate_series(1, 5000) a;
            INSERT INTO tracks (uuid, name, credit_name, isrc)
            SELECT '00000000-0000-4000-8000-' || lpad(t::text, 12, '0'), 'Track ' || t,
                   'Artist ' || (1 + t %% 5000),
                   'QZ' || lpad(t::text, 10, '0')
            FROM generate_series(1, %(charts)s * %(pool)s) t;
            INSERT INTO track_artists (track_id, artist_id)
            SELECT t, 1 + t %% 5000 FROM generate_series(1, %(charts)s * %(pool)s) t;""",
        ),
        (
            "rankings",
            """
            INSERT INTO rankings (chart_id, ranking_date, period_start, period_end, expected_entries,
                                  entry_count)
            SELECT c, d + interval '12 hours', d, d + interval '1 day', %(entries)s, %(entries)s
            FROM generate_series(1, %(charts)s) c,
                 generate_series(%(first)s::timestamptz, %(last)s::timestamptz, interval '1 day') d;""",
        ),
        (
            "ranking entries (3.65M)",
            """
            INSERT INTO ranking_entries (ranking_id, position, track_id, previous_position,
                                         position_evolution,
                                         metric, time_on_chart, time_on_chart_unit)
            SELECT r.id, p,
                   1 + (r.chart_id - 1) * %(pool)s
                     + ((p - 1 + (r.period_start::date - %(first)s::date)) %% %(pool)s),
                   CASE WHEN r.period_start > %(first)s::timestamptz AND p < %(entries)s THEN p + 1 END,
                   CASE WHEN r.period_start > %(first)s::timestamptz AND p < %(entries)s THEN 1 END,
                   1000000 - p * 1000, 1 + (r.period_start::date - %(first)s::date) %% 60, 'DOC'
            FROM rankings r, generate_series(1, %(entries)s) p;""",
        ),
        (
            "chart exits",
            """
            INSERT INTO chart_exits (chart_id, track_id, last_ranking_id, exit_ranking_id, last_position,
                                     exit_date)
            SELECT cur.chart_id, prev_entry.track_id, prev.id, cur.id, 1, cur.ranking_date
            FROM rankings cur
            JOIN rankings prev
              ON prev.chart_id = cur.chart_id AND prev.ranking_date = cur.ranking_date - interval '1 day'
            JOIN ranking_entries prev_entry
              ON prev_entry.ranking_id = prev.id AND prev_entry.position = 1;""",
        ),
        (
            "track audience (1M)",
            """
            INSERT INTO track_audience (track_id, platform, identifier, date, value)
            SELECT t, 'spotify', '', d::date, 1000 * t + (d::date - %(first)s::date) * 10
            FROM generate_series(1, %(audience_tracks)s) t,
                 generate_series(%(first)s::timestamptz, %(last)s::timestamptz, interval '1 day') d;""",
        ),
        ("analyze", "ANALYZE;"),
    ]
    params = {
        "charts": CHARTS,
        "pool": TRACK_POOL,
        "entries": ENTRIES,
        "first": FIRST_DAY.isoformat(),
        "last": last_day.isoformat(),
        "audience_tracks": AUDIENCE_TRACKS,
    }
    for what, sql in steps:
        started = time.perf_counter()
        with psycopg.connect(dsn, autocommit=what == "analyze") as conn:
            for statement in filter(str.strip, sql.split(";")):
                # Only the statements that use parameters get them (psycopg would ask for %% escapes).
                conn.execute(statement, params if "%(" in statement else None)
        print(f"  built {what} in {time.perf_counter() - started:.1f} s", flush=True)


def build_risk_data(conn: psycopg.Connection) -> None:
    """Fraud flags, song analyses (matches, reports) and health checks for the risk pages and the card."""
    started = time.perf_counter()
    params = {"flags": FRAUD_FLAGS, "songs": SONGS, "first": FIRST_DAY.isoformat(), "days": DAYS}
    for statement in (
        """
        INSERT INTO audience_fraud_flags (entity_type, entity_id, platform, identifier, detector,
                                          window_start, window_end, score, evidence, detector_version,
                                          computed_at)
        SELECT CASE WHEN n %% 5 = 0 THEN 'artist' ELSE 'track' END, 1 + n %% 5000,
               (ARRAY['spotify', 'youtube', 'tiktok', 'deezer'])[1 + n %% 4], '',
               (ARRAY['burst_revert', 'plateau', 'chart_mismatch', 'growth'])[1 + (n / 5000) %% 4],
               %(first)s::date + (n * 7) %% %(days)s, %(first)s::date + (n * 7) %% %(days)s + 6,
               (n * 37) %% 1000 / 10.0, jsonb_build_object('z_score', n %% 17, 'days', 7), 'v1',
               %(first)s::timestamptz + ((n * 7) %% %(days)s + 7) * interval '1 day'
        FROM generate_series(1, %(flags)s) n""",
        """
        INSERT INTO songs (title, artist, audio_uri, status, failure_reason, updated_at)
        SELECT 'Song ' || n, 'Uploader ' || n %% 300, 'file:///bench/' || n || '.mp3',
               CASE WHEN n %% 50 = 0 THEN 'failed' WHEN n %% 97 = 0 THEN 'uploaded' ELSE 'analyzed' END,
               CASE WHEN n %% 50 = 0 THEN 'ACRCloud scan error (state -2)' END,
               %(first)s::timestamptz + (n %% %(days)s) * interval '1 day'
        FROM generate_series(1, %(songs)s) n""",
        """
        INSERT INTO song_analyses (song_id, status, failure_reason, upload_name, file_id, scan_state,
                                   completed_at, dag_run_id)
        SELECT id, status, failure_reason, 'bench-' || id, 'file-' || id, 1, updated_at,
               'scheduled__' || to_char(updated_at, 'YYYY-MM-DD"T"HH24:MI:SS')
        FROM songs WHERE status <> 'uploaded'""",
        """
        INSERT INTO analysis_matches (analysis_id, match_type, match_key, title, artists, isrc, outer_score,
                                      raw)
        SELECT a.id, 'music', 'acr-' || a.id || '-' || k, 'Match ' || k, ARRAY['Artist ' || k],
               'QZ' || lpad((a.id * 5 + k)::text, 10, '0'), 100 - k * 7, '{}'
        FROM song_analyses a, generate_series(1, 5) k WHERE a.status = 'analyzed'""",
        """
        INSERT INTO analysis_reports (analysis_id, risk_level, match_type, confidence, summary, details)
        SELECT id, (ARRAY['low', 'medium', 'high', 'critical'])[1 + id %% 4], 'similar', 0.8, 'bench', '{}'
        FROM song_analyses WHERE status = 'analyzed'""",
        """
        INSERT INTO health_check_results (checked_at, check_name, status, value, threshold, unit)
        SELECT t, c, 'ok', 1, 30, 'h'
        FROM generate_series(%(first)s::timestamptz, %(first)s::timestamptz + interval '364 days',
                             interval '15 minutes') t,
             unnest(ARRAY['backup.age', 'postgres.connections', 'redis.ping', 'disk.free']) c""",
    ):
        conn.execute(statement, params)
    conn.commit()
    conn.execute("ANALYZE")
    print(f"  built risk data (flags, songs, health checks) in {time.perf_counter() - started:.1f} s")


def airflow_env(admin_dsn: str, home: Path, charts_file: Path, product_dsn: str) -> dict[str, str]:
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sqlalchemy_url(admin_dsn, METADATA_DB),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags" / "charts"),
        "AIRFLOW__API_AUTH__JWT_SECRET": "bench-only-secret-" + "b" * 48,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "bench:viewer",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "MUSICCHARTS_CHARTS_FILE": str(charts_file),
        "MUSICCHARTS_DB_URL": product_dsn,
        "PYTHONPATH": os.pathsep.join(str(REPO_ROOT / p) for p in ("include", "plugins", "stack")),
    }


def build_metadata_db(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        timeout=1200,
    )


def insert_dag_runs() -> None:
    """One successful scheduled run per chart period, as catchup would have left them."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunType

    with create_session() as session:
        for chart in range(1, CHARTS + 1):
            for offset in range(DAYS):
                start = datetime.combine(FIRST_DAY + timedelta(days=offset), datetime.min.time(), tzinfo=UTC)
                session.add(
                    DagRun(
                        dag_id=f"sync_chart_rankings__{slug(chart)}",
                        run_id=f"scheduled__{start.isoformat()}",
                        logical_date=start,
                        data_interval=(start, start + timedelta(days=1)),
                        run_after=start + timedelta(days=1),
                        run_type=DagRunType.SCHEDULED,
                        state=DagRunState.SUCCESS,
                    )
                )
            session.flush()


def write_charts_file(path: Path) -> None:
    lines = ["charts:"] + [
        f"  - {{slug: {slug(c)}, platform: spotify, country: GLOBAL, frequency: daily, "
        f"history_start: {FIRST_DAY.isoformat()}}}"
        for c in range(1, CHARTS + 1)
    ]
    path.write_text("\n".join(lines) + "\n")


class RecordingCursor:
    """Forwards to a psycopg cursor and keeps every (sql, params) for the EXPLAIN checks."""

    def __init__(self, cursor, log):
        self._cursor = cursor
        self._log = log

    def execute(self, query, params=None):
        self._log.append((query, params))
        return self._cursor.execute(query, params)

    def __getattr__(self, name):
        return getattr(self._cursor, name)

    def __iter__(self):
        return iter(self._cursor)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dsn", default=os.environ.get("MUSICCHARTS_BENCH_PG_DSN", DEFAULT_DSN))
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--rebuild", action="store_true", help="rebuild the databases even if they exist")
    parser.add_argument("--drop", action="store_true", help="drop the databases at the end")
    args = parser.parse_args(argv)

    admin_dsn = args.dsn
    workdir = Path(tempfile.mkdtemp(prefix="musiccharts-bench-ui-"))
    charts_file = workdir / "charts.yaml"
    write_charts_file(charts_file)
    product_dsn = dsn_for(admin_dsn, PRODUCT_DB)
    env = airflow_env(admin_dsn, workdir, charts_file, product_dsn)
    (workdir / "passwords.json").write_text(json.dumps({"bench": "bench"}))
    os.environ.update(env)

    fresh = args.rebuild or not (
        database_exists(admin_dsn, PRODUCT_DB) and database_exists(admin_dsn, METADATA_DB)
    )
    if fresh:
        print("building the benchmark databases (kept for later runs; --rebuild to redo) ...", flush=True)
        recreate(admin_dsn, PRODUCT_DB)
        build_product_db(product_dsn)
        recreate(admin_dsn, METADATA_DB)
        started = time.perf_counter()
        build_metadata_db(env)
        insert_dag_runs()
        print(f"  built Airflow metadata + {CHARTS * DAYS} DAG runs in {time.perf_counter() - started:.1f} s")
    from musiccharts.db.migrate import upgrade

    upgrade(product_dsn)  # a database kept from an earlier run gets the migrations added since
    with psycopg.connect(product_dsn) as conn:
        if conn.execute("SELECT NOT EXISTS (SELECT FROM artist_audience)").fetchone()[0]:
            conn.execute(
                """
                INSERT INTO artist_audience (artist_id, platform, identifier, date, follower_count)
                SELECT a, 'spotify', '', d::date, 5000 * a + (d::date - %(first)s::date) * 7
                FROM generate_series(1, %(artists)s) a,
                     generate_series(%(first)s::timestamptz, %(last)s::timestamptz, interval '1 day') d
                """,
                {
                    "first": FIRST_DAY.isoformat(),
                    "last": (FIRST_DAY + timedelta(days=DAYS - 1)).isoformat(),
                    "artists": ARTIST_AUDIENCE_ARTISTS,
                },
            )
            conn.commit()
            conn.execute("ANALYZE artist_audience")
        if conn.execute("SELECT NOT EXISTS (SELECT FROM songs)").fetchone()[0]:
            build_risk_data(conn)
        entries = conn.execute("SELECT count(*) FROM ranking_entries").fetchone()[0]
        audience = conn.execute("SELECT count(*) FROM track_audience").fetchone()[0]
    print(f"product database: {entries:,} ranking entries, {audience:,} audience points")

    import logging

    from airflow import plugins_manager
    from airflow.api_fastapi.app import create_app, get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from fastapi.testclient import TestClient

    from musiccharts_airflow.ui.readonly_db import ReadOnlyProductDatabase

    logging.disable(logging.INFO)  # one access-log line per request would drown the figures
    app = create_app(apps="core")
    [plugin_app] = [
        a["app"] for a in plugins_manager.get_fastapi_plugins()[0] if a["url_prefix"] == "/musiccharts"
    ]
    statements: list[tuple[str, object]] = []

    class RecordingDatabase(ReadOnlyProductDatabase):
        def cursor(self):
            from contextlib import contextmanager

            parent = super().cursor

            @contextmanager
            def recording():
                with parent() as cursor:
                    yield RecordingCursor(cursor, statements)

            return recording()

    plugin_app.state.product_db = RecordingDatabase(product_dsn)
    token = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="bench", role="viewer"))
    headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"}
    today = FIRST_DAY + timedelta(days=DAYS - 1)
    window = {"from": (today - timedelta(days=DAYS - 1)).isoformat(), "to": today.isoformat()}
    endpoints = {
        "baseline GET /api/v2/version": ("/api/v2/version", {}),
        "coverage, 50 charts x 365 days": ("/musiccharts/api/coverage", window),
        "coverage, one chart (DAG tab)": ("/musiccharts/api/coverage", {**window, "chart": slug(7)}),
        "charts list": ("/musiccharts/api/charts", {}),
        "chart detail (ranking, bump, health)": (f"/musiccharts/api/charts/{slug(7)}", {}),
        "track detail (audience, history)": (
            "/musiccharts/api/tracks/00000000-0000-4000-8000-000000001234",
            {},
        ),
        "artist detail": ("/musiccharts/api/artists/00000000-0000-4000-9000-000000000234", {}),
        "search": ("/musiccharts/api/search", {"q": "Track 1234"}),
        "fraud flags, first page": ("/musiccharts/api/fraud-flags", {}),
        "fraud flags, filtered": (
            "/musiccharts/api/fraud-flags",
            {"detector": "plateau", "min_score": 50, "platform": "spotify", **window},
        ),
        "song analyses, first page": ("/musiccharts/api/analyses", {}),
        "song analyses, failed": ("/musiccharts/api/analyses", {"status": "failed"}),
        "song analysis detail": ("/musiccharts/api/analyses/1234", {}),
        "dashboard card": ("/musiccharts/api/dashboard", {}),
    }
    results = {}
    failed = False
    with TestClient(app) as client:
        for name, (path, params) in endpoints.items():
            for _ in range(3):  # warm-up: pools, caches
                response = client.get(path, params=params, headers=headers)
                if response.status_code != 200:
                    print(f"{name}: HTTP {response.status_code} {response.text[:300]}")
                    return 1
            timings = []
            for _ in range(args.requests):
                started = time.perf_counter()
                response = client.get(path, params=params, headers=headers)
                timings.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
            timings.sort()
            results[name] = (
                statistics.median(timings),
                timings[int(0.95 * (len(timings) - 1))],
                len(response.content),
            )

    baseline_p95 = results["baseline GET /api/v2/version"][1]
    print(
        f"\n{'endpoint':40} {'median ms':>10} {'p95 ms':>8} {'p95/base':>9} {'body KB':>8}"
        f"  target p95 < {TARGET_P95_MS:.0f} ms"
    )
    for name, (median, p95, size) in results.items():
        verdict = "" if name.startswith("baseline") else ("ok" if p95 < TARGET_P95_MS else "TOO SLOW")
        failed |= verdict == "TOO SLOW"
        print(f"{name:40} {median:10.1f} {p95:8.1f} {p95 / baseline_p95:9.1f} {size / 1024:8.1f}  {verdict}")

    print("\nquery plans (EXPLAIN of every statement the endpoints ran):")
    seen = set()
    with psycopg.connect(product_dsn) as conn:
        for query, params in statements:
            key = " ".join(query.split())
            if key in seen:
                continue
            seen.add(key)
            plan = conn.execute("EXPLAIN (FORMAT JSON) " + query, params).fetchone()[0]
            scans = sorted(
                {node["Relation Name"] for node in walk(plan[0]["Plan"]) if node["Node Type"] == "Seq Scan"}
                & BIG_TABLES
            )
            verdict = f"SEQ SCAN of {', '.join(scans)}" if scans else "no seq scan of a big table"
            failed |= bool(scans)
            print(f"  {verdict:40} {key[:110]}")
    if args.drop:
        for dbname in (PRODUCT_DB, METADATA_DB):
            with psycopg.connect(admin_dsn, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
    return 1 if failed else 0


def walk(node):
    yield node
    for child in node.get("Plans", []):
        yield from walk(child)


if __name__ == "__main__":
    sys.exit(main())
