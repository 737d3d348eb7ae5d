"""Health checks every 15 minutes: stored as a time series, alerted once per incident and on recovery."""

from __future__ import annotations

from datetime import datetime, timedelta

import airflow.sdk.definitions.decorators  # noqa: F401
from airflow.sdk import DAG, CronTriggerTimetable, task

from musiccharts_airflow.governance import Tag, default_task_args
from musiccharts_airflow.notifications import run_failure_notifier

DAG_ID = "check_system_health"
CRON = "*/15 * * * *"

DOC = f"""\
### Purpose
Probes, each stored as one point of `health_check_results` (product database): product and metadata
databases (connect + query latency, size, replication lag on a standby, most bloated table), the Redis
broker, disk/CPU/memory of the host running the check (psutil), scheduler and triggerer heartbeats
(`/api/v2/monitor/health`), Soundcharts reachability and remaining quota (free `team/usage`), overdue chart
periods, and the newest verified backup's age. A breach opens an incident (`health_incidents`) and alerts
once through the project notifier; the first healthy result closes it and sends a recovery notice.
Thresholds: `include/config/maintenance.yaml` `health:`.

### Owner
{default_task_args()["owner"]}

### Schedule
`{CRON}` UTC. `catchup=False`, `max_active_runs=1`: only the present state matters.

### Params
None.

### Upstream / Downstream
Reads everything above; writes the two health tables; alerts via `smtp_default` / `alerts_webhook`.

### Troubleshooting
- The task fails only when the checks themselves cannot run or no alert channel delivered; a down target
  is a result (`error`), not a task failure.
- When the product database is down its incident is kept in the Variable
  `musiccharts_health_fallback_incidents` until it is back.
"""

with DAG(
    dag_id=DAG_ID,
    description="Health checks every 15 minutes, alerting once per incident",
    schedule=CronTriggerTimetable(CRON, timezone="UTC"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=12),
    default_args=default_task_args(retries=1, retry_delay=timedelta(minutes=1)),
    on_failure_callback=run_failure_notifier,
    tags=[Tag.DOMAIN_MAINTENANCE, Tag.TIER_1],
    doc_md=DOC,
) as dag:

    @task(task_id="run_health_checks", execution_timeout=timedelta(minutes=10))
    def run_health_checks() -> dict:
        from musiccharts_airflow.maintenance import run_health_checks as run

        return run()

    run_health_checks()
