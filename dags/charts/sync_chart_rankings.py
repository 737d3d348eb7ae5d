"""One chart-sync DAG per chart of ``include/config/charts.yaml``: every chart period is a DAG run.

Why one DAG per chart (and not one DAG mapping over charts): each chart has its own frequency, start date
and catchup backlog, and users clear, rerun and backfill one chart's period without touching the others.
The factory below is the only place that knows the shape; adding a chart is one YAML line.
"""

from __future__ import annotations

from datetime import timedelta

# The dag-processor pre-imports the airflow.* modules named in a DAG file once, in its long-lived manager
# process; `airflow.sdk.task` alone is resolved lazily in every parse (~50 ms). Naming the decorator
# module makes TaskFlow free at parse time.
import airflow.sdk.definitions.decorators  # noqa: F401
from airflow.sdk import DAG, CronDataIntervalTimetable, Param, get_parsing_context, task

from musiccharts.config import ChartConfig, load_chart_configs
from musiccharts.periods import period_cron, start_of_day
from musiccharts_airflow.assets import CHART_RANKINGS_ASSET
from musiccharts_airflow.governance import (
    SOUNDCHARTS_POOL,
    Tag,
    default_task_args,
)

DOC_TEMPLATE = """\
### Purpose
Syncs the Soundcharts ranking of chart **{slug}** ({platform}, {country}, {frequency}) for one period per
run: the run's data interval `[data_interval_start, data_interval_end)` is the chart period. One task,
`sync_period`: a period already complete is **skipped** without any API call; otherwise all pages are
fetched, validated and loaded in one transaction (a period is fully written or not at all), a quality check
then verifies positions 1..N and the entry count, and the `chart_rankings` Asset is published.

### Owner
{owner}

### Schedule
`{cron}` (UTC), data-interval timetable, `catchup=True` from {history_start}: every missing period since
then becomes a run. {enabled_note}

### Params
- `force` (boolean, default false): refetch a period that is already complete. Without it, a rerun of a
  complete period makes **zero API calls**.
- `period` (date or empty): for manual runs, any day inside the chart period to sync. Empty = the run's
  data interval. A manual run with a logical date L syncs the last complete period before L (Airflow's
  data-interval rule); a run without a logical date needs `period`.

### Upstream / Downstream
Upstream: Soundcharts API (`soundcharts_default`, pool `{api_pool}`). Downstream: Asset `chart_rankings`
→ track/artist metadata and analytics DAGs.

### Troubleshooting
- *RankingNotPublishedYet*: the chart for this period is not out yet; the task retries with backoff.
- *SoundchartsAuthError / quota*: fails at once without retries; check the connection credentials/quota.
- *DataQualityError*: the stored ranking broke an invariant; the message lists each problem. Clear the run
  with `force` to refetch.
- Deep history: `airflow backfill create --dag-id {dag_id} --from-date ... --to-date ...` (see README).
"""


def build_chart_sync_dag(chart: ChartConfig) -> DAG:
    """Wire the sync DAG of one chart (no I/O here: this runs at every parse)."""
    cron = period_cron(chart.frequency)
    with DAG(
        dag_id=chart.dag_id,
        description=f"Sync {chart.platform} chart {chart.slug} ({chart.frequency.value}) from Soundcharts",
        schedule=CronDataIntervalTimetable(cron, timezone="UTC") if chart.enabled else None,
        start_date=start_of_day(chart.history_start),
        catchup=True,
        max_active_runs=2,
        default_args=default_task_args(retries=3, retry_delay=timedelta(minutes=1)),
        tags=[Tag.DOMAIN_CHARTS, Tag.SOURCE_SOUNDCHARTS, Tag.TIER_1],
        params={
            "force": Param(
                False, type="boolean", description="Refetch this period even if it is already complete."
            ),
            "period": Param(
                None,
                type=["null", "string"],
                format="date",
                description="Manual runs: any day (YYYY-MM-DD) of the chart period to sync. "
                "Empty = the run's data interval.",
            ),
        },
        doc_md=DOC_TEMPLATE.format(
            slug=chart.slug,
            platform=chart.platform,
            country=chart.country,
            frequency=chart.frequency.value,
            owner=default_task_args()["owner"],
            cron=cron,
            history_start=chart.history_start.isoformat(),
            enabled_note="" if chart.enabled else "**Disabled in charts.yaml: no runs are scheduled.**",
            api_pool=SOUNDCHARTS_POOL,
            dag_id=chart.dag_id,
        ),
    ) as dag:

        @task(task_id="sync_period", pool=SOUNDCHARTS_POOL, outlets=[CHART_RANKINGS_ASSET])
        def sync_period(data_interval_start=None, data_interval_end=None, params=None) -> dict:
            """Skip a complete period without any API call; else fetch, load and check it, in one task.

            One task per period run, not three: a chart period is short work, and each task costs Airflow
            a scheduling round, a Celery message and a process start, more than the period itself. The
            steps stay separate transactions and keep their meaning: a skipped task means "complete, no
            call" (and no Asset event, as before); the quality guard still checks the stored rows.
            """
            from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

            from musiccharts.charts.sync import (
                DataQualityError,
                assert_ranking_quality,
                fetch_and_load_period,
                period_needs_sync,
            )
            from musiccharts.periods import resolve_period
            from musiccharts_airflow.hooks.soundcharts import SoundchartsHook
            from musiccharts_airflow.product_db import product_dsn

            dsn = product_dsn()
            start, end = resolve_period(
                chart.frequency, data_interval_start, data_interval_end, params.get("period")
            )
            if not period_needs_sync(dsn, chart, start, end, force=params["force"]):
                raise AirflowSkipException("the period is already complete: no API call")
            loaded = fetch_and_load_period(SoundchartsHook(), dsn, chart, start, end)
            try:
                assert_ranking_quality(dsn, loaded.ranking_id)
            except DataQualityError as error:
                # A retry would find the period "complete" and skip the guard: fail for good instead.
                raise AirflowFailException(str(error)) from None
            return loaded.as_xcom()

        sync_period()
    return dag


# A task process parses this file to run one task of one DAG: build only that DAG there (the
# dag-processor, with no DAG in the parsing context, builds all of them).
_only_dag_id = get_parsing_context().dag_id
for _chart in load_chart_configs():
    if _only_dag_id in (None, _chart.dag_id):
        globals()[_chart.dag_id] = build_chart_sync_dag(_chart)
