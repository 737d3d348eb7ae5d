"""The two metadata DAGs (tracks, artists): select stale entities, fetch them in mapped batches, summarise.

``fetch_track_metadata`` and ``fetch_artist_metadata`` differ only by the entity, their schedule, their
outlets and their docs; building both here keeps their tasks, Params and failure handling identical.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from airflow.sdk import DAG, Param

from musiccharts_airflow.governance import Tag, default_task_args
from musiccharts_airflow.mapped_batches import BatchLimits, batched_fetch, summarise_batches
from musiccharts_airflow.notifications import run_failure_notifier
from musiccharts_airflow.params import uuid_list_param

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from airflow.sdk import Asset

    from musiccharts.catalog.config import MetadataConfig


#: Airflow Variables (airflow_settings.yaml) that override catalog.yaml per deployment, read at run time;
#: a run's ``staleness_days`` Param overrides both. Unset or empty = catalog.yaml.
STALENESS_VARIABLE = "metadata_staleness_days"
FAILURE_THRESHOLD_VARIABLE = "metadata_batch_failure_threshold"


def _with_variable_overrides(config: MetadataConfig) -> MetadataConfig:
    from airflow.sdk import Variable

    overrides: dict[str, Any] = {}
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

    def config() -> MetadataConfig:
        from musiccharts.catalog.config import load_catalog_config

        return _with_variable_overrides(getattr(load_catalog_config(), f"{entity}_metadata"))

    def limits() -> BatchLimits:
        return BatchLimits(batch_size=config().endpoint_max, max_batches=config().max_batches)

    def select_stale(params: Mapping[str, Any]) -> list[str]:
        from musiccharts.catalog.runtime import select_stale
        from musiccharts_airflow.product_db import product_dsn

        return select_stale(product_dsn(), entity, config(), params)

    def fetch(uuids: list[str], params: Mapping[str, Any]) -> dict[str, int]:
        from musiccharts.catalog import sync
        from musiccharts_airflow.hooks.soundcharts import SoundchartsHook
        from musiccharts_airflow.product_db import product_dsn

        fetch_and_load = getattr(sync, f"fetch_and_load_{plural}")
        return fetch_and_load(SoundchartsHook(), product_dsn(), uuids, endpoint_max=config().endpoint_max)

    with DAG(
        dag_id=f"fetch_{entity}_metadata",
        description=f"Refresh stale {entity} metadata from Soundcharts in mapped batches",
        schedule=list(schedule),
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,
        default_args=default_task_args(),
        on_failure_callback=run_failure_notifier,
        tags=[Tag.DOMAIN_CATALOG, Tag.SOURCE_SOUNDCHARTS, Tag.TIER_2],
        params={
            "uuids": uuid_list_param(f"Only these {entity} uuids (empty = every stale {entity})."),
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
        batches = batched_fetch(
            noun=plural,
            plan_task_id=f"select_stale_{plural}",
            fetch_task_id="fetch_batch",
            select=select_stale,
            fetch=fetch,
            limits=limits,
            plan_doc=f"Stale {plural} as batches (ids only: XCom stays small).",
            fetch_doc="One batch: every API call first, then one transaction. Returns counts.",
        )
        summarise_batches(batches, failure_threshold=lambda: config().failure_threshold, outlets=outlets)

    return dag
