"""What a ``dag.test()`` run left in Airflow's metadata database: task instance states and labels."""

from __future__ import annotations


def mapped_instances(run, task_id: str) -> list[tuple[str | None, str, int]]:
    """``(rendered map index, state, try number)`` of every instance of ``task_id``, by map index."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(TaskInstance.rendered_map_index, TaskInstance.state, TaskInstance.try_number)
            .filter(TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.run_id)
            .filter(TaskInstance.task_id == task_id)
            .order_by(TaskInstance.map_index)
            .all()
        )
    return [(row[0], str(row[1]), row[2]) for row in rows]


def task_state(run, task_id: str) -> str:
    """The one state every instance of ``task_id`` ended in."""
    states = {state for _, state, _ in mapped_instances(run, task_id)}
    assert len(states) == 1, states
    return states.pop()
