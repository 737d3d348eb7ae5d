"""The private Redis (broker + limiter) and then the private Postgres restart mid-run; the runs recover."""

from __future__ import annotations

import logging

import pytest

from musiccharts_stack.e2e import E2EStack, expected_rankings, ranking_row_counts, stored_rankings
from musiccharts_stack.processes import wait_until
from tests.e2e.scenario_charts import RESTARTS

pytestmark = pytest.mark.e2e
log = logging.getLogger(__name__)


def test_broker_then_database_restart_mid_run_loses_and_duplicates_nothing(stack: E2EStack) -> None:
    api = stack.api
    state = stack.simulator.state
    state.slow(
        "ranking", seconds=3, times=None, when=lambda request: request.params.get("slug") == RESTARTS.slug
    )
    restarted: list[str] = []

    def supervise() -> None:
        # What a process supervisor (systemd, compose "restart: always") does for a component that exits.
        restarted.extend(stack.restart_dead_components())

    def successful_runs() -> int:
        return sum(run["state"] == "success" for run in api.dag_runs(RESTARTS.dag_id))

    try:
        api.set_paused(RESTARTS.dag_id, False)
        wait_until(
            lambda: successful_runs() >= 1, timeout=240, what="a first run of the chart", check=supervise
        )
        stack.redis.restart(down_seconds=3)
        wait_until(
            lambda: successful_runs() >= 3, timeout=300, what="runs after the Redis restart", check=supervise
        )
        stack.postgres.restart(down_seconds=3)
        runs = api.wait_for_runs(RESTARTS.dag_id, count=RESTARTS.periods, timeout=480, check=supervise)
    finally:
        state.clear_faults()
    log.info("components restarted by the supervisor: %s", restarted)

    assert [run["state"] for run in runs] == ["success"] * RESTARTS.periods
    expected = expected_rankings(stack.simulator.catalogue, RESTARTS, stack.today)
    assert stored_rankings(stack.product_dsn, RESTARTS.slug) == expected
    assert ranking_row_counts(stack.product_dsn, RESTARTS.slug) == dict.fromkeys(expected, 1)
