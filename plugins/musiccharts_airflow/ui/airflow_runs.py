"""DAG runs of the chart DAGs, read through the api-server's own metadata session.

This runs inside the api-server (which owns Airflow's metadata database), never inside a task. Runs are
looked up by ``logical_date``, which equals the data interval start for the data-interval timetables of
the chart DAGs; ``(dag_id, logical_date)`` is unique, so a period has at most one run (a backfill or a
clear reuses it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class RunSummary:
    dag_id: str
    run_id: str
    state: str
    run_type: str
    period_start: datetime


ACTIVE_STATES = frozenset({"queued", "running"})


def runs_by_period(
    session: Session, dag_ids: list[str], start: datetime, end: datetime, *, successful: bool = True
) -> dict[tuple[str, datetime], RunSummary]:
    """The run of each (DAG, period start) with its period in ``[start, end)``.

    ``successful=False`` leaves out successful runs: they never decide a period's status (the ranking
    does), and a year of 50 daily charts has 18,250 of them; the few others are read through the
    ``(dag_id, state)`` index.
    """
    if not dag_ids:
        return {}
    from airflow.models.dagrun import DagRun

    rows = session.execute(
        select(
            DagRun.dag_id,
            DagRun.run_id,
            DagRun.state,
            DagRun.run_type,
            DagRun.data_interval_start,
        ).where(
            DagRun.dag_id.in_(dag_ids),
            DagRun.logical_date >= start,
            DagRun.logical_date < end,
            *([] if successful else [DagRun.state != "success"]),
        )
    ).all()
    runs: dict[tuple[str, datetime], RunSummary] = {}
    for dag_id, run_id, state, run_type, interval_start in rows:
        if interval_start is None:
            continue
        runs[(dag_id, interval_start)] = RunSummary(
            dag_id=dag_id,
            run_id=run_id,
            state=str(state.value if hasattr(state, "value") else state),
            run_type=str(run_type.value if hasattr(run_type, "value") else run_type),
            period_start=interval_start,
        )
    return runs
