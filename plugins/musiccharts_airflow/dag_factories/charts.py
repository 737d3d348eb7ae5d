"""The chart-sync DAG of one chart of ``include/config/charts.yaml``: every chart period is a DAG run.

Why one DAG per chart (and not one DAG mapping over charts): each chart has its own frequency, start date
and catchup backlog, and users clear, rerun and backfill one chart's period without touching the others.

Tasks: ``check_period_needs_sync`` (skip a complete period without any API call) >> ``wait_for_publication``
(a sensor in reschedule mode: it holds no worker slot between pokes, reads ``available-rankings`` with
backoff and hands on the period's ranking datetime) >> ``fetch_and_load_ranking`` (exactly that datetime,
validated, one transaction) >> ``check_ranking_quality`` (guard on the stored rows; publishes the Asset).
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
from musiccharts_airflow.governance import (
    PRODUCT_DB_POOL,
    SOUNDCHARTS_POOL,
    Tag,
    default_task_args,
)

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
Rankings are published hours (weekly/monthly: days) after their period: `wait_for_publication` waits in
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

        @task.short_circuit(task_id="check_period_needs_sync", pool=PRODUCT_DB_POOL)
        def check_period_needs_sync(data_interval_start=None, data_interval_end=None, params=None) -> bool:
            """Skip the API entirely when the period is already complete (unless ``force``)."""
            from musiccharts.charts.sync import period_needs_sync
            from musiccharts.periods import resolve_period
            from musiccharts_airflow.product_db import product_dsn

            start, end = resolve_period(
                chart.frequency, data_interval_start, data_interval_end, params.get("period")
            )
            return period_needs_sync(product_dsn(), chart, start, end, force=params["force"])

        @task.sensor(
            task_id="wait_for_publication",
            pool=SOUNDCHARTS_POOL,
            mode="reschedule",
            poke_interval=_poke_interval(),
            exponential_backoff=True,
            max_wait=MAX_POKE_INTERVAL,
            # A safety net only: the deadline itself is checked in every poke, from the period's end.
            timeout=(chart.deadline + MAX_POKE_INTERVAL).total_seconds(),
        )
        def wait_for_publication(data_interval_start=None, data_interval_end=None, params=None):
            """Done once ``available-rankings`` lists a ranking inside the period; returns its datetime."""
            from datetime import UTC, datetime

            from airflow.sdk import PokeReturnValue

            from musiccharts.charts.sync import published_ranking_date
            from musiccharts.periods import resolve_period
            from musiccharts_airflow.hooks.soundcharts import SoundchartsHook
            from musiccharts_airflow.product_db import product_dsn

            start, end = resolve_period(
                chart.frequency, data_interval_start, data_interval_end, params.get("period")
            )
            with _fail_without_retry():
                ranking_date = published_ranking_date(
                    SoundchartsHook(), product_dsn(), chart, start, end, now=datetime.now(UTC)
                )
            return PokeReturnValue(
                is_done=ranking_date is not None,
                xcom_value=ranking_date.isoformat() if ranking_date else None,
            )

        @task(task_id="fetch_and_load_ranking", pool=SOUNDCHARTS_POOL)
        def fetch_and_load_ranking(
            ranking_date: str, data_interval_start=None, data_interval_end=None, params=None
        ) -> dict:
            """All pages of the period's ranking → validation → one transaction. Returns a small summary."""
            from datetime import datetime

            from musiccharts.charts.sync import fetch_and_load_period
            from musiccharts.periods import resolve_period
            from musiccharts_airflow.hooks.soundcharts import SoundchartsHook
            from musiccharts_airflow.product_db import product_dsn

            start, end = resolve_period(
                chart.frequency, data_interval_start, data_interval_end, params.get("period")
            )
            with _fail_without_retry():
                return fetch_and_load_period(
                    SoundchartsHook(), product_dsn(), chart, start, end, datetime.fromisoformat(ranking_date)
                ).as_xcom()

        @task(task_id="check_ranking_quality", pool=PRODUCT_DB_POOL, outlets=[CHART_RANKINGS_ASSET])
        def check_ranking_quality(loaded: dict) -> None:
            """Positions 1..N unique and contiguous, entry count as announced; else fail with the list."""
            from musiccharts.charts.sync import assert_ranking_quality
            from musiccharts_airflow.product_db import product_dsn

            with _fail_without_retry():
                assert_ranking_quality(product_dsn(), loaded["ranking_id"])

        published = wait_for_publication()
        loaded = fetch_and_load_ranking(published)
        check_period_needs_sync() >> published
        check_ranking_quality(loaded)
    return dag
