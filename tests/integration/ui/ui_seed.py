"""A small, fully known product database for the UI tests (and the headless-browser tests).

Three daily charts; the ``ui-daily`` chart's last six periods cover every coverage state:

    day -6, -5  stored (25 of 25 entries; positions 1 and 2 swap between the two)
    day -4      incomplete (20 of 25 entries; tracks 21..25 exit there)
    day -3      failed   (a failed DAG run, no ranking)
    day -2      waiting  (a running DAG run, no ranking)
    day -1      missing  (nothing)

``ui-other`` has one stored ranking; ``ui-secret`` is the chart a restricted user may not read.
"""

from __future__ import annotations

import textwrap
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg

#: Where the api-server mounts the plugin app, and the auth manager of the UI tests (per-DAG grants).
PREFIX = "/musiccharts"
AUTH_MANAGER = "tests.integration.ui.restricted_auth_manager.RestrictedSimpleAuthManager"

DAILY = "ui-daily"
OTHER = "ui-other"
SECRET = "ui-secret"
TRACKS = 25


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def today() -> date:
    return datetime.now(UTC).date()


def period(offset_days: int) -> tuple[datetime, datetime]:
    """The daily period ``offset_days`` before today (``-1`` is yesterday)."""
    start = day_start(today() + timedelta(days=offset_days))
    return start, start + timedelta(days=1)


def track_uuid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def artist_uuid(n: int) -> str:
    return f"00000000-0000-4000-9000-{n:012d}"


def write_charts_file(path: Path) -> Path:
    first = (today() - timedelta(days=6)).isoformat()
    path.write_text(
        textwrap.dedent(
            f"""\
            charts:
              - {{slug: {DAILY}, platform: spotify, country: GLOBAL, frequency: daily, history_start: {first}}}
              - {{slug: {OTHER}, platform: spotify, country: US, frequency: daily, history_start: {first}}}
              - {{slug: {SECRET}, platform: spotify, country: FR, frequency: daily, history_start: {first}}}
            """
        )
    )
    return path


def _ranking(cur, chart_id: int, offset: int, order: list[int], expected: int) -> int:
    start, end = period(offset)
    ranking_date = start + timedelta(hours=12)
    cur.execute(
        """
        INSERT INTO rankings (chart_id, ranking_date, period_start, period_end, expected_entries, entry_count)
        VALUES (%s, %s, %s, %s, %s, %s) RETURNING id
        """,
        (chart_id, ranking_date, start, end, expected, len(order)),
    )
    return cur.fetchone()[0]


def seed_product_db(dsn: str) -> dict[str, int]:
    """Write the data described in the module docstring; returns ids the tests refer to."""
    ids: dict[str, int] = {}
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO platforms (slug, name) VALUES ('spotify', 'Spotify') RETURNING id")
        platform_id = cur.fetchone()[0]
        for slug in (DAILY, OTHER, SECRET):
            cur.execute(
                "INSERT INTO charts (slug, platform_id, name, frequency, sync_enabled)"
                " VALUES (%s, %s, %s, 'daily', true) RETURNING id",
                (slug, platform_id, f"Chart {slug}"),
            )
            ids[slug] = cur.fetchone()[0]
        track_ids = []
        for n in range(1, TRACKS + 1):
            cur.execute(
                "INSERT INTO tracks (uuid, name, credit_name, isrc) VALUES (%s, %s, %s, %s) RETURNING id",
                (track_uuid(n), f"Song {n}", f"Artist {n}", f"QZ0000000{n:03d}"),
            )
            track_ids.append(cur.fetchone()[0])
            cur.execute(
                "INSERT INTO artists (uuid, name) VALUES (%s, %s) RETURNING id",
                (artist_uuid(n), f"Artist {n}"),
            )
            artist_id = cur.fetchone()[0]
            cur.execute(
                "INSERT INTO track_artists (track_id, artist_id) VALUES (%s, %s)", (track_ids[-1], artist_id)
            )
        ids["track_1"] = track_ids[0]

        def entries(ranking_id: int, order: list[int], previous: dict[int, int] | None) -> dict[int, int]:
            positions = {}
            for position, n in enumerate(order, start=1):
                prev = previous.get(n) if previous else None
                cur.execute(
                    "INSERT INTO ranking_entries (ranking_id, position, track_id, previous_position,"
                    " position_evolution, metric) VALUES (%s, %s, %s, %s, %s, %s)",
                    (
                        ranking_id,
                        position,
                        track_ids[n - 1],
                        prev,
                        None if prev is None else prev - position,
                        100_000 - position * 1000,
                    ),
                )
                positions[n] = position
            return positions

        first_order = list(range(1, TRACKS + 1))
        second_order = [2, 1, *range(3, TRACKS + 1)]
        third_order = list(range(1, 21))
        r1 = _ranking(cur, ids[DAILY], -6, first_order, TRACKS)
        p1 = entries(r1, first_order, None)
        r2 = _ranking(cur, ids[DAILY], -5, second_order, TRACKS)
        p2 = entries(r2, second_order, p1)
        r3 = _ranking(cur, ids[DAILY], -4, third_order, TRACKS)
        entries(r3, third_order, p2)
        for n in range(21, TRACKS + 1):
            cur.execute(
                "INSERT INTO chart_exits (chart_id, track_id, last_ranking_id, exit_ranking_id, last_position,"
                " exit_date) SELECT %s, %s, %s, %s, %s, ranking_date FROM rankings WHERE id = %s",
                (ids[DAILY], track_ids[n - 1], r2, r3, p2[n], r3),
            )
        ids.update(stored_1=r1, stored_2=r2, incomplete=r3)
        other = _ranking(cur, ids[OTHER], -1, [3, 4], 2)
        entries(other, [3, 4], None)
        secret = _ranking(cur, ids[SECRET], -1, [5], 1)
        entries(secret, [5], None)
        ids["secret"] = secret
        for day in range(10, 0, -1):
            for platform, base in (("spotify", 1000), ("youtube", 50)):
                cur.execute(
                    "INSERT INTO track_audience (track_id, platform, identifier, date, value)"
                    " VALUES (%s, %s, 'main', %s, %s)",
                    (track_ids[0], platform, today() - timedelta(days=day), base + 10 * (10 - day)),
                )
        for day in range(5, 0, -1):
            cur.execute(
                "INSERT INTO artist_audience (artist_id, platform, identifier, date, follower_count, like_count)"
                " SELECT id, 'instagram', '', %s, %s, NULL FROM artists WHERE uuid = %s",
                (today() - timedelta(days=day), 500 + day, artist_uuid(3)),
            )
    return ids


def seed_dag_runs() -> dict[str, str]:
    """The failed and the running run of ``ui-daily`` (through Airflow's ORM, as the scheduler would)."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunType

    runs = {}
    with create_session() as session:
        for offset, state in ((-3, DagRunState.FAILED), (-2, DagRunState.RUNNING)):
            start, end = period(offset)
            run_id = f"scheduled__{start.isoformat()}"
            session.add(
                DagRun(
                    dag_id=f"sync_chart_rankings__{DAILY}",
                    run_id=run_id,
                    logical_date=start,
                    data_interval=(start, end),
                    run_after=end,
                    run_type=DagRunType.SCHEDULED,
                    state=state,
                )
            )
            runs[state.value] = run_id
    return runs


def token_for(username: str, role: str = "viewer") -> str:
    """A token signed by the running auth manager, as ``POST /auth/token`` would return it."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return get_auth_manager().generate_jwt(SimpleAuthManagerUser(username=username, role=role))


# --- fraud, analyses, dashboard -------------------------------------------------------------------------

#: Song title -> status of the analysis seed; the failed one is retried by the browser test.
SONGS = {
    "Clean Song": "analyzed",
    "Copied Song": "analyzed",
    "Broken Song": "failed",
    "Queued Song": "uploaded",
}
FAILED_REASON = "ACRCloud scan error (state -2): the file could not be decoded"
ANALYSIS_RUN_ID = "manual__ui-analysis-run"


def seed_risk_data(dsn: str) -> dict[str, int]:
    """Three audience fraud flags, four songs (every status but processing) and health/backup rows."""
    ids: dict[str, int] = {}
    now = datetime.now(UTC)
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT id FROM tracks WHERE uuid = %s", (track_uuid(1),))
        track_1 = cur.fetchone()[0]
        cur.execute("SELECT id FROM artists WHERE uuid = %s", (artist_uuid(3),))
        artist_3 = cur.fetchone()[0]
        flags = [
            ("track", track_1, "spotify", "burst_revert", 92.5, 3, {"z_score": 9.1, "peak_day": "d-3"}),
            ("track", track_1, "youtube", "plateau", 61.0, 8, {"flat_days": 6}),
            ("artist", artist_3, "instagram", "burst_revert", 40.0, 20, {"z_score": 4.2}),
        ]
        for entity_type, entity_id, platform, detector, score, age_days, evidence in flags:
            window_end = today() - timedelta(days=age_days)
            cur.execute(
                "INSERT INTO audience_fraud_flags (entity_type, entity_id, platform, identifier, detector,"
                " window_start, window_end, score, evidence, detector_version, computed_at)"
                " VALUES (%s, %s, %s, 'main', %s, %s, %s, %s, %s, 'v1', %s)",
                (
                    entity_type,
                    entity_id,
                    platform,
                    detector,
                    window_end - timedelta(days=3),
                    window_end,
                    score,
                    psycopg.types.json.Jsonb(evidence),
                    now - timedelta(days=age_days),
                ),
            )
        for title, song_status in SONGS.items():
            cur.execute(
                "INSERT INTO songs (title, artist, audio_uri, original_filename, status, failure_reason)"
                " VALUES (%s, 'Uploader', %s, %s, %s, %s) RETURNING id",
                (
                    title,
                    f"file:///songs/{title.replace(' ', '_')}.mp3",
                    f"{title}.mp3",
                    song_status,
                    FAILED_REASON if song_status == "failed" else None,
                ),
            )
            ids[title] = cur.fetchone()[0]
            if song_status == "uploaded":
                continue
            cur.execute(
                "INSERT INTO song_analyses (song_id, status, failure_reason, upload_name, file_id, scan_state,"
                " completed_at, dag_run_id) VALUES (%s, %s, %s, %s, %s, %s, now(), %s) RETURNING id",
                (
                    ids[title],
                    song_status,
                    FAILED_REASON if song_status == "failed" else None,
                    f"song-{ids[title]}",
                    f"file-{ids[title]}",
                    -2 if song_status == "failed" else 1,
                    ANALYSIS_RUN_ID,
                ),
            )
            analysis_id = cur.fetchone()[0]
            if song_status != "analyzed":
                continue
            copied = title == "Copied Song"
            if copied:
                cur.execute(
                    "INSERT INTO analysis_matches (analysis_id, match_type, match_key, acrid, title, artists,"
                    " isrc, outer_score, similarity, track_id, raw)"
                    " VALUES (%s, 'music', 'acr-1', 'acr-1', 'Song 1', ARRAY['Artist 1'], 'QZ0000000001',"
                    " 98, 0.97, %s, '{}')",
                    (analysis_id, track_1),
                )
            cur.execute(
                "INSERT INTO analysis_reports (analysis_id, risk_level, match_type, confidence,"
                " critical_reasons, summary, recommendations, details) VALUES (%s, %s, %s, %s, %s, %s, %s, '{}')",
                (
                    analysis_id,
                    "critical" if copied else "low",
                    "exact" if copied else "no_match",
                    98.0 if copied else 0.0,  # 0-100, as the risk report computes it
                    ["exact match of a catalogue recording"] if copied else [],
                    "Exact match: Song 1 by Artist 1" if copied else "No match found",
                    ["do not release"] if copied else [],
                ),
            )
        cur.execute(
            "INSERT INTO health_incidents (check_name, opened_at, status, detail)"
            " VALUES ('redis.ping', now() - interval '1 hour', 'error', 'connection refused')"
        )
        cur.execute(
            "INSERT INTO health_check_results (checked_at, check_name, status, value, threshold, unit)"
            " VALUES (now(), 'backup.age', 'ok', 5.5, 30, 'h')"
        )
    return ids


def write_backup_manifest(root: Path) -> str:
    """One verified backup manifest (no dump needed: the card reads manifests only)."""
    from musiccharts.maintenance.backup import MANIFEST_SUFFIX, Manifest

    name = "musiccharts-ui-test-backup"
    manifest = Manifest(
        name=name,
        created_at=(datetime.now(UTC) - timedelta(hours=5)).isoformat(),
        database="musiccharts",
        server_version="17",
        pg_dump_version="17",
        size_bytes=123_456,
        sha256="0" * 64,
        dump_seconds=1.0,
        verify_seconds=2.5,
        tables={"rankings": {"rows": 4, "key_checksum": "1"}, "tracks": {"rows": 25, "key_checksum": "2"}},
    )
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{name}{MANIFEST_SUFFIX}").write_text(manifest.to_json())
    return name


#: Runs of the analysis, fraud detection and backup DAGs that the risk pages and the card link to.
RISK_RUNS = {
    "analyze_songs": ANALYSIS_RUN_ID,
    "analytics_fraud_detection": "manual__ui-fraud-run",
    "backup_product_database": "scheduled__ui-backup-run",
    # Overlaps the analysis run and started after it: a risk flag must still link to the run that analysed
    # the song (song_analyses.dag_run_id), not to whichever analysis run was going at the time.
    "retry_failed_analyses": "manual__ui-retry-run",
}
RISK_RUN_STARTED_DAYS_AGO = {"retry_failed_analyses": 29}


def seed_risk_runs() -> None:
    """One run per DAG of ``RISK_RUNS``, running from 30 days ago until now (every flag falls inside)."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunType

    now = datetime.now(UTC)
    with create_session() as session:
        for dag_id, run_id in RISK_RUNS.items():
            run = DagRun(
                dag_id=dag_id,
                run_id=run_id,
                logical_date=None,
                run_after=now,
                run_type=DagRunType.MANUAL,
                state=DagRunState.SUCCESS,
            )
            run.start_date = now - timedelta(days=RISK_RUN_STARTED_DAYS_AGO.get(dag_id, 30))
            run.end_date = now
            session.add(run)
