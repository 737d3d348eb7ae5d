"""The product database records whether it holds real or simulated data, and refuses the other kind."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
import pytest

from musiccharts.db.connection import connect
from musiccharts.db.data_source import (
    REAL,
    SIMULATOR,
    DataSource,
    DataSourceMismatch,
    ensure_same_source,
    recorded_source,
)

pytestmark = pytest.mark.integration

REAL_URL = "https://customer.api.soundcharts.com"
SIMULATOR_URL = "http://127.0.0.1:8765"


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        (REAL_URL, DataSource(REAL, "customer.api.soundcharts.com")),
        ("https://sandbox.api.soundcharts.com/", DataSource(REAL, "sandbox.api.soundcharts.com")),
        (SIMULATOR_URL, DataSource(SIMULATOR, "127.0.0.1")),
        ("http://soundcharts-simulator:8765", DataSource(SIMULATOR, "soundcharts-simulator")),
        # A look-alike domain is not the real API.
        ("https://api.notsoundcharts.com", DataSource(SIMULATOR, "api.notsoundcharts.com")),
    ],
)
def test_source_kind_follows_the_base_url_host(base_url, expected):
    assert DataSource.of_base_url(base_url) == expected


def test_first_sync_records_the_source_and_the_same_kind_is_accepted(clean_product_db):
    assert ensure_same_source(clean_product_db, SIMULATOR_URL) == DataSource(SIMULATOR, "127.0.0.1")
    # Another simulator (another port or host) is the same kind of data.
    assert ensure_same_source(clean_product_db, "http://localhost:9999").kind == SIMULATOR
    with connect(clean_product_db) as conn:
        assert recorded_source(conn) == DataSource(SIMULATOR, "127.0.0.1")


@pytest.mark.parametrize(("recorded", "incoming"), [(SIMULATOR_URL, REAL_URL), (REAL_URL, SIMULATOR_URL)])
def test_sync_from_the_other_kind_is_refused_naming_both(clean_product_db, recorded, incoming):
    ensure_same_source(clean_product_db, recorded)
    with pytest.raises(DataSourceMismatch) as raised:
        ensure_same_source(clean_product_db, incoming)
    message = str(raised.value)
    assert DataSource.of_base_url(recorded).host in message
    assert DataSource.of_base_url(incoming).host in message
    with connect(clean_product_db) as conn:  # the marker is unchanged
        assert recorded_source(conn) == DataSource.of_base_url(recorded)


def test_only_one_source_row_can_exist(clean_product_db):
    ensure_same_source(clean_product_db, REAL_URL)
    with pytest.raises(psycopg.errors.CheckViolation), connect(clean_product_db) as conn:
        conn.execute("INSERT INTO data_source (id, kind, host) VALUES (2, 'simulator', 'x')")


def test_first_migration_records_the_configured_source(postgres_server):
    dsn = postgres_server.recreate_database("mc_test_data_source_marker")
    try:
        result = subprocess.run(
            [sys.executable, "-m", "musiccharts.db.migrate", "upgrade", "--dsn", dsn],
            env={**os.environ, "SOUNDCHARTS_BASE_URL": REAL_URL},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr
        with connect(dsn) as conn:
            assert recorded_source(conn) == DataSource(REAL, "customer.api.soundcharts.com")
        with pytest.raises(DataSourceMismatch, match="simulator"):
            ensure_same_source(dsn, SIMULATOR_URL)
    finally:
        postgres_server.drop_database("mc_test_data_source_marker")


def test_a_task_resolving_the_product_database_fails_on_a_source_of_the_other_kind(
    clean_product_db, monkeypatch
):
    from airflow.sdk.exceptions import AirflowFailException

    from musiccharts_airflow.product_db import product_dsn

    params = psycopg.conninfo.conninfo_to_dict(clean_product_db)
    monkeypatch.setenv(
        "AIRFLOW_CONN_MUSICCHARTS_DB",
        f'{{"conn_type": "postgres", "host": "{params.get("host", "127.0.0.1")}", '
        f'"port": {params.get("port", 5432)}, "schema": "{params["dbname"]}", "login": "{params["user"]}"}}',
    )
    monkeypatch.setenv("AIRFLOW_CONN_SOUNDCHARTS_DEFAULT", f'{{"conn_type": "http", "host": "{REAL_URL}"}}')
    ensure_same_source(clean_product_db, SIMULATOR_URL)

    with pytest.raises(AirflowFailException, match=r"customer\.api\.soundcharts\.com.*127\.0\.0\.1"):
        product_dsn()

    monkeypatch.setenv(
        "AIRFLOW_CONN_SOUNDCHARTS_DEFAULT", f'{{"conn_type": "http", "host": "{SIMULATOR_URL}"}}'
    )
    assert psycopg.conninfo.conninfo_to_dict(product_dsn())["dbname"] == params["dbname"]
