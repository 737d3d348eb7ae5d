"""Airflow side of maintenance: connections, the backup location, the notifier and the health state.

The domain code (``musiccharts.maintenance``) takes DSNs, paths and an alert function; this module builds
them from Airflow connections and configuration, so the DAG files stay wiring only.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: Airflow's own metadata database, for ``airflow db clean`` (hidden from tasks, see ``airflow_db_clean``).
METADATA_DB_CONN_ID = "airflow_metadata_db"
#: Incidents of checks that could not be stored because the product database was down.
HEALTH_FALLBACK_VARIABLE = "musiccharts_health_fallback_incidents"


def metadata_db_url(conn_id: str = METADATA_DB_CONN_ID) -> str:
    """SQLAlchemy URL of Airflow's metadata database from its connection (host may be a socket directory)."""
    from urllib.parse import quote

    from airflow.sdk import BaseHook

    connection = BaseHook.get_connection(conn_id)
    auth = quote(connection.login or "postgres") + (
        ":" + quote(connection.password) if connection.password else ""
    )
    host, port, name = connection.host or "127.0.0.1", connection.port or 5432, connection.schema or "airflow"
    if host.startswith("/"):
        return f"postgresql+psycopg2://{auth}@/{name}?host={host}&port={port}"
    return f"postgresql+psycopg2://{auth}@{host}:{port}/{name}"


def metadata_db_dsn(conn_id: str = METADATA_DB_CONN_ID) -> str:
    from musiccharts.db.connection import to_libpq_dsn

    return to_libpq_dsn(metadata_db_url(conn_id))


def backup_root() -> Any:
    from musiccharts.maintenance.backup import storage_root

    return storage_root()


def run_backup() -> dict[str, Any]:
    """Verified backup of the product database; returns the manifest (without the per-table figures)."""
    from musiccharts.maintenance.backup import create_backup
    from musiccharts.maintenance.config import load_maintenance_config
    from musiccharts_airflow.product_db import product_dsn

    config = load_maintenance_config().backup
    manifest = create_backup(product_dsn(), backup_root(), restore_jobs=config.restore_jobs)
    summary = asdict(manifest)
    summary["rows"] = sum(table["rows"] for table in summary.pop("tables").values())
    return summary


def run_backup_retention(dry_run: bool) -> dict[str, Any]:
    from musiccharts.maintenance.backup import apply_backup_retention
    from musiccharts.maintenance.config import load_maintenance_config

    report = apply_backup_retention(backup_root(), load_maintenance_config().backup.keep, dry_run=dry_run)
    log.info(
        "backups kept: %s; deleted: %s; orphans: %s", report.kept, report.deleted, report.orphans_deleted
    )
    return asdict(report)


def run_product_pruning(dry_run: bool) -> list[dict[str, Any]]:
    from musiccharts.maintenance.config import load_maintenance_config
    from musiccharts.maintenance.retention import prune
    from musiccharts_airflow.product_db import product_dsn

    config = load_maintenance_config().retention
    dsn = product_dsn()
    reports = []
    for rule in config.product:
        report = prune(dsn, rule, dry_run=dry_run, lock_timeout_seconds=config.lock_timeout_seconds)
        log.info("%s%s %s: %d", "[dry run] " if dry_run else "", rule.table, report.target, report.affected)
        reports.append(asdict(report))
    return reports


def run_airflow_db_clean(dry_run: bool) -> dict[str, Any]:
    from musiccharts.maintenance.config import load_maintenance_config
    from musiccharts.maintenance.retention import airflow_db_clean

    days = load_maintenance_config().retention.airflow_metadata_days
    report = airflow_db_clean(metadata_db_url(), days, dry_run=dry_run)
    log.info("airflow db clean%s: %s", " (dry run)" if dry_run else "", report.tables)
    return {"cutoff": report.cutoff, "dry_run": report.dry_run, "rows_per_table": report.tables}


def task_log_folder() -> Path:
    from airflow.configuration import conf

    return Path(conf.get("logging", "base_log_folder"))


def run_task_log_cleanup(dry_run: bool) -> dict[str, Any]:
    from musiccharts.maintenance.config import load_maintenance_config
    from musiccharts.maintenance.retention import clean_task_logs

    report = clean_task_logs(
        task_log_folder(), load_maintenance_config().retention.task_log_days, dry_run=dry_run
    )
    log.info("task logs%s: %d files, %d bytes", " (dry run)" if dry_run else "", report.files, report.bytes)
    return asdict(report)


# --- health ------------------------------------------------------------------------------------------


def _airflow_health() -> dict[str, Any] | Exception:
    import requests
    from airflow.configuration import conf

    base = conf.get("api", "base_url", fallback="http://localhost:8080").rstrip("/")
    try:
        response = requests.get(f"{base}/api/v2/monitor/health", timeout=10)
        response.raise_for_status()
        return response.json()
    except (requests.RequestException, ValueError) as error:
        return error


def _soundcharts_usage() -> dict[str, Any]:
    from musiccharts_airflow.hooks.soundcharts import SoundchartsHook

    return SoundchartsHook().get_conn().get_team_usage().model_dump()


def _backup_age() -> Any:
    from musiccharts.maintenance.backup import newest_verified_age

    try:
        return newest_verified_age(backup_root())
    except Exception as error:  # an unreachable object store is a finding, not a crash
        return error


def _redis_url() -> str | None:
    """The Celery broker under CeleryExecutor, else the rate limiter's Redis if one is configured."""
    from airflow.configuration import conf
    from airflow.sdk import Variable

    if "celery" in conf.get("core", "executor", fallback="").lower():
        return conf.get("celery", "broker_url", fallback=None) or None
    return Variable.get("musiccharts_rate_limit_redis_url", default="") or None


def run_health_checks() -> dict[str, Any]:
    """Every probe, stored as one time-series point each; incidents alerted through the notifier."""
    from airflow.sdk import Variable

    from musiccharts.maintenance.config import load_maintenance_config
    from musiccharts.maintenance.health import (
        probe_airflow_heartbeats,
        probe_backups,
        probe_host,
        probe_overdue_periods,
        probe_postgres,
        probe_redis,
        probe_soundcharts,
        record_results,
        results_summary,
    )
    from musiccharts_airflow.notifications import send_alert
    from musiccharts_airflow.product_db import product_dsn

    config = load_maintenance_config()
    thresholds = config.health.thresholds
    dsn = product_dsn()
    results = probe_postgres("product_db", dsn, thresholds)
    try:
        results += probe_postgres("metadata_db", metadata_db_dsn(), thresholds)
    except Exception as error:  # the connection itself is missing
        log.error("metadata database connection unavailable: %s", error)
    redis_url = _redis_url()
    if redis_url:
        results += probe_redis(redis_url)
    disk_paths = config.health.disk_paths or ("/", str(task_log_folder()))
    results += probe_host(thresholds, disk_paths)
    results += probe_airflow_heartbeats(_airflow_health(), thresholds)
    results += probe_soundcharts(_soundcharts_usage, thresholds)
    results += probe_overdue_periods(dsn, thresholds)
    results += probe_backups(_backup_age(), config.backup.stale_after_hours)

    state = json.loads(Variable.get(HEALTH_FALLBACK_VARIABLE, default="{}") or "{}")

    def alert(subject: str, body: str, severity: str, fields: Any) -> None:
        send_alert(subject, body, severity, fields=fields)

    transitions, new_state = record_results(dsn, results, alert, fallback_state=state)
    if new_state != state:
        Variable.set(HEALTH_FALLBACK_VARIABLE, json.dumps(new_state, sort_keys=True))
    summary = results_summary(results)
    summary["alerts"] = [f"{t.kind}: {t.check}" for t in transitions]
    return summary
