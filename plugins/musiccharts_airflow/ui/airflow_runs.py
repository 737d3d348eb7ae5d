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


@dataclass(frozen=True)
class RunRef:
    dag_id: str
    run_id: str
    state: str
    start_date: datetime | None
    end_date: datetime | None


def _state(value: object) -> str:
    return str(value.value if hasattr(value, "value") else value)


def runs_active_between(
    session: Session, dag_ids: list[str], first: datetime, last: datetime
) -> list[RunRef]:
    """Runs of ``dag_ids`` that were running at some moment of ``[first, last]``, by start date.

    A result row (a fraud flag, say) computed at ``t`` was written by the run that was running at ``t``;
    these DAGs run a few times a day, so this is a handful of rows read through the ``dag_id`` index.
    """
    if not dag_ids:
        return []
    from airflow.models.dagrun import DagRun

    rows = session.execute(
        select(DagRun.dag_id, DagRun.run_id, DagRun.state, DagRun.start_date, DagRun.end_date)
        .where(
            DagRun.dag_id.in_(dag_ids),
            DagRun.start_date <= last,
            (DagRun.end_date.is_(None)) | (DagRun.end_date >= first),
        )
        .order_by(DagRun.start_date)
    ).all()
    return [RunRef(dag_id, run_id, _state(state), start, end) for dag_id, run_id, state, start, end in rows]


def run_at(runs: list[RunRef], moment: datetime) -> RunRef | None:
    """The latest-started run of ``runs`` (sorted by start) that was running at ``moment``."""
    found = None
    for run in runs:
        if run.start_date is None or run.start_date > moment:
            break
        if run.end_date is None or run.end_date >= moment:
            found = run
    return found


def runs_by_id(session: Session, dag_ids: list[str], run_ids: list[str]) -> dict[str, RunRef]:
    """run_id -> run, among the runs of ``dag_ids`` (the last started wins if two DAGs share a run id)."""
    if not dag_ids or not run_ids:
        return {}
    from airflow.models.dagrun import DagRun

    rows = session.execute(
        select(DagRun.dag_id, DagRun.run_id, DagRun.state, DagRun.start_date, DagRun.end_date)
        .where(DagRun.dag_id.in_(dag_ids), DagRun.run_id.in_(run_ids))
        .order_by(DagRun.start_date.nulls_first())
    ).all()
    return {
        run_id: RunRef(dag_id, run_id, _state(state), start, end)
        for dag_id, run_id, state, start, end in rows
    }


def mapped_task_indexes(
    session: Session, runs: list[RunRef], task_id: str
) -> dict[tuple[str, str, str], tuple[int, str]]:
    """(dag_id, run_id, rendered map index) -> (map index, state) of the mapped ``task_id`` in ``runs``."""
    if not runs:
        return {}
    from airflow.models.taskinstance import TaskInstance

    rows = session.execute(
        select(
            TaskInstance.dag_id,
            TaskInstance.run_id,
            # The column itself: the model's attribute is a hybrid property that falls back to map_index.
            TaskInstance.__table__.c.rendered_map_index,
            TaskInstance.map_index,
            TaskInstance.state,
        ).where(
            TaskInstance.dag_id.in_({run.dag_id for run in runs}),
            TaskInstance.run_id.in_({run.run_id for run in runs}),
            TaskInstance.task_id == task_id,
        )
    ).all()
    return {
        (dag_id, run_id, rendered): (map_index, _state(state) if state is not None else "none")
        for dag_id, run_id, rendered, map_index, state in rows
        if rendered is not None
    }


def latest_run(session: Session, dag_id: str) -> RunRef | None:
    from airflow.models.dagrun import DagRun

    row = session.execute(
        select(DagRun.dag_id, DagRun.run_id, DagRun.state, DagRun.start_date, DagRun.end_date)
        .where(DagRun.dag_id == dag_id)
        .order_by(DagRun.run_after.desc())
        .limit(1)
    ).first()
    return RunRef(row[0], row[1], _state(row[2]), row[3], row[4]) if row else None
