"""Glue shared by the catalog DAG tasks (no Airflow imports: tasks pass plain values in)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from musiccharts.catalog.config import MetadataConfig
from musiccharts.catalog.select import EntityKind, select_stale_entities


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
