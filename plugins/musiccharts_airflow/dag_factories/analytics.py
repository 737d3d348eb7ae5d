"""The analytics DAGs: chart trends, chart health, fraud detection (and performance reports).

Each is scheduled on the Assets the sync and catalog DAGs publish, does its work in the product database
through ``musiccharts_airflow.analytics_tasks``, writes its exports and plots, and publishes its own Asset.
Every computation is idempotent and incremental in the data (not in the run), so ``catchup=False`` and one
run at a time: a run always brings everything up to date, and a missed run needs no replay.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial
from typing import Any, cast

from airflow.sdk import DAG, AssetOrTimeSchedule, CronTriggerTimetable, Param, TriggerRule, task

from musiccharts_airflow.assets import (
    AUDIENCE_UPDATED_ASSET,
    CHART_HEALTH_ASSET,
    CHART_RANKINGS_ASSET,
    CHART_TRENDS_ASSET,
    FRAUD_FLAGS_ASSET,
    PERFORMANCE_REPORTS_ASSET,
)
from musiccharts_airflow.governance import PRODUCT_DB_POOL, Tag, default_task_args
from musiccharts_airflow.mapped_batches import batched_fetch, summarise_batches
from musiccharts_airflow.notifications import run_failure_notifier

START = datetime(2026, 1, 1)
TAGS = [Tag.DOMAIN_ANALYTICS, Tag.TIER_2]


def build_chart_trends_dag(doc_md: str) -> DAG:
    """``analytics_chart_trends``: refresh trends → export the recomputed days, draw bump charts."""
    with DAG(
        dag_id="analytics_chart_trends",
        description="Chart trends per ranking entry, incremental, on every loaded chart period",
        schedule=[CHART_RANKINGS_ASSET],
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=default_task_args(retries=2, retry_delay=timedelta(minutes=1)),
        on_failure_callback=run_failure_notifier,
        tags=TAGS,
        params={"force": Param(False, type="boolean", description="Recompute every ranking of every chart.")},
        doc_md=doc_md,
    ) as dag:

        @task(task_id="refresh_trends", pool=PRODUCT_DB_POOL, outlets=[CHART_TRENDS_ASSET])
        def refresh_trends(params=None) -> dict:
            """Recompute the trends of new, reloaded and later-affected rankings (writes only differences)."""
            from musiccharts_airflow.analytics_tasks import refresh_trends as run

            return run(force=bool((params or {}).get("force")))

        @task(task_id="export_trends", pool=PRODUCT_DB_POOL)
        def export_trends(refresh: Any) -> list[str]:
            """CSV + Parquet of every recomputed ranking day (stable names: a rerun replaces them)."""
            from musiccharts_airflow.analytics_tasks import export_trends as run

            return run(refresh)

        @task(task_id="plot_bump_charts", pool=PRODUCT_DB_POOL)
        def plot_bump_charts() -> list[str]:
            """One bump chart (top N over the last periods) per enabled chart."""
            from musiccharts_airflow.analytics_tasks import plot_bump_charts as run

            return run()

        refreshed = refresh_trends()
        export_trends(refreshed)
        refreshed >> plot_bump_charts()
    return dag


def build_chart_health_dag(doc_md: str, cron: str) -> DAG:
    """``analytics_chart_health``: health of every enabled chart → export → alert below the threshold."""
    with DAG(
        dag_id="analytics_chart_health",
        description="Chart health (completeness, freshness, entry counts, validation), daily and after syncs",
        schedule=AssetOrTimeSchedule(
            timetable=CronTriggerTimetable(cron, timezone="UTC"), assets=[CHART_RANKINGS_ASSET]
        ),
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=default_task_args(retries=2, retry_delay=timedelta(minutes=1)),
        on_failure_callback=run_failure_notifier,
        tags=TAGS,
        params={
            "as_of": Param(
                None,
                type=["null", "string"],
                format="date-time",
                description="Compute health as of this moment (ISO 8601 with zone). Empty = now.",
            )
        },
        doc_md=doc_md,
    ) as dag:

        @task(task_id="compute_health", pool=PRODUCT_DB_POOL, outlets=[CHART_HEALTH_ASSET])
        def compute_health(params=None) -> list[dict]:
            """Score every enabled chart and store one row per chart and day."""
            from musiccharts_airflow.analytics_tasks import compute_health as run

            return run((params or {}).get("as_of"))

        @task(task_id="export_health", pool=PRODUCT_DB_POOL)
        def export_health(healths: Any) -> list[str]:
            from musiccharts_airflow.analytics_tasks import export_health as run

            return run(healths)

        @task(task_id="alert_unhealthy_charts")
        def alert_unhealthy_charts(healths: Any) -> list[str]:
            """Alert through the project notifier for each chart below ``alert_below``; returns them."""
            from musiccharts_airflow.analytics_tasks import alert_unhealthy

            return alert_unhealthy(healths)

        healths = compute_health()
        export_health(healths)
        alert_unhealthy_charts(healths)
    return dag


def build_fraud_dag(doc_md: str) -> DAG:
    """``analytics_fraud_detection``: score tracks and artists → export flags → plot the worst series."""
    with DAG(
        dag_id="analytics_fraud_detection",
        description="Streaming-fraud flags on audience series (bursts, plateaus, chart/stream mismatch)",
        schedule=[AUDIENCE_UPDATED_ASSET],
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=default_task_args(retries=2, retry_delay=timedelta(minutes=1)),
        on_failure_callback=run_failure_notifier,
        tags=TAGS,
        params={
            "plots": Param(
                10, type="integer", minimum=0, maximum=200, description="Series to draw (best scores first)."
            )
        },
        doc_md=doc_md,
    ) as dag:

        @task(task_id="score", pool=PRODUCT_DB_POOL, map_index_template="{{ entity_label }}")
        def score(entity_type: str) -> dict:
            """Score every series of the entity type and replace its stored flags."""
            from airflow.sdk import get_current_context

            from musiccharts_airflow.analytics_tasks import score_fraud

            # The label is an extra context key, read by map_index_template once the task ends.
            context = cast("dict[str, Any]", get_current_context())
            context["entity_label"] = f"{entity_type}s"
            return score_fraud(entity_type)

        @task(task_id="export_flags", pool=PRODUCT_DB_POOL, outlets=[FRAUD_FLAGS_ASSET])
        def export_flags(results: Any, dag_run=None) -> list[str]:
            """Every current flag as CSV + Parquet in the run's date partition (a rerun replaces it)."""
            from musiccharts_airflow.analytics_tasks import export_fraud

            return export_fraud(dag_run.run_after.date().isoformat())

        @task(task_id="plot_flags", pool=PRODUCT_DB_POOL)
        def plot_flags(params=None) -> list[str]:
            from musiccharts_airflow.analytics_tasks import plot_top_flags

            return plot_top_flags(int((params or {}).get("plots", 10)))

        results = score.expand(entity_type=["track", "artist"])
        export_flags(results) >> plot_flags()
    return dag


def _select_missing_streaming(cadence: str, params: Any) -> list[str]:
    from musiccharts_airflow.analytics_tasks import select_missing_streaming

    return select_missing_streaming(cadence, params)


def _fetch_streaming(cadence: str, ids: list[str], params: Any) -> dict[str, int]:
    from musiccharts_airflow.analytics_tasks import fetch_streaming

    return fetch_streaming(cadence, ids, params)


def _streaming_limits() -> Any:
    from musiccharts_airflow.analytics_tasks import streaming_limits

    return streaming_limits()


def _fetch_failure_threshold() -> float:
    from musiccharts_airflow.analytics_tasks import FETCH_FAILURE_THRESHOLD

    return FETCH_FAILURE_THRESHOLD


def _select_missing_airplay(cadence: str, params: Any) -> list[str]:
    from musiccharts_airflow.analytics_tasks import select_missing_airplay

    return select_missing_airplay(cadence, params)


def _fetch_airplay(cadence: str, ids: list[str], params: Any) -> dict[str, int]:
    from musiccharts_airflow.analytics_tasks import fetch_airplay

    return fetch_airplay(cadence, ids, params)


def _airplay_limits() -> Any:
    from musiccharts_airflow.analytics_tasks import airplay_limits

    return airplay_limits()


UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_UUID_ITEMS = {"type": "string", "pattern": UUID_PATTERN}
_DAY_PATTERN = r"^\d{4}-\d{2}-\d{2}$"


def build_performance_dag(cadence: str, cron: str, doc_md: str) -> DAG:
    """``analytics_performance_<cadence>``: reports of the last complete period (or the Params') → export."""
    with DAG(
        dag_id=f"analytics_performance_{cadence}",
        description=f"{cadence.capitalize()} performance reports per track and artist x platform",
        schedule=CronTriggerTimetable(cron, timezone="UTC"),
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=default_task_args(retries=2, retry_delay=timedelta(minutes=1)),
        on_failure_callback=run_failure_notifier,
        tags=TAGS,
        params={
            "track_uuids": Param(
                [], type="array", items=_UUID_ITEMS, description="Only these tracks (empty = all)."
            ),
            "artist_uuids": Param(
                [], type="array", items=_UUID_ITEMS, description="Only these artists (empty = all)."
            ),
            "platforms": Param([], type="array", items={"type": "string"}, description="Empty = all."),
            "period_start": Param(
                None,
                type=["null", "string"],
                format="date",
                pattern=_DAY_PATTERN,
                description="First day (with period_end; empty = last period).",
            ),
            "period_end": Param(
                None,
                type=["null", "string"],
                format="date",
                pattern=_DAY_PATTERN,
                description="Last day, included.",
            ),
        },
        doc_md=doc_md,
    ) as dag:
        streaming = batched_fetch(
            noun="artists",
            plan_task_id="plan_streaming_batches",
            fetch_task_id="fetch_streaming_batch",
            select=partial(_select_missing_streaming, cadence),
            fetch=partial(_fetch_streaming, cadence),
            limits=_streaming_limits,
            plan_doc="Artists whose streaming audience (monthly listeners) the period lacks, in batches.",
            fetch_doc="Every window and page of each artist's streaming audience, stored as its own series.",
        )
        airplay = batched_fetch(
            noun="airplay artists",  # the summary keys plans by noun: distinct from the streaming fetch
            plan_task_id="plan_airplay_batches",
            fetch_task_id="fetch_airplay_batch",
            select=partial(_select_missing_airplay, cadence),
            fetch=partial(_fetch_airplay, cadence),
            limits=_airplay_limits,
            plan_doc="Artists with days of the period unstored or not settled yet (radio spins), in batches.",
            fetch_doc="Each such day's broadcast groups (every page), summed over stations and stored.",
        )
        fetched = summarise_batches(
            streaming, airplay, failure_threshold=_fetch_failure_threshold, task_id="summarise_fetches"
        )

        # ALL_DONE: a report over what is stored is still worth having when some fetches failed.
        @task(
            task_id="compute_reports",
            pool=PRODUCT_DB_POOL,
            outlets=[PERFORMANCE_REPORTS_ASSET],
            trigger_rule=TriggerRule.ALL_DONE,
        )
        def compute_reports(params=None, dag_run=None) -> dict:
            """Store the period's reports (only rows that changed are written)."""
            from musiccharts_airflow.analytics_tasks import run_performance

            return run_performance(cadence, dict(params or {}), dag_run.run_after)

        @task(task_id="export_reports", pool=PRODUCT_DB_POOL)
        def export_reports(run: Any) -> list[str]:
            from musiccharts_airflow.analytics_tasks import export_performance

            return export_performance(run)

        reports = compute_reports()
        fetched >> reports
        export_reports(reports)
    return dag
