"""Test-session wiring: real Postgres and Redis, an isolated AIRFLOW_HOME, and shared fixtures.

Airflow reads its configuration when it is first imported, so the environment is set here, at import time,
before any test module imports ``airflow``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.paths import REPO_ROOT
from tests.services import PostgresServer, locate_postgres, locate_redis

pytest_plugins = ["soundcharts_simulator.pytest_plugin"]

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="musiccharts-test-airflow-"))
_PG = locate_postgres()
# Databases private to this test session (several sessions may share one server); dropped at the end.
_METADATA_DB = f"mc_test_airflow_{os.getpid()}"
_PRODUCT_DB = f"mc_test_product_{os.getpid()}"

os.environ.update(
    {
        "AIRFLOW_HOME": str(_AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": _PG.sqlalchemy_url(_METADATA_DB),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(_AIRFLOW_HOME / "logs"),
        "PYTHONPATH": os.pathsep.join(
            str(REPO_ROOT / part) for part in ("include", "plugins", "simulators", "stack")
        ),
    }
)


@pytest.fixture(scope="session")
def postgres_server() -> PostgresServer:
    return _PG


@pytest.fixture(scope="session")
def redis_url() -> str:
    return locate_redis()


@pytest.fixture(scope="session")
def product_dsn(postgres_server: PostgresServer) -> Iterator[str]:
    """A freshly migrated product database for this test session."""
    from musiccharts.db.migrate import upgrade

    dsn = postgres_server.recreate_database(_PRODUCT_DB)
    upgrade(dsn)
    yield dsn
    postgres_server.drop_database(_PRODUCT_DB)


@pytest.fixture
def clean_product_db(product_dsn: str) -> str:
    """The product database with every data table emptied (schema and migrations kept)."""
    from musiccharts.db.migrate import truncate_all

    truncate_all(product_dsn)
    return product_dsn


@pytest.fixture(scope="session")
def airflow_metadata_db(postgres_server: PostgresServer) -> Iterator[str]:
    """Airflow's metadata database, migrated once per session (needed by ``dag.test()``)."""
    postgres_server.recreate_database(_METADATA_DB)
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        env=os.environ.copy(),
        capture_output=True,
        timeout=600,
    )
    yield os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    from airflow.settings import dispose_orm

    dispose_orm()
    postgres_server.drop_database(_METADATA_DB)


@pytest.fixture
def airflow_connections(monkeypatch, sim, clean_product_db, airflow_metadata_db):
    """Connections for tasks run by ``dag.test()``: env vars pointing at the simulator and the product DB.

    Hermetic: nothing is written to the metastore. Returns the product database DSN.
    """
    import psycopg

    info = psycopg.conninfo.conninfo_to_dict(clean_product_db)
    monkeypatch.setenv(
        "AIRFLOW_CONN_MUSICCHARTS_DB",
        json.dumps(
            {
                "conn_type": "postgres",
                "host": info.get("host", "127.0.0.1"),
                "port": int(info.get("port", 5432)),
                "schema": info["dbname"],
                "login": info.get("user", "postgres"),
            }
        ),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_SOUNDCHARTS_DEFAULT",
        json.dumps(
            {
                "conn_type": "http",
                "host": sim.base_url,
                "login": sim.app_id,
                "password": sim.api_key,
                # Fast failure: short timeout, two quick retries inside the hook (3 attempts per call).
                "extra": {"timeout": 5, "max_retries": 2, "backoff_base": 0.01, "backoff_max": 0.05},
            }
        ),
    )
    return clean_product_db
