"""The maintenance DAGs run with ``dag.test()`` on the real databases, alerting to the local SMTP sink."""

from __future__ import annotations

import json
import os

import psycopg
import pytest
import yaml

from tests.paths import DAGS_DIR, REPO_ROOT

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def maintenance_dags():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_DIR / "maintenance"))
    assert bag.import_errors == {}
    return bag.dags


@pytest.fixture
def maintenance_env(airflow_connections, smtp_sink, redis_url, tmp_path, monkeypatch):
    from sqlalchemy.engine import make_url

    metadata = make_url(os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    monkeypatch.setenv(
        "AIRFLOW_CONN_AIRFLOW_METADATA_DB",
        json.dumps(
            {
                "conn_type": "postgres",
                "host": metadata.host or metadata.query.get("host"),
                "port": metadata.port or 5432,
                "schema": metadata.database,
                "login": metadata.username,
            }
        ),
    )
    # LocalExecutor in the tests: the health check watches the rate limiter's Redis.
    monkeypatch.setenv("AIRFLOW_VAR_MUSICCHARTS_RATE_LIMIT_REDIS_URL", redis_url)
    monkeypatch.setenv("MUSICCHARTS_BACKUP_LOCATION", str(tmp_path / "backups"))
    monkeypatch.setenv("AIRFLOW__LOGGING__BASE_LOG_FOLDER", str(tmp_path / "logs"))
    # The host's CPU load is the one finding that can change between two runs on a busy test machine (a
    # breach, then a recovery mail); put its threshold out of reach so both runs see the same incidents.
    config = yaml.safe_load((REPO_ROOT / "include" / "config" / "maintenance.yaml").read_text())
    config["health"]["thresholds"]["cpu_percent"] = 100
    maintenance_file = tmp_path / "maintenance.yaml"
    maintenance_file.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("MUSICCHARTS_MAINTENANCE_FILE", str(maintenance_file))
    return airflow_connections


def test_health_dag_stores_results_and_alerts_once_per_incident(maintenance_dags, maintenance_env, smtp_sink):
    dag = maintenance_dags["check_system_health"]
    assert dag.test().state == "success"
    with psycopg.connect(maintenance_env) as conn:
        checks = dict(conn.execute("SELECT check_name, status FROM health_check_results").fetchall())
        incidents = {
            row[0] for row in conn.execute("SELECT check_name FROM health_incidents WHERE closed_at IS NULL")
        }
    assert checks["product_db.connect"] == "ok"
    assert checks["metadata_db.connect"] == "ok"
    assert checks["redis.ping"] == "ok"
    assert checks["soundcharts.quota"] == "ok"
    assert checks["backup.age"] == "breach"  # no backup yet
    assert checks["airflow.api"] == "error"  # no api-server in this test
    first = [message["Subject"] for message in smtp_sink.messages()]
    assert len(first) == len(incidents) >= 2
    assert "[MusicCharts][CRITICAL] health check backup.age: threshold breached" in first

    assert dag.test().state == "success"  # same findings 15 minutes later: no new alert
    assert len(smtp_sink.messages()) == len(first)


def test_backup_then_prune_dry_run(maintenance_dags, maintenance_env, smtp_sink, tmp_path):
    backup = maintenance_dags["backup_product_database"].test()
    assert backup.state == "success"
    manifests = list((tmp_path / "backups").glob("*.manifest.json"))
    assert len(manifests) == 1

    with psycopg.connect(maintenance_env) as conn:
        before = conn.execute("SELECT count(*) FROM health_check_results").fetchone()
    prune = maintenance_dags["prune_old_data"].test(run_conf={"dry_run": True})
    assert prune.state == "success"
    with psycopg.connect(maintenance_env) as conn:
        assert conn.execute("SELECT count(*) FROM health_check_results").fetchone() == before
    assert smtp_sink.messages() == []
