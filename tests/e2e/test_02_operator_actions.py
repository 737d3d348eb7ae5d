"""Operator actions through REST API v2, as the UI sends them: trigger, refused conf, clear, backfill.

Runs after the catchup scenario (same session stack) and works on its fully loaded daily chart.
"""

from __future__ import annotations

import psycopg
import pytest

from musiccharts_stack.e2e import E2EStack, expected_rankings, ranking_row_counts, stored_rankings
from musiccharts_stack.processes import wait_until
from tests.e2e.scenario_charts import DAILY

pytestmark = pytest.mark.e2e

METADATA_DAG = "fetch_track_metadata"
#: Track columns a rerun must leave identical (timestamps of the write itself excluded).
TRACK_COLUMNS = (
    "uuid, name, credit_name, isrc, isrc_country_code, label, labels, release_date, duration_seconds, "
    "explicit, language_code, copyright, distributor, composers, producers, audio_features"
)


def _tracks(dsn: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(f"SELECT {TRACK_COLUMNS} FROM tracks ORDER BY uuid").fetchall()


def _ensure_daily_loaded(stack: E2EStack) -> dict:
    """The daily chart fully loaded (the catchup scenario did it; run alone, this does it)."""
    api = stack.api
    api.set_paused(DAILY.dag_id, False)
    api.wait_for_runs(DAILY.dag_id, count=DAILY.periods, timeout=420, check=stack.check_alive)
    expected = expected_rankings(stack.simulator.catalogue, DAILY, stack.today)
    assert stored_rankings(stack.product_dsn, DAILY.slug) == expected
    return expected


def _scheduled_run_for(stack: E2EStack, day) -> dict:
    runs = [
        run
        for run in stack.api.dag_runs(DAILY.dag_id)
        if run["run_type"] == "scheduled" and run["data_interval_start"].startswith(day.isoformat())
    ]
    assert len(runs) == 1, runs
    return runs[0]


def _ti(stack: E2EStack, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> dict:
    return stack.api.call(
        "GET",
        f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}"
        + (f"/{map_index}" if map_index >= 0 else ""),
    )


def test_trigger_with_valid_conf_refetches_the_period_identically(stack: E2EStack) -> None:
    expected = _ensure_daily_loaded(stack)
    state = stack.simulator.state
    calls_before = state.call_count("ranking")
    day = DAILY.period_starts(stack.today)[-2]

    run = stack.api.call(
        "POST",
        f"/api/v2/dags/{DAILY.dag_id}/dagRuns",
        json={"logical_date": None, "conf": {"period": day.isoformat(), "force": True}},
    )
    assert run["conf"] == {"period": day.isoformat(), "force": True}
    finished = stack.api.wait_run_finished(
        DAILY.dag_id, run["dag_run_id"], timeout=240, check=stack.check_alive
    )

    assert finished["state"] == "success"
    assert _ti(stack, DAILY.dag_id, run["dag_run_id"], "sync_period")["state"] == "success"
    assert state.call_count("ranking") - calls_before == 2  # force refetches both pages of that period
    assert stored_rankings(stack.product_dsn, DAILY.slug) == expected
    assert set(ranking_row_counts(stack.product_dsn, DAILY.slug).values()) == {1}


def test_conf_failing_the_params_schema_is_refused_naming_the_field(stack: E2EStack) -> None:
    runs_before = len(stack.api.dag_runs(DAILY.dag_id))

    response = stack.api.call(
        "POST",
        f"/api/v2/dags/{DAILY.dag_id}/dagRuns",
        json={"logical_date": None, "conf": {"force": "yes please"}},
        expect=None,
    )

    assert 400 <= response.status_code < 500, response.text
    assert "force" in response.text
    assert len(stack.api.dag_runs(DAILY.dag_id)) == runs_before


def test_clearing_a_complete_period_reruns_without_any_api_call(stack: E2EStack) -> None:
    expected = _ensure_daily_loaded(stack)
    state = stack.simulator.state
    run = _scheduled_run_for(stack, DAILY.period_starts(stack.today)[3])
    tries_before = _ti(stack, DAILY.dag_id, run["dag_run_id"], "sync_period")["try_number"]
    calls_before = state.call_count()

    cleared = stack.api.call(
        "POST",
        f"/api/v2/dags/{DAILY.dag_id}/clearTaskInstances",
        json={"dry_run": False, "only_failed": False, "dag_run_id": run["dag_run_id"]},
    )
    assert {ti["task_id"] for ti in cleared["task_instances"]} == {"sync_period"}
    finished = stack.api.wait_run_finished(
        DAILY.dag_id, run["dag_run_id"], timeout=240, check=stack.check_alive
    )

    assert finished["state"] == "success"
    sync = _ti(stack, DAILY.dag_id, run["dag_run_id"], "sync_period")
    # The period is complete: the task skips itself before any call, so the simulator sees nothing at all.
    assert (sync["state"], sync["try_number"]) == ("skipped", tries_before + 1)
    assert state.call_count() == calls_before
    assert stored_rankings(stack.product_dsn, DAILY.slug) == expected


def test_clearing_one_mapped_index_refetches_that_batch_only(stack: E2EStack) -> None:
    _ensure_daily_loaded(stack)
    api = stack.api
    runs = [run for run in api.dag_runs(METADATA_DAG) if run["state"] == "success"]
    assert runs, "the catchup scenario leaves successful metadata runs"
    run_id = runs[0]["dag_run_id"]
    mapped = api.call(
        "GET", f"/api/v2/dags/{METADATA_DAG}/dagRuns/{run_id}/taskInstances/fetch_batch/listMapped"
    )["task_instances"]
    assert mapped and {ti["state"] for ti in mapped} == {"success"}
    first = next(ti for ti in mapped if ti["map_index"] == 0)
    tracks_before = _tracks(stack.product_dsn)
    state = stack.simulator.state
    calls_before = state.counts_by_endpoint()

    api.set_paused(METADATA_DAG, False)  # the scheduler runs cleared tasks of unpaused DAGs only
    try:
        cleared = api.call(
            "POST",
            f"/api/v2/dags/{METADATA_DAG}/clearTaskInstances",
            json={
                "dry_run": False,
                "only_failed": False,
                "dag_run_id": run_id,
                "task_ids": [["fetch_batch", 0]],
            },
        )
        assert [(ti["task_id"], ti["map_index"]) for ti in cleared["task_instances"]] == [("fetch_batch", 0)]
        finished = api.wait_run_finished(METADATA_DAG, run_id, timeout=240, check=stack.check_alive)
    finally:
        api.set_paused(METADATA_DAG, True)

    assert finished["state"] == "success"
    rerun = _ti(stack, METADATA_DAG, run_id, "fetch_batch", 0)
    assert (rerun["state"], rerun["try_number"]) == ("success", first["try_number"] + 1)
    others = {ti["map_index"]: ti["try_number"] for ti in mapped if ti["map_index"] != 0}
    after = api.call(
        "GET", f"/api/v2/dags/{METADATA_DAG}/dagRuns/{run_id}/taskInstances/fetch_batch/listMapped"
    )["task_instances"]
    assert {ti["map_index"]: ti["try_number"] for ti in after if ti["map_index"] != 0} == others
    # One batch = one call of the batch endpoint (10 uuids), after the free quota check every fresh client
    # makes before its first billable call; nothing else, and the data is unchanged.
    delta = state.counts_by_endpoint() - calls_before
    assert dict(delta) == {"usage": 1, "song_batch": 1}
    assert _tracks(stack.product_dsn) == tracks_before


def test_backfill_over_a_loaded_range_creates_nothing(stack: E2EStack) -> None:
    expected = _ensure_daily_loaded(stack)
    starts = DAILY.period_starts(stack.today)
    body = {
        "dag_id": DAILY.dag_id,
        "from_date": f"{starts[0].isoformat()}T00:00:00Z",
        "to_date": f"{starts[-1].isoformat()}T00:00:00Z",
        "reprocess_behavior": "none",
        "max_active_runs": 2,
        "run_backwards": False,
        "dag_run_conf": {},
    }
    runs_before = stack.api.dag_runs(DAILY.dag_id)
    calls_before = stack.simulator.state.call_count()

    dry_run = stack.api.call("POST", "/api/v2/backfills/dry_run", json=body)
    response = stack.api.call("POST", "/api/v2/backfills", json=body, expect=None)

    assert dry_run["total_entries"] == 0, dry_run
    # Airflow records the backfill and lets the scheduler mark it complete without creating a run.
    assert response.status_code == 200, response.text
    backfill_id = response.json()["id"]
    wait_until(
        lambda: stack.api.call("GET", f"/api/v2/backfills/{backfill_id}")["completed_at"] is not None,
        timeout=120,
        what=f"backfill {backfill_id} to complete",
        check=stack.check_alive,
    )
    runs_after = stack.api.dag_runs(DAILY.dag_id)
    assert [run["dag_run_id"] for run in runs_after] == [run["dag_run_id"] for run in runs_before]
    assert not [run for run in runs_after if run["run_type"] == "backfill"]
    assert stack.simulator.state.call_count() == calls_before
    assert stored_rankings(stack.product_dsn, DAILY.slug) == expected
