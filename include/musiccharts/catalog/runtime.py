"""Glue shared by the catalog DAG tasks (no Airflow imports: tasks pass plain values in)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from musiccharts.catalog.config import MetadataConfig
from musiccharts.catalog.select import EntityKind, select_stale_entities
from musiccharts.catalog.sync import TooManyFailedBatches, summarise_batches


class RunPlanFailed(TooManyFailedBatches):
    """The planning (selection) task of the run failed: none of the run's work was even attempted.

    Airflow hands a failed task's return value downstream as None; counting that as "zero batches" would
    turn the run green and publish its Asset, so it fails the run instead, at once.
    """


def concatenate_plans(*plans: list[dict] | None) -> list[dict]:
    """The batches of several planning tasks, in order; :class:`RunPlanFailed` when one of them failed."""
    if any(plan is None for plan in plans):
        raise RunPlanFailed(
            f"{sum(plan is None for plan in plans)} of {len(plans)} planning task(s) failed or never ran: "
            "nothing of this run was selected; see the failed planning task"
        )
    return [batch for plan in plans for batch in plan]


def select_stale(
    dsn: str, kind: EntityKind, config: MetadataConfig, params: Mapping[str, Any] | None, now=None
) -> list[str]:
    """Uuids to refetch for a run, honouring the ``uuids``, ``force`` and ``staleness_days`` params."""
    from musiccharts.db.connection import product_db_session

    params = params or {}
    staleness = params.get("staleness_days")
    with product_db_session(dsn) as conn:
        return select_stale_entities(
            conn,
            kind,
            staleness_days=config.staleness_days if staleness is None else int(staleness),
            now=now or datetime.now(UTC),
            force=bool(params.get("force")),
            uuids=params.get("uuids") or None,
        )


def summarise_run(
    batches: list[dict] | None, results: Iterable[dict | None] | None, threshold: float
) -> dict:
    """Counts of a mapped run as a small dict; raises ``TooManyFailedBatches`` past ``threshold`` and
    :class:`RunPlanFailed` when the plan itself is missing (its task failed)."""
    batches = concatenate_plans(batches)
    summary = summarise_batches(len(batches), list(results or []), threshold)
    return {
        "batches": summary.planned,
        "succeeded": summary.succeeded,
        "failed": summary.failed,
        "entities": sum(batch["last"] - batch["first"] + 1 for batch in batches),
        **summary.totals,
    }
