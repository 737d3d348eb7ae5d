"""Daily retention: product audit data, Airflow metadata (db clean) and task log files older than N days."""

from __future__ import annotations

from datetime import datetime, timedelta

import airflow.sdk.definitions.decorators  # noqa: F401
from airflow.sdk import DAG, CronTriggerTimetable, Param, task

from musiccharts_airflow.governance import PRODUCT_DB_POOL, Tag, default_task_args
from musiccharts_airflow.notifications import run_failure_notifier

DAG_ID = "prune_old_data"
CRON = "0 2 * * *"

DOC = f"""\
### Purpose
Removes what is past its age, per `include/config/maintenance.yaml` `retention:`:
- **product audit data**: raw API payloads (and any table listed) older than N days (default 90), in
  bounded batches (each a short transaction with a lock timeout, `SKIP LOCKED`), so loads keep running;
  business rows (rankings, entries, tracks, artists, analysis results) stay unless a rule says otherwise;
- **Airflow metadata**: `airflow db clean` older than `airflow_metadata_days` (no archive tables kept, and
  any left over are dropped);
- **task logs**: files under `[logging] base_log_folder` older than `task_log_days`.
Each task returns (XCom) and logs what it removed.

### Owner
{default_task_args()["owner"]}

### Schedule
`{CRON}` UTC daily, after the backup at 01:30. `catchup=False`.

### Params
`dry_run` (default false): every task reports what it would remove and removes nothing.

### Upstream / Downstream
Upstream: product database (`musiccharts_db`), Airflow's metadata database (`airflow_metadata_db`).

### Troubleshooting
- *retention rule: table X has no column Y*: fix the rule in maintenance.yaml (nothing was pruned).
- A batch that waits longer than `lock_timeout_seconds` fails the task; the next run continues.
- *airflow db clean failed*: the output tail is in the message; check `airflow_metadata_db`.
"""

with DAG(
    dag_id=DAG_ID,
    description="Retention of product audit data, Airflow metadata and task logs",
    schedule=CronTriggerTimetable(CRON, timezone="UTC"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=3),
    default_args=default_task_args(retries=2, retry_delay=timedelta(minutes=5)),
    on_failure_callback=run_failure_notifier,
    params={
        "dry_run": Param(False, type="boolean", description="Report what would be removed, remove nothing")
    },
    tags=[Tag.DOMAIN_MAINTENANCE, Tag.TIER_2],
    doc_md=DOC,
) as dag:

    @task(task_id="prune_product_audit_data", pool=PRODUCT_DB_POOL)
    def prune_product_audit_data(params=None) -> list:
        from musiccharts_airflow.maintenance import run_product_pruning

        return run_product_pruning(bool(params["dry_run"]))

    @task(task_id="clean_airflow_metadata")
    def clean_airflow_metadata(params=None) -> dict:
        from musiccharts_airflow.maintenance import run_airflow_db_clean

        return run_airflow_db_clean(bool(params["dry_run"]))

    @task(task_id="clean_task_logs")
    def clean_task_logs(params=None) -> dict:
        from musiccharts_airflow.maintenance import run_task_log_cleanup

        return run_task_log_cleanup(bool(params["dry_run"]))

    prune_product_audit_data()
    clean_airflow_metadata()
    clean_task_logs()
