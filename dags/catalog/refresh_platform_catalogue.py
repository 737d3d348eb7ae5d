"""Weekly refresh of the Soundcharts platforms and chart lists (per platform and configured country)."""

from __future__ import annotations

from datetime import datetime, timedelta

# Naming the decorator module makes TaskFlow free at parse time (see dags/charts/sync_chart_rankings.py).
import airflow.sdk.definitions.decorators  # noqa: F401
from airflow.sdk import DAG, CronTriggerTimetable, task

from musiccharts_airflow.governance import SOUNDCHARTS_POOL, Tag, default_task_args
from musiccharts_airflow.notifications import run_failure_notifier

DAG_ID = "refresh_platform_catalogue"
CRON = "0 4 * * 1"

DOC = f"""\
### Purpose
Refreshes the catalogue of platforms (`GET /api/v2/chart/song/platforms`) and of song charts per platform
and configured country (`GET /api/v2/chart/song/by-platform/{{platform}}?countryCode=`, all pages), upserted
in one transaction (a rerun with the same answers changes no row). A chart seen for the first time is
recorded as **available** (`sync_enabled = false`): it is synced only once it is enabled in `charts.yaml`
(one YAML line creates its sync DAG). `sync_enabled` mirrors `charts.yaml` on every refresh. The task
returns the new chart slugs so they are visible in the run's XCom and log.

### Owner
{default_task_args()["owner"]}

### Schedule
`{CRON}` UTC, weekly (CronTriggerTimetable). `catchup=False`: the catalogue is a snapshot of "now", so
missed weeks have nothing to replay. `max_active_runs=1`.

### Params
None. Countries and platforms are set in `include/config/catalog.yaml` (`catalogue:` section).

### Upstream / Downstream
Upstream: Soundcharts (`soundcharts_default`, pool `{SOUNDCHARTS_POOL}`). Downstream: chart-sync DAGs
(charts enabled in `charts.yaml`), the chart list of the UI.

### Troubleshooting
- *SoundchartsAuthError* / quota: fails without retries; check the connection.
- A schema drift names the endpoint and field; nothing is written for that run.
"""

with DAG(
    dag_id=DAG_ID,
    description="Weekly refresh of Soundcharts platforms and chart lists",
    schedule=CronTriggerTimetable(CRON, timezone="UTC"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_task_args(retries=3, retry_delay=timedelta(minutes=5)),
    on_failure_callback=run_failure_notifier,
    tags=[Tag.DOMAIN_CATALOG, Tag.SOURCE_SOUNDCHARTS, Tag.TIER_2],
    doc_md=DOC,
) as dag:

    @task(task_id="refresh_catalogue", pool=SOUNDCHARTS_POOL)
    def refresh_catalogue() -> dict:
        """Platforms + chart lists → one transaction. Returns counts and the newly seen chart slugs."""
        from musiccharts.catalog.config import load_catalog_config
        from musiccharts.catalog.sync import refresh_catalogue as refresh
        from musiccharts.config import load_chart_configs
        from musiccharts_airflow.hooks.soundcharts import SoundchartsHook
        from musiccharts_airflow.product_db import product_dsn

        config = load_catalog_config().catalogue
        return refresh(
            SoundchartsHook(),
            product_dsn(),
            countries=config.countries,
            platforms=config.platforms,
            enabled_slugs=[chart.slug for chart in load_chart_configs() if chart.enabled],
        )

    refresh_catalogue()
