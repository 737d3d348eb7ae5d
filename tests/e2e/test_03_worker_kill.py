"""A Celery worker is SIGKILLed while API tasks run: every run still succeeds, no row missing or doubled."""

from __future__ import annotations

import psutil
import pytest

from musiccharts_stack.e2e import E2EStack, expected_rankings, ranking_row_counts, stored_rankings
from musiccharts_stack.processes import wait_until
from tests.e2e.scenario_charts import WORKER_KILL

pytestmark = pytest.mark.e2e


def _running_fetch_tasks(stack: E2EStack) -> list[dict]:
    """The API-calling task instances of the chart that are running right now."""
    return stack.api.call(
        "POST",
        "/api/v2/dags/~/dagRuns/~/taskInstances/list",
        json={"dag_ids": [WORKER_KILL.dag_id], "task_ids": ["sync_period"], "state": ["running"]},
    )["task_instances"]


def _worker_running(stack: E2EStack, ti_id: str) -> int | None:
    """Index of the worker whose process tree runs task instance ``ti_id`` (the task runner's title)."""
    for process in stack.stack.group.processes:
        if not process.name.startswith("celery-worker-") or not process.running:
            continue
        for child in psutil.Process(process.process.pid).children(recursive=True):
            try:
                if ti_id in " ".join(child.cmdline()):
                    return int(process.name.rsplit("-", 1)[1])
            except psutil.Error:  # the task ended while we looked
                continue
    return None


def test_sigkill_of_a_worker_mid_task_loses_and_duplicates_nothing(stack: E2EStack) -> None:
    api = stack.api
    state = stack.simulator.state
    # Slow pages keep the API tasks in flight long enough to be killed mid-request.
    state.slow(
        "ranking", seconds=5, times=None, when=lambda request: request.params.get("slug") == WORKER_KILL.slug
    )
    api.set_paused(WORKER_KILL.dag_id, False)

    victim: dict = {}

    def api_task_running_on_a_worker() -> bool:
        for ti in _running_fetch_tasks(stack):
            index = _worker_running(stack, ti["id"])
            if index is not None:
                victim.update(ti, worker=index)
                return True
        return False

    wait_until(
        api_task_running_on_a_worker, timeout=180, interval=0.5, what="an API task running on a worker"
    )
    killed = [victim["worker"]]
    stack.kill_worker(killed[0])
    try:
        runs = api.wait_for_runs(
            WORKER_KILL.dag_id, count=WORKER_KILL.periods, timeout=420, check=stack.check_alive
        )
    finally:
        stack.start_worker(killed[0])  # back to two workers for the next scenarios
        state.clear_faults()

    assert [run["state"] for run in runs] == ["success"] * WORKER_KILL.periods
    tries = {
        (ti["dag_run_id"], ti["task_id"]): ti["try_number"]
        for run in runs
        for ti in api.task_instances(WORKER_KILL.dag_id, run["dag_run_id"])
    }
    # The killed API task was failed by the heartbeat timeout and retried on the surviving worker.
    assert tries[(victim["dag_run_id"], "sync_period")] >= victim["try_number"] + 1, tries
    expected = expected_rankings(stack.simulator.catalogue, WORKER_KILL, stack.today)
    assert stored_rankings(stack.product_dsn, WORKER_KILL.slug) == expected
    assert ranking_row_counts(stack.product_dsn, WORKER_KILL.slug) == dict.fromkeys(expected, 1)
