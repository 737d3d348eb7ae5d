"""Product-database migrations: idempotent, concurrent-safe, every natural key a real UNIQUE constraint."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import UTC, date, datetime

import psycopg
import pytest

from musiccharts.db.connection import connect, to_libpq_dsn
from musiccharts.db.migrate import (
    current_revision,
    data_tables,
    downgrade,
    head_revision,
    truncate_all,
    upgrade,
)
from tests.paths import REPO_ROOT

pytestmark = pytest.mark.integration

# Per process: test sessions of several worktrees share one server and would drop each other's database.
SCRATCH_DB = f"mc_test_product_migrations_{os.getpid()}"

EXPECTED_TABLES = [
    "acrcloud_callbacks",
    "analysis_ai_detections",
    "analysis_matches",
    "analysis_reports",
    "artist_airplay",
    "artist_audience",
    "artists",
    "audience_fraud_flags",
    "chart_exits",
    "chart_health",
    "chart_ranking_date_scans",
    "chart_ranking_dates",
    "chart_trend_entries",
    "chart_trend_rankings",
    "charts",
    "data_source",
    "genres",
    "health_check_results",
    "health_incidents",
    "performance_reports",
    "platforms",
    "ranking_entries",
    "rankings",
    "song_analyses",
    "songs",
    "soundcharts_call_backoff",
    "track_artists",
    "track_audience",
    "track_genres",
    "tracks",
]


def schema_fingerprint(dsn: str) -> list[tuple]:
    """Columns, constraints and indexes of the public schema: equal fingerprints mean an equal schema."""
    with psycopg.connect(dsn) as conn:
        columns = conn.execute(
            """
            SELECT table_name, column_name, data_type, is_nullable, column_default
            FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2
            """
        ).fetchall()
        constraints = conn.execute(
            """
            SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
            FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2
            """
        ).fetchall()
        indexes = conn.execute(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2"
        ).fetchall()
    return columns + constraints + indexes


@pytest.fixture
def scratch_dsn(postgres_server):
    """An empty, never-migrated database of its own (the session's product database stays untouched)."""
    yield postgres_server.recreate_database(SCRATCH_DB)
    with psycopg.connect(postgres_server.admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{SCRATCH_DB}" WITH (FORCE)')


def test_upgrade_creates_the_schema_and_is_idempotent(scratch_dsn):
    assert current_revision(scratch_dsn) is None

    head = head_revision()
    assert upgrade(scratch_dsn) == head
    first = schema_fingerprint(scratch_dsn)
    assert upgrade(scratch_dsn) == head

    assert schema_fingerprint(scratch_dsn) == first
    with connect(scratch_dsn) as conn:
        assert data_tables(conn) == EXPECTED_TABLES
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(head,)]


def foreign_keys_of(dsn: str, table: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        return [
            row[0]
            for row in conn.execute(
                "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY 1",
                (table,),
            )
        ]


def test_0002_replaces_the_row_level_keys_of_entries_and_exits_and_downgrades_back(scratch_dsn):
    assert upgrade(scratch_dsn, "0001") == "0001"
    at_0001 = schema_fingerprint(scratch_dsn)
    assert foreign_keys_of(scratch_dsn, "ranking_entries") == [
        "ranking_entries_ranking_id_fkey",
        "ranking_entries_track_id_fkey",
    ]
    assert len(foreign_keys_of(scratch_dsn, "chart_exits")) == 4

    assert upgrade(scratch_dsn, "0002") == "0002"
    assert foreign_keys_of(scratch_dsn, "ranking_entries") == []
    assert foreign_keys_of(scratch_dsn, "chart_exits") == []
    assert foreign_keys_of(scratch_dsn, "rankings") == ["rankings_chart_id_fkey"]  # untouched

    downgrade(scratch_dsn, "0001")
    assert current_revision(scratch_dsn) == "0001"
    assert schema_fingerprint(scratch_dsn) == at_0001


def test_0003_moves_artist_audience_values_to_named_metrics_and_downgrades_back(scratch_dsn):
    assert upgrade(scratch_dsn, "0002") == "0002"
    at_0002 = schema_fingerprint(scratch_dsn)
    artist = "11e81bcc-9c1c-ce38-b96b-a0369fe50396"
    with connect(scratch_dsn) as conn:
        conn.execute("INSERT INTO artists (uuid, name) VALUES (%s, 'A')", (artist,))
        conn.execute(
            "INSERT INTO artist_audience (artist_id, platform, date, value) VALUES (1, 'spotify', %s, 0)",
            (date(2025, 8, 1),),
        )

    assert upgrade(scratch_dsn, "0003") == "0003"
    with connect(scratch_dsn) as conn:
        assert conn.execute(
            "SELECT follower_count, like_count, view_count FROM artist_audience"
        ).fetchall() == [(0, None, None)]
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(
                "INSERT INTO artist_audience (artist_id, platform, date) VALUES (1, 'tiktok', %s)",
                (date(2025, 8, 1),),
            )

    downgrade(scratch_dsn, "0002")
    assert schema_fingerprint(scratch_dsn) == at_0002
    with connect(scratch_dsn) as conn:
        assert conn.execute("SELECT value FROM artist_audience").fetchall() == [(0,)]


def test_concurrent_upgrades_migrate_once(scratch_dsn):
    errors: list[BaseException] = []

    def migrate() -> None:
        try:
            upgrade(scratch_dsn)
        except BaseException as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=migrate) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert current_revision(scratch_dsn) == head_revision()


def test_upgrade_accepts_sqlalchemy_urls(postgres_server, scratch_dsn):
    url = postgres_server.sqlalchemy_url(SCRATCH_DB, driver="psycopg2")
    assert url.startswith("postgresql+psycopg2://")
    assert upgrade(url) == head_revision()
    assert current_revision(scratch_dsn) == head_revision()


def test_cli_upgrade_reads_the_url_from_the_environment(postgres_server, scratch_dsn):
    env = {**os.environ, "MUSICCHARTS_DB_URL": postgres_server.sqlalchemy_url(SCRATCH_DB, driver="psycopg")}
    result = subprocess.run(
        [sys.executable, "-m", "musiccharts.db.migrate", "upgrade"],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert f"product database at revision {head_revision()}" in result.stdout
    current = subprocess.run(
        [sys.executable, "-m", "musiccharts.db.migrate", "current", "--dsn", scratch_dsn],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert current.stdout.strip() == head_revision()


def test_cli_without_a_database_is_a_usage_error():
    env = {key: value for key, value in os.environ.items() if key != "MUSICCHARTS_DB_URL"}
    result = subprocess.run(
        [sys.executable, "-m", "musiccharts.db.migrate", "upgrade"],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "MUSICCHARTS_DB_URL" in result.stderr


def test_truncate_all_empties_data_and_keeps_the_version(clean_product_db):
    with connect(clean_product_db) as conn:
        conn.execute("INSERT INTO platforms (slug, name) VALUES ('spotify', 'Spotify')")
    emptied = truncate_all(clean_product_db)

    assert emptied == EXPECTED_TABLES
    with connect(clean_product_db) as conn:
        assert conn.execute("SELECT count(*) FROM platforms").fetchone()[0] == 0
        # Identities restart, so tests can rely on ids.
        assert (
            conn.execute("INSERT INTO platforms (slug, name) VALUES ('x', 'X') RETURNING id").fetchone()[0]
            == 1
        )
    assert current_revision(clean_product_db) == head_revision()


@pytest.mark.parametrize(
    ("url_or_dsn", "expected"),
    [
        (
            "postgresql+psycopg2://postgres@127.0.0.1:5432/mc",
            {"user": "postgres", "host": "127.0.0.1", "port": "5432", "dbname": "mc"},
        ),
        (
            "postgresql+psycopg://u:p%40ss@db:6543/mc",
            {"user": "u", "password": "p@ss", "host": "db", "port": "6543", "dbname": "mc"},
        ),
        (
            "postgres://u@/mc?host=/run/pg&port=5433",
            {"user": "u", "host": "/run/pg", "port": "5433", "dbname": "mc"},
        ),
        (
            "host=127.0.0.1 port=5432 dbname=mc user=postgres",
            {"user": "postgres", "host": "127.0.0.1", "port": "5432", "dbname": "mc"},
        ),
    ],
)
def test_to_libpq_dsn_accepts_every_spelling(url_or_dsn, expected):
    assert psycopg.conninfo.conninfo_to_dict(to_libpq_dsn(url_or_dsn)) == expected


def test_to_libpq_dsn_rejects_other_schemes_without_echoing_secrets():
    with pytest.raises(ValueError, match="scheme") as error:
        to_libpq_dsn("mysql://user:s3cret@host/db")
    assert "s3cret" not in str(error.value)


# --- natural keys --------------------------------------------------------------------------------------------

UUID_A = "0a6b5f4e-1c2d-4e3f-8a9b-0c1d2e3f4a5b"
UUID_B = "1b7c6a5f-2d3e-4f40-9bac-1d2e3f4a5b6c"


@pytest.fixture
def seeded(clean_product_db):
    """One row in every parent table, ids 1: enough to insert each natural-key table twice."""
    with connect(clean_product_db) as conn:
        conn.execute(
            """
            INSERT INTO platforms (slug, name) VALUES ('spotify', 'Spotify');
            INSERT INTO charts (slug, platform_id, name, frequency) VALUES ('global-28', 1, 'Top Songs', 'daily');
            INSERT INTO tracks (uuid, name) VALUES ('0a6b5f4e-1c2d-4e3f-8a9b-0c1d2e3f4a5b', 'Song');
            INSERT INTO artists (uuid, name) VALUES ('1b7c6a5f-2d3e-4f40-9bac-1d2e3f4a5b6c', 'Artist');
            INSERT INTO genres (name) VALUES ('pop');
            INSERT INTO rankings (chart_id, ranking_date, period_start, period_end)
                VALUES (1, '2025-08-23 12:00+00', '2025-08-23', '2025-08-24'),
                       (1, '2025-08-24 12:00+00', '2025-08-24', '2025-08-25');
            """
        )
    return clean_product_db


NATURAL_KEY_ROWS = {
    "platforms": ("INSERT INTO platforms (slug, name) VALUES (%s, %s)", ("spotify", "Other name")),
    "charts": (
        "INSERT INTO charts (slug, platform_id, name, frequency) VALUES (%s, 1, 'x', 'weekly')",
        ("global-28",),
    ),
    "tracks": ("INSERT INTO tracks (uuid, name) VALUES (%s, 'x')", (UUID_A,)),
    "artists": ("INSERT INTO artists (uuid, name) VALUES (%s, 'x')", (UUID_B,)),
    "genres": ("INSERT INTO genres (name) VALUES (%s)", ("pop",)),
    "rankings": (
        "INSERT INTO rankings (chart_id, ranking_date, period_start, period_end) VALUES (1, %s, '2025-08-23', '2025-08-24')",
        (datetime(2025, 8, 23, 12, tzinfo=UTC),),
    ),
    "ranking_entries": (
        "INSERT INTO ranking_entries (ranking_id, position, track_id) VALUES (1, %s, 1)",
        (1,),
    ),
    "chart_exits": (
        "INSERT INTO chart_exits (chart_id, track_id, last_ranking_id, exit_ranking_id, last_position, exit_date)"
        " VALUES (1, 1, 1, 2, %s, '2025-08-24 12:00+00')",
        (7,),
    ),
    "track_artists": ("INSERT INTO track_artists (track_id, artist_id, position) VALUES (1, 1, %s)", (0,)),
    "track_genres": ("INSERT INTO track_genres (track_id, genre_id, is_root) VALUES (1, 1, %s)", (True,)),
    "track_audience": (
        "INSERT INTO track_audience (track_id, platform, identifier, date, value) VALUES (1, 'spotify', 'abc', %s, 5)",
        (date(2025, 8, 1),),
    ),
    "artist_audience": (
        "INSERT INTO artist_audience (artist_id, platform, date, follower_count) VALUES (1, 'spotify', %s, 5)",
        (date(2025, 8, 1),),
    ),
    "chart_ranking_dates": (
        "INSERT INTO chart_ranking_dates (chart_slug, ranking_date) VALUES ('global-28', %s)",
        (datetime(2025, 8, 23, 12, tzinfo=UTC),),
    ),
}


@pytest.mark.parametrize("table", sorted(NATURAL_KEY_ROWS))
def test_natural_keys_are_unique_constraints(seeded, table):
    statement, params = NATURAL_KEY_ROWS[table]
    with connect(seeded) as conn:
        if table not in ("platforms", "charts", "tracks", "artists", "genres", "rankings"):
            conn.execute(statement, params)  # the first row of a child table is accepted
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(statement, params)


@pytest.mark.parametrize("bad_uuid", ["0A6B5F4E-1C2D-4E3F-8A9B-0C1D2E3F4A5B", "not-a-uuid", "{'value': 'x'}"])
def test_uuids_are_stored_in_canonical_form_only(clean_product_db, bad_uuid):
    with connect(clean_product_db) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("INSERT INTO tracks (uuid, name) VALUES (%s, 'x')", (bad_uuid,))


def test_updated_at_moves_on_update_only(seeded):
    with connect(seeded) as conn:
        before = conn.execute("SELECT created_at, updated_at FROM platforms WHERE id = 1").fetchone()
    with connect(seeded) as conn:
        conn.execute("UPDATE platforms SET name = 'Spotify!' WHERE id = 1")
        after = conn.execute("SELECT created_at, updated_at FROM platforms WHERE id = 1").fetchone()
    assert after[0] == before[0]
    assert after[1] > before[1]


def test_deleting_a_ranking_cascades_to_its_entries(seeded):
    with connect(seeded) as conn:
        conn.execute("INSERT INTO ranking_entries (ranking_id, position, track_id) VALUES (1, 1, 1)")
    with connect(seeded) as conn:
        conn.execute("DELETE FROM rankings WHERE id = 1")
        assert conn.execute("SELECT count(*) FROM ranking_entries").fetchone()[0] == 0


def test_0004_song_analysis_downgrades_back(scratch_dsn):
    before = "0005"  # the revision 0004 follows
    assert upgrade(scratch_dsn, before) == before
    at_before = schema_fingerprint(scratch_dsn)
    assert upgrade(scratch_dsn, "0004") == "0004"
    downgrade(scratch_dsn, before)
    assert schema_fingerprint(scratch_dsn) == at_before
