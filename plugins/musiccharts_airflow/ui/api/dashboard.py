"""Dashboard card: today's sync status, open alerts and the latest backup's verification, in one request.

- ``sync``: each readable chart's latest period that has ended (the one today's runs sync): stored,
  incomplete, waiting, failed or missing, counted, with the periods that are not stored listed.
- ``alerts``: open health incidents (``check_system_health``), fraud flags computed in the last
  ``ALERT_DAYS`` days (per readable source), and failed song analyses (``analyze_songs``).
- ``backup``: the newest backup's manifest (verified by a restore when it was made), the last run of
  ``backup_product_database`` and the latest ``backup.age`` health check.

Each part is ``null`` when the user may not read the DAG that writes it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from airflow.api_fastapi.common.db.common import SessionDep
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from musiccharts_airflow.ui.access import ANALYSIS_DAG, BACKUP_DAG, HEALTH_DAG, ViewerDep
from musiccharts_airflow.ui.airflow_runs import latest_run
from musiccharts_airflow.ui.api.coverage import build_coverage
from musiccharts_airflow.ui.api.fraud import readable_sources
from musiccharts_airflow.ui.chart_catalog import configured_charts
from musiccharts_airflow.ui.readonly_db import ProductDbDep

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/dashboard", tags=["dashboard"])

ALERT_DAYS = 7
#: Long enough to hold the latest complete period of a monthly chart.
SYNC_LOOKBACK_DAYS = 62
PROBLEMS_SHOWN = 10


class SyncProblem(BaseModel):
    slug: str
    dag_id: str
    start: str
    status: str
    run_id: str | None


class SyncStatus(BaseModel):
    charts: int
    counts: dict[str, int] = Field(description="Charts whose latest period is stored, missing, ...")
    problems: list[SyncProblem] = Field(description=f"Up to {PROBLEMS_SHOWN} latest periods not stored.")
    hidden_charts: int


class Incident(BaseModel):
    check_name: str
    status: str
    opened_at: datetime
    detail: str


class FraudAlerts(BaseModel):
    flags: int
    max_score: float | None
    sources: list[str]
    days: int = Field(description="The window the flags were counted over (the alert_days parameter).")


class Alerts(BaseModel):
    health_incidents: list[Incident] | None
    fraud: FraudAlerts | None
    failed_analyses: int | None


class Backup(BaseModel):
    latest: dict[str, Any] | None = Field(
        description="Newest manifest: name, created_at, verified, size_bytes, tables, rows."
    )
    location_error: str | None = None
    last_run: dict[str, Any] | None
    age_check: dict[str, Any] | None


class DashboardResponse(BaseModel):
    generated_at: datetime
    sync: SyncStatus
    alerts: Alerts
    backup: Backup | None


def _sync(db, session, viewer) -> dict:
    charts = list(configured_charts())
    readable = viewer.readable_dag_ids(chart.dag_id for chart in charts)
    visible = [chart for chart in charts if chart.dag_id in readable]
    today = datetime.now(UTC).date()
    coverage = build_coverage(
        db, session, visible, today - timedelta(days=SYNC_LOOKBACK_DAYS), today, detailed=False
    )
    counts = {"stored": 0, "incomplete": 0, "waiting": 0, "failed": 0, "missing": 0}
    problems = []
    names = {"s": "stored", "i": "incomplete", "w": "waiting", "f": "failed", "m": "missing"}
    for chart in coverage:
        if not chart["statuses"]:
            continue
        latest = names[chart["statuses"][-1]]
        counts[latest] += 1
        if latest != "stored" and chart["periods"]:
            cell = chart["periods"][-1]
            problems.append(
                {
                    "slug": chart["slug"],
                    "dag_id": chart["dag_id"],
                    "start": cell["start"],
                    "status": latest,
                    "run_id": cell["run_id"],
                }
            )
    return {
        "charts": len(visible),
        "counts": counts,
        "problems": problems[:PROBLEMS_SHOWN],
        "hidden_charts": len(charts) - len(visible),
    }


def _newest_backup() -> tuple[dict | None, str | None]:
    from musiccharts.maintenance.backup import list_backups
    from musiccharts_airflow.maintenance import backup_root

    try:
        backups = list_backups(backup_root())
    except Exception as error:  # storage not reachable or not configured: the card says so
        log.warning("backup location not readable: %s", error)
        return None, f"backup location not readable: {type(error).__name__}"
    if not backups:
        return None, None
    newest = backups[-1]
    return {
        "name": newest.name,
        "created_at": newest.created_at,
        "verified": newest.verified,
        "size_bytes": newest.size_bytes,
        "tables": len(newest.tables),
        "rows": sum(int(table.get("rows", 0)) for table in newest.tables.values()),
        "verify_seconds": newest.verify_seconds,
    }, None


@router.get("", response_model=DashboardResponse, summary="Today's sync, open alerts, latest backup")
def dashboard(
    viewer: ViewerDep,
    db: ProductDbDep,
    session: SessionDep,
    alert_days: Annotated[
        int, Query(ge=1, le=90, description="Fraud flags of the last N days.")
    ] = ALERT_DAYS,
) -> dict:
    readable = viewer.readable_dag_ids([HEALTH_DAG, ANALYSIS_DAG, BACKUP_DAG])
    sources, _ = readable_sources(viewer, None)
    alerts: dict[str, Any] = {"health_incidents": None, "fraud": None, "failed_analyses": None}
    backup: dict[str, Any] | None = None
    with db.cursor() as cur:
        if HEALTH_DAG in readable:
            cur.execute(
                "SELECT check_name, status, opened_at, detail FROM health_incidents"
                " WHERE closed_at IS NULL ORDER BY opened_at DESC"
            )
            alerts["health_incidents"] = cur.fetchall()
        if sources:
            cur.execute(
                "SELECT count(*) AS flags, max(score) AS max_score FROM fraud_flag_view"
                " WHERE source = ANY(%s) AND computed_at >= now() - make_interval(days => %s)",
                (sources, alert_days),
            )
            row = cur.fetchone() or {"flags": 0, "max_score": None}  # an aggregate: always one row
            alerts["fraud"] = {
                "flags": row["flags"],
                "max_score": None if row["max_score"] is None else float(row["max_score"]),
                "sources": sources,
                "days": alert_days,
            }
        if ANALYSIS_DAG in readable:
            cur.execute("SELECT count(*) AS failed FROM songs WHERE status = 'failed'")
            alerts["failed_analyses"] = (cur.fetchone() or {"failed": 0})["failed"]
        if BACKUP_DAG in readable:
            cur.execute(
                "SELECT checked_at, status, value, threshold, unit, detail FROM health_check_results"
                " WHERE check_name = 'backup.age' ORDER BY checked_at DESC LIMIT 1"
            )
            backup = {"age_check": cur.fetchone()}
    if backup is not None:
        latest, error = _newest_backup()
        run = latest_run(session, BACKUP_DAG)
        backup.update(
            latest=latest,
            location_error=error,
            last_run=None
            if run is None
            else {"dag_id": run.dag_id, "run_id": run.run_id, "state": run.state, "end_date": run.end_date},
        )
    return {
        "generated_at": datetime.now(UTC),
        "sync": _sync(db, session, viewer),
        "alerts": alerts,
        "backup": backup,
    }
