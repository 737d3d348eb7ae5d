"""The mapped-batch block run by ``dag.test()``: plan, labelled mapped instances, and the summary's verdict.

The DAG here is built from the block alone (no API, no product database), so each case shows one rule.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.dag_runs import mapped_instances, task_state

pytestmark = pytest.mark.integration


def build_dag(dag_id: str, *, select, fetch, threshold: float = 0.0, max_batches: int = 1000):
    from airflow.sdk import DAG

    from musiccharts_airflow.mapped_batches import BatchLimits, batched_fetch, summarise_batches

    with DAG(dag_id=dag_id, schedule=None, start_date=datetime(2026, 1, 1), catchup=False) as dag:
        songs = batched_fetch(
            noun="songs",
            plan_task_id="plan_song_batches",
            fetch_task_id="fetch_song_batch",
            select=select,
            fetch=fetch,
            limits=lambda: BatchLimits(batch_size=2, max_batches=max_batches),
            fetch_pool="default_pool",
            plan_pool="default_pool",
        )
        summarise_batches(songs, failure_threshold=lambda: threshold)
    serialise(dag)
    return dag


def serialise(dag) -> None:
    """Write ``dag`` to the metadata database as the dag-processor would (``dag.test()`` runs only those)."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    DagBundlesManager().sync_bundles_to_db()
    bag = DagBag(collect_dags=False)
    bag.bag_dag(dag)
    sync_bag_to_db(bag, "dags-folder", None)


def count_ids(ids, params):
    return {"loaded": len(ids)}


def test_batches_are_labelled_and_counted(airflow_metadata_db):
    dag = build_dag(
        "mapped_batches_counts", select=lambda params: ["a", "b", "c", "b", "d", "e"], fetch=count_ids
    )
    run = dag.test()
    assert run.state == "success"
    assert [(label, state) for label, state, _ in mapped_instances(run, "fetch_song_batch")] == [
        ("songs 1-2 of 5", "success"),
        ("songs 3-4 of 5", "success"),
        ("songs 5-5 of 5", "success"),
    ]
    assert task_state(run, "summarise") == "success"


def test_mapping_is_capped_by_max_map_length(airflow_metadata_db, monkeypatch):
    monkeypatch.setenv("AIRFLOW__CORE__MAX_MAP_LENGTH", "2")
    dag = build_dag("mapped_batches_cap", select=lambda params: list("abcdefg"), fetch=count_ids)
    run = dag.test()
    assert run.state == "success"
    assert [label for label, _, _ in mapped_instances(run, "fetch_song_batch")] == [
        "songs 1-4 of 7",
        "songs 5-7 of 7",
    ]


def test_a_failed_plan_fails_the_run(airflow_metadata_db):
    def broken_select(params):
        raise RuntimeError("product database unreachable")

    run = build_dag("mapped_batches_no_plan", select=broken_select, fetch=count_ids, threshold=1.0).test()
    assert run.state == "failed"
    assert task_state(run, "plan_song_batches") == "failed"
    assert task_state(run, "summarise") == "failed"  # not "0 batches, success"


def test_an_empty_plan_is_a_success(airflow_metadata_db):
    run = build_dag("mapped_batches_empty", select=lambda params: [], fetch=count_ids).test()
    assert run.state == "success"
    assert task_state(run, "fetch_song_batch") == "skipped"
    assert task_state(run, "summarise") == "success"


@pytest.mark.parametrize(("threshold", "run_state"), [(0.5, "success"), (0.3, "failed")])
def test_failed_batches_fail_the_run_past_the_threshold(airflow_metadata_db, threshold, run_state):
    def fetch_failing_on_c(ids, params):
        if "c" in ids:
            raise RuntimeError("batch refused")
        return count_ids(ids, params)

    dag = build_dag(
        f"mapped_batches_threshold_{run_state}",
        select=lambda params: list("abcde"),
        fetch=fetch_failing_on_c,
        threshold=threshold,
    )
    run = dag.test()  # 1 of 3 batches fails: 33%
    assert run.state == run_state
    assert [state for _, state, _ in mapped_instances(run, "fetch_song_batch")] == [
        "success",
        "failed",
        "success",
    ]
    assert task_state(run, "summarise") == run_state
