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
