"""What the compose init service runs before anything else: the data-source check and the provisioning of
the product database's own role (on the real PostgreSQL)."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from musiccharts.db.data_source import IncompleteSettings, check_deployment
from musiccharts.db.provision import provision

pytestmark = pytest.mark.integration

REAL = {
    "SOUNDCHARTS_API_KEY": "k",
    "SOUNDCHARTS_APP_ID": "a",
    "SOUNDCHARTS_BASE_URL": "https://customer.api.soundcharts.com",
}


def unused_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_real_api_fully_configured_starts():
    assert "customer.api.soundcharts.com" in check_deployment(REAL, wait_seconds=0)


@pytest.mark.parametrize("missing", ["SOUNDCHARTS_APP_ID", "SOUNDCHARTS_BASE_URL"])
def test_real_credentials_with_a_missing_setting_refuse_to_start(missing):
    environ = {key: value for key, value in REAL.items() if key != missing}
    with pytest.raises(IncompleteSettings, match=missing):
        check_deployment(environ, wait_seconds=0)


def test_real_credentials_are_never_sent_to_a_simulator():
    with pytest.raises(IncompleteSettings, match="not a Soundcharts host"):
        check_deployment(
            {**REAL, "SOUNDCHARTS_BASE_URL": "http://soundcharts-simulator:8765"}, wait_seconds=0
        )


def test_without_credentials_and_without_the_simulator_start_up_refuses():
    with pytest.raises(IncompleteSettings, match="--profile simulator"):
        check_deployment({"SOUNDCHARTS_BASE_URL": unused_url()}, wait_seconds=0)
    result = subprocess.run(
        [sys.executable, "-m", "musiccharts.db.data_source"],
        env={k: v for k, v in os.environ.items() if not k.startswith("SOUNDCHARTS_")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "refusing to start" in result.stderr


def test_without_credentials_a_running_simulator_is_accepted():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        assert "simulator" in check_deployment({"SOUNDCHARTS_BASE_URL": url}, wait_seconds=0)


@pytest.fixture
def scratch_names(postgres_server):
    suffix = secrets.token_hex(4)
    role, database = f"mc_test_role_{suffix}", f"mc_test_owned_{suffix}"
    yield role, database
    with psycopg.connect(postgres_server.admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def owners(admin_dsn: str, database: str) -> set[str]:
    dsn = make_conninfo(**{**conninfo_to_dict(admin_dsn), "dbname": database})
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database() "
            "UNION SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'public' "
            "UNION SELECT tableowner FROM pg_tables WHERE schemaname = 'public' "
            "UNION SELECT pg_get_userbyid(proowner) FROM pg_proc WHERE pronamespace = 'public'::regnamespace"
        ).fetchall()
    return {row[0] for row in rows}


def test_provisioning_makes_the_role_own_a_new_database(postgres_server, scratch_names):
    role, database = scratch_names
    provision(postgres_server.admin_dsn, role, "pw-1", database)
    provision(postgres_server.admin_dsn, role, "pw-1", database)  # idempotent
    assert owners(postgres_server.admin_dsn, database) == {role}


def test_provisioning_takes_over_an_older_database_owned_by_the_admin(postgres_server, scratch_names):
    role, database = scratch_names
    admin = postgres_server.admin_dsn
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    with psycopg.connect(make_conninfo(**{**conninfo_to_dict(admin), "dbname": database})) as conn:
        conn.execute("CREATE TABLE charts (id bigserial PRIMARY KEY, slug text)")
        conn.execute("CREATE FUNCTION answer() RETURNS int LANGUAGE sql AS 'SELECT 42'")
    assert role not in owners(admin, database)

    provision(admin, role, "pw-2", database)

    assert owners(admin, database) == {role}
    with psycopg.connect(admin, autocommit=True) as conn:
        public_can_connect = conn.execute(
            "SELECT has_database_privilege('public', %s, 'CONNECT')", (database,)
        ).fetchone()[0]
    assert public_can_connect is False


def test_provisioning_without_a_password_is_refused(postgres_server, scratch_names):
    role, database = scratch_names
    with pytest.raises(ValueError, match="needs a password"):
        provision(postgres_server.admin_dsn, role, "", database)
