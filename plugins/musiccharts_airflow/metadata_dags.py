"""The one shape of the two metadata DAGs (tracks, artists): select stale → mapped batches → summary.

``fetch_track_metadata`` and ``fetch_artist_metadata`` differ only by the entity, their schedule, their
outlets and their docs; building both here keeps their tasks, Params and failure handling identical.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from airflow.sdk import DAG, Param, TriggerRule, task

from musiccharts_airflow.governance import PRODUCT_DB_POOL, SOUNDCHARTS_POOL, Tag, default_task_args

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import Asset

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


#: Airflow Variables (airflow_settings.yaml) that override catalog.yaml per deployment; a run's Params
#: override both. Unset or empty = catalog.yaml.
STALENESS_VARIABLE = "metadata_staleness_days"
FAILURE_THRESHOLD_VARIABLE = "metadata_batch_failure_threshold"


def _with_variable_overrides(config):
    """The metadata section of catalog.yaml with the deployment's Variables applied (read at run time)."""
    from airflow.sdk import Variable

    overrides = {}
    staleness = Variable.get(STALENESS_VARIABLE, default=None)
    if staleness not in (None, ""):
        overrides["staleness_days"] = int(staleness)
    threshold = Variable.get(FAILURE_THRESHOLD_VARIABLE, default=None)
    if threshold not in (None, ""):
        overrides["failure_threshold"] = float(threshold)
    return config.model_copy(update=overrides) if overrides else config


def build_metadata_dag(
    *,
    entity: Literal["track", "artist"],
    schedule: Sequence[Asset],
    outlets: Sequence[Asset] = (),
    doc_md: str,
) -> DAG:
    """``fetch_<entity>_metadata``: ``select_stale_<entity>s``, mapped ``fetch_batch``, ``summarise``."""
    plural = f"{entity}s"
    config_name = f"{entity}_metadata"  # the section of include/config/catalog.yaml

    with DAG(
        dag_id=f"fetch_{entity}_metadata",
        description=f"Refresh stale {entity} metadata from Soundcharts in mapped batches",
        schedule=list(schedule),
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,
        default_args=default_task_args(retries=3, retry_delay=timedelta(minutes=1)),
        tags=[Tag.DOMAIN_CATALOG, Tag.SOURCE_SOUNDCHARTS, Tag.TIER_2],
        params={
            "uuids": Param(
                [],
                type="array",
                items={"type": "string", "format": "uuid", "pattern": UUID_PATTERN},
                description=f"Only these {entity} uuids (empty = every stale {entity}).",
            ),
            "force": Param(False, type="boolean", description="Refetch even if the metadata is fresh."),
            "staleness_days": Param(
                None,
                type=["null", "integer"],
                minimum=0,
                description="Refetch metadata older than this many days (empty = catalog.yaml).",
            ),
        },
        doc_md=doc_md,
    ) as dag:

        @task(task_id=f"select_stale_{plural}", pool=PRODUCT_DB_POOL)
        def select_stale_batches(params=None) -> list[dict]:
            """Stale rows as batches (ids only: XCom stays small)."""
            from airflow.sdk.configuration import conf

            from musiccharts.catalog.batching import plan_batches
            from musiccharts.catalog.config import load_catalog_config
            from musiccharts.catalog.runtime import select_stale
            from musiccharts_airflow.product_db import product_dsn

            config = _with_variable_overrides(getattr(load_catalog_config(), config_name))
            uuids = select_stale(product_dsn(), entity, config, params)
            # Never more mapped instances than this deployment's [core] max_map_length allows.
            limit = min(config.max_batches, conf.getint("core", "max_map_length"))
            return plan_batches(uuids, endpoint_max=config.endpoint_max, max_batches=limit)

        @task(
            task_id="fetch_batch",
            pool=SOUNDCHARTS_POOL,
            map_index_template="{{ batch_label }}",
            max_active_tis_per_dagrun=4,
        )
        def fetch_batch(batch: dict) -> dict:
            """One batch: every API call first, then one transaction. Returns counts."""
            from airflow.sdk import get_current_context

            from musiccharts.catalog import sync
            from musiccharts.catalog.batching import batch_label
            from musiccharts.catalog.config import load_catalog_config
            from musiccharts_airflow.hooks.soundcharts import SoundchartsHook
            from musiccharts_airflow.product_db import product_dsn

            get_current_context()["batch_label"] = batch_label(batch, plural)
            fetch_and_load = getattr(sync, f"fetch_and_load_{plural}")
            config = getattr(load_catalog_config(), config_name)
            return fetch_and_load(
                SoundchartsHook(), product_dsn(), batch["ids"], endpoint_max=config.endpoint_max
            )

        @task(task_id="summarise", trigger_rule=TriggerRule.ALL_DONE, outlets=list(outlets))
        def summarise(batches: list[dict], results) -> dict:
            """Fail only past the failure threshold; log and return the counts."""
            from airflow.sdk.exceptions import AirflowFailException

            from musiccharts.catalog.config import load_catalog_config
            from musiccharts.catalog.runtime import summarise_run
            from musiccharts.catalog.sync import TooManyFailedBatches

            threshold = _with_variable_overrides(
                getattr(load_catalog_config(), config_name)
            ).failure_threshold
            try:
                return summarise_run(batches, results, threshold)
            except TooManyFailedBatches as error:
                raise AirflowFailException(str(error)) from None  # retrying the summary cannot help

        planned = select_stale_batches()
        summarise(planned, fetch_batch.expand(batch=planned))

    return dag
