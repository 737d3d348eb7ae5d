"""DAGs that fail on purpose, for the notifier tests (a DAGs folder of their own: dag.test() needs a bundle)."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from airflow.sdk import DAG, BaseHook, task

from musiccharts_airflow.governance import default_task_args
from musiccharts_airflow.notifications import run_failure_notifier

START = datetime(2026, 1, 1, tzinfo=UTC)

with DAG(
    "alert_test_failing_dag",
    schedule=None,
    start_date=START,
    catchup=False,
    default_args=default_task_args(retries=1),
    on_failure_callback=run_failure_notifier,
):

    @task
    def load_secret_and_fail():
        # Fetching the connection registers its password with Airflow's secrets masker, as any hook does.
        password = BaseHook.get_connection("alert_test_db").password
        token = os.environ["ALERT_TEST_TOKEN"]
        raise RuntimeError(
            f"could not reach postgresql://loader:{password}@db.internal/charts token={token}\n"
            "second line that must not be in the alert"
        )

    @task
    def never_runs():
        pass

    load_secret_and_fail() >> never_runs()


with DAG(
    "alert_test_mapped_threshold",
    schedule=None,
    start_date=START,
    catchup=False,
    default_args=default_task_args(retries=0),
    on_failure_callback=run_failure_notifier,
):

    @task
    def fetch_batch(batch: int) -> int:
        if batch == 2:
            raise ValueError("batch 2 failed")
        return batch

    @task(trigger_rule="all_done")
    def check_threshold(results, max_failures: int) -> None:
        failures = 4 - len([result for result in results if result is not None])
        if failures > max_failures:
            raise RuntimeError(f"{failures} of 4 batches failed (allowed {max_failures})")

    check_threshold(fetch_batch.expand(batch=[1, 2, 3, 4]), max_failures=1)


with DAG(
    "alert_test_mapped_leaf",
    schedule=None,
    start_date=START,
    catchup=False,
    default_args=default_task_args(retries=0),
    on_failure_callback=run_failure_notifier,
):

    @task
    def fetch_every_batch(batch: int) -> int:
        raise ValueError(f"batch {batch} failed")

    fetch_every_batch.expand(batch=[1, 2, 3])  # a mapped leaf: only the run's failure can page
