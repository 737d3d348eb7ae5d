"""Daily verified backup of the product database, then backup retention."""

from __future__ import annotations

from datetime import datetime, timedelta

# Naming the decorator module makes TaskFlow free at parse time (see dags/charts/sync_chart_rankings.py).
import airflow.sdk.definitions.decorators  # noqa: F401
from airflow.sdk import DAG, CronTriggerTimetable, Param, task

from musiccharts_airflow.governance import PRODUCT_DB_POOL, Tag, default_task_args
from musiccharts_airflow.notifications import run_failure_notifier

DAG_ID = "backup_product_database"
CRON = "30 1 * * *"

DOC = f"""\
### Purpose
`pg_dump -Fc` of the product database from one exported snapshot, with row counts and natural-key checksums
of every table taken in the same snapshot; the dump is restored into a scratch database and compared table
by table before it counts (the scratch database is dropped), then stored (mode 0600) with a manifest at the
backup location (`include/config/maintenance.yaml` `backup.location`, default `$AIRFLOW_HOME/backups`, any
fsspec URL). Then the generations are applied (default 7 daily, 4 weekly, 6 monthly).

### Owner
{default_task_args()["owner"]}

### Schedule
`{CRON}` UTC daily, before the data cleanup at 02:00. `catchup=False` (a backup is of "now").
Trigger by hand for an extra backup; `make backup` does the same from a shell.

### Params
`dry_run_retention` (default false): report which backups retention would delete, delete nothing.

### Upstream / Downstream
Upstream: the product database (`musiccharts_db`). Downstream: the health check `backup.age`; restores
(`make restore TARGET_DB=...`, README "Restore").

### Troubleshooting
- *no pg_dump/pg_restore of PostgreSQL N*: run `make pg-client` (or set `MUSICCHARTS_PG_BIN_DIR`).
- *verification restore differs*: the named table differs between the snapshot and its restore; nothing
  was stored. Check disk space and the server log, then rerun.
- The scratch database (`<db>_verify_<time>_<pid>`) needs CREATEDB for the connection's role.
"""

with DAG(
    dag_id=DAG_ID,
    description="Verified daily backup of the product database and backup retention",
    schedule=CronTriggerTimetable(CRON, timezone="UTC"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=4),
    default_args=default_task_args(retries=2, retry_delay=timedelta(minutes=10)),
    on_failure_callback=run_failure_notifier,
    params={"dry_run_retention": Param(False, type="boolean", description="Report only, delete nothing")},
    tags=[Tag.DOMAIN_MAINTENANCE, Tag.TIER_1],
    doc_md=DOC,
) as dag:

    @task(task_id="create_verified_backup", pool=PRODUCT_DB_POOL, execution_timeout=timedelta(hours=3))
    def create_verified_backup() -> dict:
        from musiccharts_airflow.maintenance import run_backup

        return run_backup()

    @task(task_id="apply_backup_retention")
    def apply_backup_retention(params=None) -> dict:
        from musiccharts_airflow.maintenance import run_backup_retention

        return run_backup_retention(bool(params["dry_run_retention"]))

    create_verified_backup() >> apply_backup_retention()
