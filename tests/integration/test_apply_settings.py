"""Applying airflow_settings.yaml to Airflow's real metadata database (PostgreSQL, migrated by the fixture).

Every object these tests write carries the ``itest_settings_`` prefix and is removed afterwards, so the
shared metadata database of the test session keeps only what other tests put there.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import psycopg
import pytest
from cryptography.fernet import Fernet
from sqlalchemy.engine import make_url

from musiccharts_airflow.settings_file import (
    AirflowSettings,
    ConnectionSetting,
    Outcome,
    PoolSetting,
    VariableSetting,
    apply_settings,
    load_settings,
)
from tests.paths import REPO_ROOT

pytestmark = pytest.mark.integration

PREFIX = "itest_settings_"
SECRET = "s3cret-api-key-for-test"


@pytest.fixture
def fernet_key(monkeypatch) -> str:
    """A Fernet key for this test, so passwords and extras are really stored encrypted."""
    from airflow.models.crypto import get_fernet

    key = Fernet.generate_key().decode()
    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", key)
    get_fernet.cache_clear()
    yield key
    get_fernet.cache_clear()


@pytest.fixture
def metadata_dsn(airflow_metadata_db: str, fernet_key: str) -> str:
    """libpq DSN of the migrated metadata DB; this test's rows are deleted before and after."""
    url = make_url(airflow_metadata_db).set(drivername="postgresql")
    dsn = url.render_as_string(hide_password=False)

    def delete_test_rows() -> None:
        with psycopg.connect(dsn) as conn:
            conn.execute("DELETE FROM connection WHERE conn_id LIKE %s", (PREFIX + "%",))
            conn.execute("DELETE FROM slot_pool WHERE pool LIKE %s", (PREFIX + "%",))
            conn.execute("DELETE FROM variable WHERE key LIKE %s", (PREFIX + "%",))

    delete_test_rows()
    yield dsn
    delete_test_rows()


def snapshot(dsn: str) -> dict[str, list[tuple]]:
    """Every stored column of every test row (ciphertexts included: an unchanged row is not rewritten)."""
    with psycopg.connect(dsn) as conn:
        return {
            "connection": conn.execute(
                "SELECT id, conn_id, conn_type, host, schema, login, password, port, extra, is_encrypted,"
                " is_extra_encrypted, description FROM connection WHERE conn_id LIKE %s ORDER BY conn_id",
                (PREFIX + "%",),
            ).fetchall(),
            "pool": conn.execute(
                "SELECT id, pool, slots, description, include_deferred FROM slot_pool"
                " WHERE pool LIKE %s ORDER BY pool",
                (PREFIX + "%",),
            ).fetchall(),
            "variable": conn.execute(
                "SELECT id, key, val, is_encrypted, description FROM variable WHERE key LIKE %s ORDER BY key",
                (PREFIX + "%",),
            ).fetchall(),
        }


def repository_settings_with_test_ids(environ: dict[str, str]) -> AirflowSettings:
    """The repository's own airflow_settings.yaml, every id prefixed so the test cannot clash."""
    settings = load_settings(
        REPO_ROOT / "airflow_settings.yaml", environ={"ACRCLOUD_CALLBACK_TOKEN": "test-token"} | environ
    )
    return AirflowSettings(
        connections=tuple(c.model_copy(update={"conn_id": PREFIX + c.conn_id}) for c in settings.connections),
        pools=tuple(p.model_copy(update={"pool_name": PREFIX + p.pool_name}) for p in settings.pools),
        variables=tuple(
            v.model_copy(update={"variable_name": PREFIX + v.variable_name}) for v in settings.variables
        ),
    )


def read_back(conn_id: str):
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        connection = session.scalar(select(Connection).where(Connection.conn_id == conn_id))
        session.expunge(connection)
        return connection


def test_apply_twice_creates_once_then_reports_unchanged(metadata_dsn):
    settings = repository_settings_with_test_ids({"SOUNDCHARTS_API_KEY": SECRET})

    # Every entry of the repository's file, counted from the file: domains add connections as they land.
    entries = len(settings.connections) + len(settings.pools) + len(settings.variables)
    assert len(settings.connections) >= 6 and entries >= 12

    first = apply_settings(settings)
    assert [change.outcome for change in first.changes] == [Outcome.CREATED] * entries
    after_first = snapshot(metadata_dsn)
    assert len(after_first["connection"]) == len(settings.connections)
    assert [(row[1], row[2]) for row in after_first["pool"]] == [
        (PREFIX + "acrcloud_api", 2),
        (PREFIX + "product_db", 8),
        (PREFIX + "soundcharts_api", 4),
    ]

    second = apply_settings(settings)
    assert [change.outcome for change in second.changes] == [Outcome.UNCHANGED] * entries
    assert second.summary() == f"0 created, 0 updated, {entries} unchanged"
    assert snapshot(metadata_dsn) == after_first

    # Stored the way the UI stores them: encrypted at rest, readable through the model.
    soundcharts_row = next(r for r in after_first["connection"] if r[1] == PREFIX + "soundcharts_default")
    assert soundcharts_row[6] != SECRET and soundcharts_row[9] is True and soundcharts_row[10] is True
    soundcharts = read_back(PREFIX + "soundcharts_default")
    assert (soundcharts.conn_type, soundcharts.host) == ("http", "http://127.0.0.1:8765")
    assert soundcharts.password == SECRET
    assert soundcharts.extra_dejson == {
        "timeout": 30,
        "requests_per_minute": 600,
        "quota_floor": 1000,
        "max_retries": 5,
    }
    database = read_back(PREFIX + "musiccharts_db")
    assert (database.conn_type, database.port, database.schema) == ("postgres", 5432, "musiccharts")
    assert database.password is None

    from airflow.models.variable import Variable

    assert Variable.get(PREFIX + "metadata_batch_failure_threshold") == "0.1"


def test_a_change_updates_only_what_changed_and_never_deletes(metadata_dsn):
    base = repository_settings_with_test_ids({"SOUNDCHARTS_API_KEY": SECRET})
    apply_settings(base)
    with psycopg.connect(metadata_dsn) as conn:
        # Created by hand in the UI: not in the file, so applying must leave it alone.
        conn.execute(
            "INSERT INTO slot_pool (pool, slots, description, include_deferred) VALUES (%s, 3, 'ui', false)",
            (PREFIX + "unlisted",),
        )
        conn.execute(
            "UPDATE variable SET description = 'written in the UI' WHERE key = %s",
            (PREFIX + "metadata_staleness_days",),
        )
    before = snapshot(metadata_dsn)

    changed = repository_settings_with_test_ids(
        {
            "SOUNDCHARTS_API_KEY": "rotated-key",
            "SOUNDCHARTS_REQUESTS_PER_MINUTE": "120",
            "MUSICCHARTS_DB_PORT": "6543",
        }
    )
    changed = changed.model_copy(
        update={
            "pools": tuple(
                p.model_copy(update={"pool_slot": 6}) if p.pool_name.endswith("soundcharts_api") else p
                for p in changed.pools
            ),
            "variables": tuple(
                v.model_copy(update={"variable_value": "45"})
                if v.variable_name.endswith("staleness_days")
                else v
                for v in changed.variables
            ),
        }
    )
    report = apply_settings(changed)

    by_name = {(c.kind, c.name.removeprefix(PREFIX)): c for c in report.changes}
    assert by_name["connection", "soundcharts_default"].outcome is Outcome.UPDATED
    assert by_name["connection", "soundcharts_default"].fields == ("password", "extra")
    assert by_name["connection", "musiccharts_db"].fields == ("port",)
    assert by_name["connection", "acrcloud_default"].outcome is Outcome.UNCHANGED
    assert by_name["pool", "soundcharts_api"].fields == ("pool_slot",)
    assert by_name["pool", "product_db"].outcome is Outcome.UNCHANGED
    assert by_name["variable", "metadata_staleness_days"].outcome is Outcome.UPDATED
    unchanged = len(changed.connections) + len(changed.pools) + len(changed.variables) - 4
    assert report.summary() == f"0 created, 4 updated, {unchanged} unchanged"

    after = snapshot(metadata_dsn)
    # Same rows (same ids): updated in place, and the unlisted pool is still there.
    assert [row[0] for row in after["connection"]] == [row[0] for row in before["connection"]]
    assert (PREFIX + "unlisted", 3) in [(row[1], row[2]) for row in after["pool"]]
    assert (PREFIX + "soundcharts_api", 6) in [(row[1], row[2]) for row in after["pool"]]
    soundcharts = read_back(PREFIX + "soundcharts_default")
    assert soundcharts.password == "rotated-key"
    assert soundcharts.extra_dejson["requests_per_minute"] == 120
    assert read_back(PREFIX + "musiccharts_db").port == 6543
    staleness = next(row for row in after["variable"] if row[1] == PREFIX + "metadata_staleness_days")
    assert staleness[4] == "written in the UI"  # the description survives a value update

    from airflow.models.variable import Variable

    assert Variable.get(PREFIX + "metadata_staleness_days") == "45"


def test_removing_a_password_from_the_file_clears_it(metadata_dsn):
    with_password = AirflowSettings(
        connections=(ConnectionSetting(conn_id=PREFIX + "db", conn_type="postgres", conn_password="pw"),)
    )
    apply_settings(with_password)
    assert read_back(PREFIX + "db").password == "pw"

    report = apply_settings(
        AirflowSettings(connections=(ConnectionSetting(conn_id=PREFIX + "db", conn_type="postgres"),))
    )
    assert report.changes[0].fields == ("password",)
    assert read_back(PREFIX + "db").password is None


def test_a_failing_apply_leaves_the_database_untouched(metadata_dsn):
    apply_settings(repository_settings_with_test_ids({"SOUNDCHARTS_API_KEY": SECRET}))
    before = snapshot(metadata_dsn)

    # Valid-looking changes first (an update, a new pool, a new connection), then an entry PostgreSQL
    # refuses (NUL is not allowed in text): the earlier statements have reached the database by then.
    failing = AirflowSettings(
        connections=(
            ConnectionSetting(conn_id=PREFIX + "soundcharts_default", conn_type="http", conn_host="changed"),
            ConnectionSetting(conn_id=PREFIX + "brand_new", conn_type="http"),
        ),
        pools=(PoolSetting(pool_name=PREFIX + "new_pool", pool_slot=1),),
        variables=(
            VariableSetting(variable_name=PREFIX + "metadata_staleness_days", variable_value="99"),
            VariableSetting(variable_name=PREFIX + "broken\x00name", variable_value="x"),
        ),
    )
    with pytest.raises(Exception, match="NUL"):
        apply_settings(failing)

    assert snapshot(metadata_dsn) == before


def test_command_line_apply_prints_outcomes_without_secrets(metadata_dsn, fernet_key, tmp_path):
    path = tmp_path / "airflow_settings.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            airflow:
              connections:
                - conn_id: {PREFIX}cli_api
                  conn_type: http
                  conn_host: http://127.0.0.1:9
                  conn_password: ${{ITEST_CLI_SECRET}}
              pools:
                - {{pool_name: {PREFIX}cli_pool, pool_slot: 2}}
            """
        )
    )
    env = {**os.environ, "ITEST_CLI_SECRET": SECRET, "AIRFLOW__CORE__FERNET_KEY": fernet_key}
    command = [sys.executable, "-m", "musiccharts_airflow.settings_file", "apply", str(path)]

    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert f"connection {PREFIX}cli_api: created" in first.stdout
    assert f"pool {PREFIX}cli_pool: created" in first.stdout
    assert SECRET not in first.stdout + first.stderr

    env["ITEST_CLI_SECRET"] = "another-secret-value"
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    assert f"connection {PREFIX}cli_api: updated (password)" in second.stdout
    assert f"pool {PREFIX}cli_pool: unchanged" in second.stdout
    assert "another-secret-value" not in second.stdout + second.stderr
    assert read_back(PREFIX + "cli_api").password == "another-secret-value"
