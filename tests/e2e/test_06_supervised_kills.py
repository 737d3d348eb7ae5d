"""Every long-running component is killed with -9 in turn during a catchup; the stack's supervisor brings
each back (its children killed with it) and the catchup finishes with exact data."""

from __future__ import annotations

import os
import signal

import psutil
import pytest

from musiccharts_stack.e2e import E2EStack, expected_rankings, ranking_row_counts, stored_rankings
from musiccharts_stack.processes import wait_until
from tests.e2e.scenario_charts import SUPERVISED_KILLS

pytestmark = pytest.mark.e2e

COMPONENTS = ("scheduler", "celery-worker-0", "api-server", "dag-processor", "triggerer")


def test_each_component_killed_with_sigkill_comes_back_and_the_catchup_is_exact(stack: E2EStack) -> None:
    api = stack.api
    state = stack.simulator.state
    # Slow pages keep the catchup running across all the kills.
    state.slow("ranking", seconds=2, times=None, when=lambda r: r.params.get("slug") == SUPERVISED_KILLS.slug)
    restarted: list[str] = []

    def supervise() -> None:
        restarted.extend(stack.restart_dead_components())

    try:
        api.set_paused(SUPERVISED_KILLS.dag_id, False)
        for name in COMPONENTS:
            process = stack.process(name)
            old_pid = process.process.pid
            children = [child.pid for child in psutil.Process(old_pid).children(recursive=True)]
            # Only the component's main process, as the OOM killer or `kill -9` would: not its group.
            os.kill(old_pid, signal.SIGKILL)
            wait_until(
                lambda p=process, pid=old_pid: p.running and p.process.pid != pid,
                timeout=120,
                what=f"{name} to be restarted by the supervisor",
                interval=0.5,
                check=supervise,
            )
            orphans = [pid for pid in children if psutil.pid_exists(pid) and _in_group(pid, old_pid)]
            assert orphans == [], f"children of the killed {name} still run: {orphans}"
            stack.native.wait_healthy(timeout=180)
        runs = api.wait_for_runs(
            SUPERVISED_KILLS.dag_id, count=SUPERVISED_KILLS.periods, timeout=600, check=supervise
        )
    finally:
        state.clear_faults()

    assert sorted(set(restarted)) == sorted(COMPONENTS)
    assert [run["state"] for run in runs] == ["success"] * SUPERVISED_KILLS.periods
    expected = expected_rankings(stack.simulator.catalogue, SUPERVISED_KILLS, stack.today)
    assert stored_rankings(stack.product_dsn, SUPERVISED_KILLS.slug) == expected
    assert ranking_row_counts(stack.product_dsn, SUPERVISED_KILLS.slug) == dict.fromkeys(expected, 1)


def _in_group(pid: int, group: int) -> bool:
    try:
        return os.getpgid(pid) == group
    except ProcessLookupError:
        return False
