"""The simulator enforces a per-minute limit; with both workers busy the cluster-wide limiter keeps it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from musiccharts_stack.e2e import E2EStack, expected_rankings, ranking_row_counts, stored_rankings
from tests.e2e.scenario_charts import RATE_LIMIT, RATE_LIMIT_SECOND

pytestmark = pytest.mark.e2e

REQUESTS_PER_MINUTE = 30
CONNECTION = "/api/v2/connections/soundcharts_default"


def _set_requests_per_minute(stack: E2EStack, value: int | None) -> None:
    """Edit the connection extra as an operator would in the UI (the hook reads it at task start)."""
    connection = stack.api.call("GET", CONNECTION)
    extra = json.loads(connection.get("extra") or "{}")
    extra["requests_per_minute"] = value
    stack.api.call(
        "PATCH",
        CONNECTION,
        params={"update_mask": "extra"},
        json={
            "connection_id": "soundcharts_default",
            "conn_type": connection["conn_type"],
            "extra": json.dumps(extra),
        },
    )


def _tasks_received(stack: E2EStack) -> dict[str, int]:
    """Per Celery worker: how many task messages its log says it received so far."""
    return {
        name: (stack.logs / f"{name}.log").read_text(errors="replace").count("] received")
        for name in ("celery-worker-0", "celery-worker-1")
    }


def test_no_429_with_both_workers_busy_under_a_per_minute_limit(stack: E2EStack) -> None:
    charts = (RATE_LIMIT, RATE_LIMIT_SECOND)
    received_before = _tasks_received(stack)
    state = stack.simulator.state
    previous = json.loads(stack.api.call("GET", CONNECTION).get("extra") or "{}").get("requests_per_minute")
    _set_requests_per_minute(stack, REQUESTS_PER_MINUTE)
    state.set_rate_limit(REQUESTS_PER_MINUTE)
    started = datetime.now(UTC)
    try:
        # Two DAGs x max_active_runs 2 = four API tasks at once: the whole pool, both workers' slots.
        for chart in charts:
            stack.api.set_paused(chart.dag_id, False)
        for chart in charts:
            runs = stack.api.wait_for_runs(
                chart.dag_id, count=chart.periods, timeout=420, check=stack.check_alive
            )
            assert [run["state"] for run in runs] == ["success"] * chart.periods
    finally:
        state.set_rate_limit(None)
        _set_requests_per_minute(stack, previous)

    # Both workers took part (Celery logs every message it receives).
    received = _tasks_received(stack)
    assert all(received[name] > received_before[name] for name in received), (received_before, received)
    calls = [record for record in state.calls() if record.time >= started and record.endpoint == "ranking"]
    assert [record for record in state.calls() if record.time >= started and record.status == 429] == []
    # Two pages per period and not one request more: nothing was refused and retried.
    assert len(calls) == sum(2 * chart.periods for chart in charts)
    for chart in charts:
        expected = expected_rankings(stack.simulator.catalogue, chart, stack.today)
        assert stored_rankings(stack.product_dsn, chart.slug) == expected
        assert ranking_row_counts(stack.product_dsn, chart.slug) == dict.fromkeys(expected, 1)
