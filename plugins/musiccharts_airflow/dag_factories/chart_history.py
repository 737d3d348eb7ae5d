"""The chart-history import DAG: plan the missing periods of a range → mapped chunks → per-chart summary.

The per-period DAGs stay the unit users see, clear and rerun; this DAG only fills their periods faster (at
the API's rate rather than one Airflow run per period), storing each period exactly as a period run would,
so their catchup then finds every imported period complete and makes no API call.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from airflow.sdk import DAG, Param, TriggerRule, XComArg, task

from musiccharts_airflow.assets import CHART_RANKINGS_ASSET
from musiccharts_airflow.governance import SOUNDCHARTS_POOL, Tag, default_task_args
from musiccharts_airflow.notifications import run_failure_notifier

IMPORT_DAG_ID = "import_chart_history"
#: Chunks of one run at once. One chunk already fetches several rankings at a time (enough for the shared
#: rate limit); a few more overlap their task start-ups and loads, and the pool keeps slots for the
#: per-period runs.
MAX_PARALLEL_CHUNKS = 4

DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
#: ``musiccharts.charts.history.DEFAULT_CHUNK_SIZE``, repeated so that parsing this DAG imports no task code
#: (a unit test keeps the two equal).
DEFAULT_CHUNK_SIZE = 200


def import_params() -> dict[str, Param]:
    return {
        "charts": Param(
            [],
            type="array",
            items={"type": "string", "pattern": r"^[a-z0-9][a-z0-9-]*$"},
            uniqueItems=True,
            description="Chart slugs of include/config/charts.yaml (empty = every enabled chart).",
        ),
        "from": Param(
            None,
            type=["null", "string"],
            format="date",
            pattern=DATE_PATTERN,
            description="First day (YYYY-MM-DD) whose period is imported. Empty (with 'to' empty): each "
            "chart's history_start.",
        ),
        "to": Param(
            None,
            type=["null", "string"],
            format="date",
            pattern=DATE_PATTERN,
            description="Last day (YYYY-MM-DD, included) whose period is imported; only ended periods are. "
            "Empty (with 'from' empty): up to each chart's oldest stored period.",
        ),
        "chunk_size": Param(
            DEFAULT_CHUNK_SIZE,
            type="integer",
            minimum=1,
            maximum=5000,
            description="Most periods per mapped chunk (one task; chunks are balanced and may span charts). "
            "Bigger chunks pay Airflow's task start-up less often; smaller ones redo less on a retry.",
        ),
    }


def build_import_dag(doc_md: str) -> DAG:
    """``import_chart_history``: ``plan_import``, mapped ``import_chunk``, ``summarise`` and ``publish``."""
    with DAG(
        dag_id=IMPORT_DAG_ID,
        description="Import deep chart history at the API's rate: missing periods in mapped chunks",
        schedule=None,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        # Two imports would plan the same holes and fetch them twice.
        max_active_runs=1,
        default_args=default_task_args(retries=3, retry_delay=timedelta(minutes=1)),
        on_failure_callback=run_failure_notifier,
        tags=[Tag.DOMAIN_CHARTS, Tag.SOURCE_SOUNDCHARTS, Tag.TIER_2],
        params=import_params(),
        doc_md=doc_md,
    ) as dag:

        @task(task_id="plan_import", pool=SOUNDCHARTS_POOL)
        def plan_import(params=None, ti=None) -> list[dict]:
            """Missing periods per chart with their published ranking datetimes, cut into chunks.

            Returns the chunks (what ``import_chunk`` maps over); the per-chart counts go to the XCom key
            ``charts`` for the summary.
            """
            from datetime import UTC, date

            from airflow.sdk.configuration import conf
            from airflow.sdk.exceptions import AirflowFailException

            from musiccharts.charts import history
            from musiccharts.config import load_chart_configs
            from musiccharts_airflow.hooks.soundcharts import SoundchartsHook
            from musiccharts_airflow.product_db import product_dsn

            now = datetime.now(UTC)
            charts = load_chart_configs()
            dsn = product_dsn()
            slugs = params["charts"] or [chart.slug for chart in charts if chart.enabled]
            try:
                ranges = history.choose_ranges(
                    charts,
                    slugs=params["charts"],
                    first_day=date.fromisoformat(params["from"]) if params["from"] else None,
                    last_day=date.fromisoformat(params["to"]) if params["to"] else None,
                    oldest_stored=history.oldest_stored_days(dsn, slugs),
                    today=now.date(),
                )
            except history.ImportRequestError as error:
                raise AirflowFailException(str(error)) from None  # a bad request does not get better
            plan = history.plan_import(
                SoundchartsHook(),
                dsn,
                ranges,
                now=now,
                chunk_size=params["chunk_size"],
                max_chunks=conf.getint("core", "max_map_length"),
            )
            ti.xcom_push(key="charts", value=plan["charts"])
            return plan["chunks"]

        @task(
            task_id="import_chunk",
            pool=SOUNDCHARTS_POOL,
            map_index_template="{{ chunk_label }}",
            max_active_tis_per_dagrun=MAX_PARALLEL_CHUNKS,
        )
        def import_chunk(chunk: dict) -> dict:
            """Fetch the chunk's periods a few at a time, store them as they come; report failures."""
            from airflow.sdk import get_current_context

            from musiccharts.charts.history import chunk_label, import_chunk
            from musiccharts.config import load_chart_configs
            from musiccharts_airflow.hooks.soundcharts import SoundchartsHook
            from musiccharts_airflow.product_db import product_dsn

            # The map index template reads this key; the typed Context does not declare it.
            cast("dict[str, Any]", get_current_context())["chunk_label"] = chunk_label(chunk)
            hook = SoundchartsHook()
            # Build the client (connection, Variable, limiter) here: the Task SDK reads them through the
            # supervisor's channel, which the fetch threads must not use concurrently.
            hook.get_conn()
            charts = {chart.slug: chart for chart in load_chart_configs()}
            return {
                "chunk": chunk_label(chunk),
                "charts": import_chunk(hook, product_dsn(), charts, chunk["parts"]),
            }

        @task(
            task_id="publish_chart_rankings",
            trigger_rule=TriggerRule.ALL_DONE,
            outlets=[CHART_RANKINGS_ASSET],
        )
        def publish_chart_rankings(results) -> int:
            """Hand over to the metadata DAGs once per import, when it stored anything."""
            from airflow.sdk.exceptions import AirflowSkipException

            stored = sum(
                len(outcome["stored"])
                for result in results or []
                if result
                for outcome in result["charts"].values()
            )
            if not stored:
                raise AirflowSkipException("no period stored: nothing to hand over")
            return stored

        @task(task_id="summarise", trigger_rule=TriggerRule.ALL_DONE)
        def summarise(charts: dict, chunks: list, results) -> dict:
            """Per-chart progress (stored, skipped, failed); the run fails when a period failed."""
            from airflow.sdk.exceptions import AirflowFailException

            from musiccharts.charts import history
            from musiccharts.config import load_chart_configs
            from musiccharts_airflow.product_db import product_dsn

            if charts is None or chunks is None:
                raise AirflowFailException("planning failed: see the plan_import task")
            plan = {"charts": charts, "chunks": chunks}
            results = [result for result in results or [] if result]
            # A chunk task that failed may have stored most of its periods first: ask the database which.
            failed_parts = [
                part for chunk in history.chunks_without_result(chunks, results) for part in chunk["parts"]
            ]
            complete = (
                history.complete_moments(
                    product_dsn(), {chart.slug: chart for chart in load_chart_configs()}, failed_parts
                )
                if failed_parts
                else {}
            )
            summary = history.summarise_import(plan, results, complete)
            print(history.format_summary(summary))
            if summary["failed_periods"]:
                raise AirflowFailException(
                    f"{len(summary['failed_periods'])} period(s) failed and are left to the per-period DAGs "
                    f"(their catchup or a backfill retries them): "
                    + ", ".join(f"{f['chart']} {f['period']}" for f in summary["failed_periods"][:20])
                )
            return summary

        chunks = plan_import()
        results = import_chunk.expand(chunk=chunks)
        publish_chart_rankings(results)
        # TaskFlow resolves these XComArgs at run time; the plan's per-chart counts are its "charts" key.
        summarise(XComArg(chunks.operator, key="charts"), chunks, results)  # type: ignore[arg-type,attr-defined]
    return dag
