"""Mapped batches: the one way a DAG fans its work out over dynamic task mapping.

A batched DAG is three steps::

    plan     select the ids to work on and split them into batches (XCom carries ids and counts only)
    fetch    one mapped instance per batch, on an API pool, labelled "tracks 1-25 of 1,200" in the UI
    summary  add up the counts; fail the run when the plan failed or too many batches failed

Mapping is capped at ``min(max_batches, [core] max_map_length)``: past that Airflow fails the planning task,
so with many ids each batch grows instead. A failed batch can be cleared on its own (loads must be
idempotent); the summary runs whatever happened upstream (``all_done``) and raises
``AirflowFailException`` (no retry: rerunning a summary cannot change the counts).

To add a batched DAG, write three plain functions (imports inside them, so parsing the DAG stays cheap) and
wire them::

    from musiccharts_airflow.mapped_batches import BatchLimits, batched_fetch, summarise_batches

    def recording_limits() -> BatchLimits:
        config = load_acrcloud_config().recordings  # read at run time, never at parse time
        return BatchLimits(batch_size=config.batch_size, max_batches=config.max_batches)

    def select_recordings(params) -> list[str]:
        return ids_needing_work(product_dsn(), only=params.get("ids"))

    def fetch_recordings(ids, params) -> dict[str, int]:
        return fetch_and_load_recordings(AcrcloudHook(), product_dsn(), ids)  # counts, e.g. {"loaded": 9}

    with DAG(dag_id="identify_recordings", default_args=default_task_args(), ...):
        recordings = batched_fetch(
            noun="recordings",
            plan_task_id="plan_recording_batches",
            fetch_task_id="fetch_recording_batch",
            select=select_recordings,
            fetch=fetch_recordings,
            limits=recording_limits,
            fetch_pool=ACRCLOUD_POOL,
        )
        summarise_batches(recordings, failure_threshold=lambda: load_acrcloud_config().failure_threshold)

Several ``batched_fetch`` groups may feed one summary (``fetch_audience`` plans tracks and artists apart and
applies one threshold to all batches). ``dag_factories/metadata.py`` is the smallest complete example.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from airflow.sdk import TriggerRule, task

from musiccharts_airflow.governance import PRODUCT_DB_POOL, SOUNDCHARTS_POOL

if TYPE_CHECKING:
    from airflow.sdk import Asset
    from airflow.sdk.definitions.xcom_arg import XComArg

    from musiccharts.catalog.batching import Batch

log = logging.getLogger(__name__)

#: Mapped instances of one batched fetch that may run at once in a DAG run (the pool caps the cluster).
MAX_ACTIVE_BATCHES_PER_RUN = 4

Params = Mapping[str, Any]
Counts = dict[str, int]


@dataclass(frozen=True)
class BatchLimits:
    """How a selection is split: ``batch_size`` ids per batch (the API's maximum), at most ``max_batches``."""

    batch_size: int
    max_batches: int


@dataclass(frozen=True)
class BatchedFetch:
    """The plan and mapped fetch of one kind of entity, as wired into a DAG (input to the summary)."""

    noun: str
    plan: XComArg
    results: XComArg


class TooManyFailedBatches(RuntimeError):
    """More than the allowed share of a run's batches failed."""


class PlanMissing(RuntimeError):
    """A planning task did not succeed, so what the run should have done is unknown."""


def batched_fetch(
    *,
    noun: str,
    plan_task_id: str,
    fetch_task_id: str,
    select: Callable[[Params], Sequence[str]],
    fetch: Callable[[list[str], Params], Counts],
    limits: Callable[[], BatchLimits],
    fetch_pool: str = SOUNDCHARTS_POOL,
    plan_pool: str = PRODUCT_DB_POOL,
    plan_doc: str | None = None,
    fetch_doc: str | None = None,
) -> BatchedFetch:
    """Add ``plan_task_id`` and the mapped ``fetch_task_id`` to the DAG being defined; return both outputs.

    ``select(params)`` returns the ids to work on (duplicates are dropped, order kept); ``fetch(ids, params)``
    does one batch and returns its counts. ``limits()`` is called when the plan runs, so configuration is
    read at run time. ``noun`` (plural) names the ids in the map index label.
    """

    @task(task_id=plan_task_id, pool=plan_pool, doc_md=plan_doc)
    def plan(params: Params | None = None) -> list[Batch]:
        from airflow.sdk.configuration import conf

        from musiccharts.catalog.batching import plan_batches

        batch_limits = limits()
        # Never more mapped instances than this deployment's [core] max_map_length allows.
        max_batches = min(batch_limits.max_batches, conf.getint("core", "max_map_length"))
        ids = select(params or {})
        return plan_batches(ids, endpoint_max=batch_limits.batch_size, max_batches=max_batches)

    @task(
        task_id=fetch_task_id,
        pool=fetch_pool,
        map_index_template="{{ batch_label }}",
        max_active_tis_per_dagrun=MAX_ACTIVE_BATCHES_PER_RUN,
        doc_md=fetch_doc,
    )
    def fetch_batch(batch: Batch, params: Params | None = None) -> Counts:
        from airflow.sdk import get_current_context

        from musiccharts.catalog.batching import batch_label

        # The label is an extra context key, read by map_index_template once the task ends.
        context = cast("dict[str, Any]", get_current_context())
        context["batch_label"] = batch_label(batch, noun)
        return fetch(list(batch["ids"]), params or {})

    planned = plan()
    return BatchedFetch(noun=noun, plan=planned, results=fetch_batch.expand(batch=planned))


def summarise_batches(
    *fetches: BatchedFetch,
    failure_threshold: Callable[[], float],
    task_id: str = "summarise",
    outlets: Sequence[Asset] = (),
) -> XComArg:
    """Add the summary task over ``fetches``: it runs when every upstream is done, whatever its state.

    The run fails when any plan is missing (its task failed: zero batches would hide that) or when more
    than ``failure_threshold()`` of all batches failed; failing exactly at the threshold is allowed.
    """

    @task(task_id=task_id, trigger_rule=TriggerRule.ALL_DONE, outlets=list(outlets))
    def summarise(plans: list[Any], results: list[Any]) -> dict[str, int]:
        from airflow.sdk.exceptions import AirflowFailException

        try:
            return count_batches(
                {fetch.noun: plan for fetch, plan in zip(fetches, plans, strict=True)},
                [result for group in results for result in (group or [])],
                failure_threshold(),
            )
        except (PlanMissing, TooManyFailedBatches) as error:
            raise AirflowFailException(str(error)) from None  # retrying the summary cannot help

    return summarise(plans=[fetch.plan for fetch in fetches], results=[fetch.results for fetch in fetches])


def count_batches(
    plans: Mapping[str, Sequence[Mapping[str, Any]] | None],
    results: Sequence[Mapping[str, Any] | None],
    failure_threshold: float,
) -> dict[str, int]:
    """Counts of a run: batches planned, succeeded, failed, entities, and the sum of every numeric result.

    ``plans`` maps each noun to its plan (``None`` when its planning task failed); ``results`` holds the
    counts of the batches that succeeded (a failed mapped instance leaves no result).
    """
    missing = sorted(noun for noun, plan in plans.items() if plan is None)
    if missing:
        raise PlanMissing(f"planning failed for {', '.join(missing)}: the batches to run are unknown")
    batches = [batch for plan in plans.values() for batch in plan or ()]
    totals: dict[str, int] = {}
    succeeded = [result for result in results if result is not None]
    for result in succeeded:
        for key, value in result.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                totals[key] = totals.get(key, 0) + int(value)
    failed = len(batches) - len(succeeded)
    share = failed / len(batches) if batches else 0.0
    counts = {
        "batches": len(batches),
        "succeeded": len(succeeded),
        "failed": failed,
        "entities": sum(len(batch["ids"]) for batch in batches),
        **totals,
    }
    log.info("batches failed %.1f%% (threshold %.1f%%): %s", 100 * share, 100 * failure_threshold, counts)
    if share > failure_threshold:
        raise TooManyFailedBatches(
            f"{failed} of {len(batches)} batches failed ({share:.1%} > {failure_threshold:.1%})"
        )
    return counts
