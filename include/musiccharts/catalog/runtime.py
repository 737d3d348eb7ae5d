"""Glue shared by the catalog DAG tasks (no Airflow imports: tasks pass plain values in)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from musiccharts.catalog.config import MetadataConfig
from musiccharts.catalog.select import EntityKind, select_stale_entities
from musiccharts.catalog.sync import summarise_batches


def select_stale(
    dsn: str, kind: EntityKind, config: MetadataConfig, params: Mapping[str, Any] | None, now=None
) -> list[str]:
    """Uuids to refetch for a run, honouring the ``uuids``, ``force`` and ``staleness_days`` params."""
    import psycopg

    params = params or {}
    staleness = params.get("staleness_days")
    with psycopg.connect(dsn) as conn:
        return select_stale_entities(
            conn,
            kind,
            staleness_days=config.staleness_days if staleness is None else int(staleness),
            now=now or datetime.now(UTC),
            force=bool(params.get("force")),
            uuids=params.get("uuids") or None,
        )


def summarise_run(batches: list[dict], results: Iterable[dict | None] | None, threshold: float) -> dict:
    """Counts of a mapped run as a small dict; raises ``TooManyFailedBatches`` past ``threshold``."""
    summary = summarise_batches(len(batches or []), list(results or []), threshold)
    return {
        "batches": summary.planned,
        "succeeded": summary.succeeded,
        "failed": summary.failed,
        "entities": sum(batch["last"] - batch["first"] + 1 for batch in batches or []),
        **summary.totals,
    }
