"""The chart-sync DAG of one chart of ``include/config/charts.yaml``: every chart period is a DAG run.

Why one DAG per chart (and not one DAG mapping over charts): each chart has its own frequency, start date
and catchup backlog, and users clear, rerun and backfill one chart's period without touching the others.

One task per run, ``sync_period``, a sensor in reschedule mode: it skips a complete period without any API
call; otherwise it reads the period's ranking datetime from ``available-rankings`` (waiting between pokes
without holding a worker slot until it is published), fetches exactly that ranking, validates and loads it
in one transaction, runs the quality guard on the stored rows and publishes the Asset.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

# The dag-processor pre-imports the airflow.* modules named in a DAG file once, in its long-lived manager
# process; `airflow.sdk.task` alone is resolved lazily in every parse (~50 ms). Naming the decorator
# module makes TaskFlow free at parse time.
import airflow.sdk.definitions.decorators  # noqa: F401
from airflow.sdk import DAG, CronDataIntervalTimetable, Param, task

from musiccharts.config import ChartConfig
from musiccharts.periods import period_cron, start_of_day
from musiccharts_airflow.assets import CHART_RANKINGS_ASSET
from musiccharts_airflow.governance import SOUNDCHARTS_POOL, Tag, default_task_args
from musiccharts_airflow.notifications import run_failure_notifier

#: First wait between two looks at ``available-rankings`` (doubles up to ``MAX_POKE_INTERVAL``);
#: ``MUSICCHARTS_PUBLICATION_POKE_SECONDS`` overrides it (the tests shorten it to seconds).
POKE_INTERVAL = timedelta(minutes=10)
MAX_POKE_INTERVAL = timedelta(hours=1)
POKE_INTERVAL_ENV = "MUSICCHARTS_PUBLICATION_POKE_SECONDS"

DOC_TEMPLATE = """\
### Purpose
Syncs the Soundcharts ranking of chart **{slug}** ({platform}, {country}, {frequency}) for one period per
run: the run's data interval `[data_interval_start, data_interval_end)` is the chart period. The period's
ranking datetime comes from the API's `available-rankings` list (kept in the product database and read
incrementally); the run then asks for exactly that ranking, validates all its pages and loads them in one
transaction (a period is fully written or not at all); a quality check verifies the stored rows and the
`chart_rankings` Asset is published.

### Owner
{owner}

### Schedule
`{cron}` (UTC), data-interval timetable, `catchup=True` from {history_start}: every missing period since
then becomes a run. {enabled_note}
Rankings are published hours (weekly/monthly: days) after their period: `sync_period` waits in
`up_for_reschedule` (no worker slot held) until the ranking appears, at most until {deadline} after the
period ends (`publication_deadline` in `charts.yaml`).

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
- *PublicationDeadlineMissed*: the ranking did not appear by the deadline; the message names the newest
  published ranking. Clear the run once it is out, or raise `publication_deadline`.
- *RankingNeverPublished*: the chart published newer rankings but none for this period (a skipped period).
- *InvalidRanking*: the payload was refused before any write (gap, repeated song, empty, too many entries,
  a documented field missing); the stored data is untouched. Fails at once: a retry gets the same payload.
- *SoundchartsAuthError / quota*: fails at once without retries; check the connection credentials/quota.
- *DataQualityError*: the stored ranking broke an invariant; the message lists each problem.
- Deep history: `airflow backfill create --dag-id {dag_id} --from-date ... --to-date ...` (see README).
"""


def _poke_interval() -> timedelta:
    override = os.environ.get(POKE_INTERVAL_ENV)
    return timedelta(seconds=float(override)) if override else POKE_INTERVAL


@contextmanager
def _fail_without_retry() -> Iterator[None]:
    """Errors a retry cannot fix (bad payload, mismatch, missed deadline) fail the task at once."""
    from airflow.sdk.exceptions import AirflowFailException

    from musiccharts.charts.sync import PERMANENT_ERRORS
    from musiccharts.soundcharts.errors import SoundchartsPayloadInvalid

    try:
        yield
    except (*PERMANENT_ERRORS, SoundchartsPayloadInvalid) as error:
        raise AirflowFailException(f"{type(error).__name__}: {error}") from error


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
        on_failure_callback=run_failure_notifier,
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
            deadline=chart.deadline,
            api_pool=SOUNDCHARTS_POOL,
            dag_id=chart.dag_id,
        ),
    ) as dag:

        @task.sensor(
            task_id="sync_period",
            pool=SOUNDCHARTS_POOL,
            outlets=[CHART_RANKINGS_ASSET],
            mode="reschedule",
            poke_interval=_poke_interval(),
            exponential_backoff=True,
            max_wait=MAX_POKE_INTERVAL,
            # A safety net only: the deadline itself is checked in every poke, from the period's end.
            timeout=(chart.deadline + MAX_POKE_INTERVAL).total_seconds(),
        )
        def sync_period(data_interval_start=None, data_interval_end=None, params=None):
            """The whole period in one task: skip if complete, wait for publication, fetch, load, check.

            One task per period run, not four: a period is short work, and every task costs Airflow a
            scheduling round, a Celery message and a process start, more than the period itself. Each step
            keeps its meaning: *skipped* = complete, no API call (and no Asset event); not published yet =
            ``up_for_reschedule`` (no worker or pool slot held); the quality guard checks the stored rows.
            """
            from datetime import UTC, datetime

            from airflow.sdk import PokeReturnValue
            from airflow.sdk.exceptions import AirflowSkipException

            from musiccharts.charts.sync import (
                assert_ranking_quality,
                fetch_and_load_period,
                period_needs_sync,
                published_ranking_date,
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
            api = SoundchartsHook()
            with _fail_without_retry():
                ranking_date = published_ranking_date(api, dsn, chart, start, end, now=datetime.now(UTC))
                if ranking_date is None:
                    return PokeReturnValue(is_done=False)
                loaded = fetch_and_load_period(api, dsn, chart, start, end, ranking_date)
                # A retry would find the period complete and skip this guard: it fails for good instead.
                assert_ranking_quality(dsn, loaded.ranking_id)
            return PokeReturnValue(is_done=True, xcom_value=loaded.as_xcom())

        sync_period()
    return dag
