"""Catchup at scale on the real Celery stack: our chart DAGs against a no-op DAG of the same shape.

One stack (private Postgres + Redis, simulator in this process, api-server, scheduler, dag-processor,
triggerer, two ``airflow celery worker`` processes). Four catchups of P periods x C daily charts each:

  noop/2 workers, ours/2 workers, then one worker stopped: noop/1 worker, ours/1 worker.

The no-op DAGs have the same task, pool, max_active_runs, timetable and Asset outlet as
``dags/charts/sync_chart_rankings.py`` but do no I/O, so ``ours / noop`` is what our code adds on top of
Airflow's own scheduling and task start-up cost. Printed: wall times and the ratios (target: ours within
1.5x of the no-op shape; one worker vs two shows how catchup scales with workers).

    python bench/bench_celery_scale.py [--periods 10] [--charts 4] [--concurrency 2]
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
for part in ("include", "plugins", "simulators", "stack"):
    sys.path.insert(0, str(REPO_ROOT / part))

from musiccharts_stack.e2e import E2EChart, E2EStack, expected_rankings, stored_rankings  # noqa: E402

#: Daily Spotify charts of the simulator; set A runs with two workers, set B with one.
SLUGS = ["it", "es", "br", "mx", "ca", "au", "jp", "nl", "se", "no", "dk", "fi", "pl", "pt", "be", "at"]

NOOP_DAGS = '''\
"""Bench only: the shape of sync_chart_rankings (task, pool, outlet) without any I/O."""

from datetime import timedelta

import airflow.sdk.definitions.decorators  # noqa: F401
from airflow.sdk import DAG, Asset, CronDataIntervalTimetable, task

from musiccharts.config import load_chart_configs
from musiccharts.periods import period_cron, start_of_day
from musiccharts_airflow.governance import SOUNDCHARTS_POOL, default_task_args

NOOP_ASSET = Asset("noop_chart_rankings")


def build(chart):
    with DAG(
        dag_id="noop_chart_rankings__" + chart.slug,
        schedule=CronDataIntervalTimetable(period_cron(chart.frequency), timezone="UTC"),
        start_date=start_of_day(chart.history_start),
        catchup=True,
        max_active_runs=2,
        default_args=default_task_args(retries=3, retry_delay=timedelta(minutes=1)),
        params={},
    ) as dag:

        @task(task_id="sync_period", pool=SOUNDCHARTS_POOL, outlets=[NOOP_ASSET])
        def sync_period(data_interval_start=None, data_interval_end=None, params=None):
            return {"ranking_id": 0, "entries": 200}

        sync_period()
    return dag


for _chart in load_chart_configs():
    globals()["noop_" + _chart.slug] = build(_chart)
'''


def catchup(stack: E2EStack, dag_ids: list[str], runs_each: int, timeout: float) -> float:
    """Unpause ``dag_ids`` together; seconds until every one of their runs has finished successfully."""
    started = time.monotonic()
    for dag_id in dag_ids:
        stack.api.set_paused(dag_id, False)
    for dag_id in dag_ids:
        remaining = max(60.0, timeout - (time.monotonic() - started))
        runs = stack.api.wait_for_runs(dag_id, count=runs_each, timeout=remaining, check=stack.check_alive)
        states = {run["state"] for run in runs}
        if states != {"success"} or len(runs) != runs_each:
            raise SystemExit(f"{dag_id}: {len(runs)} runs, states {states}")
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--periods", type=int, default=10, help="missing daily periods per chart (P)")
    parser.add_argument("--charts", type=int, default=4, help="charts per measurement (C); P*C >= 40")
    parser.add_argument("--concurrency", type=int, default=2, help="Celery worker concurrency")
    parser.add_argument("--timeout", type=float, default=900, help="bound of each catchup, seconds")
    args = parser.parse_args()
    if args.periods * args.charts < 40:
        parser.error("P*C must be at least 40")
    if 2 * args.charts > len(SLUGS):
        parser.error(f"at most {len(SLUGS) // 2} charts")
    logging.basicConfig(level=logging.WARNING)

    set_a = [E2EChart(f"{s}-28", "spotify", s.upper(), "daily", args.periods) for s in SLUGS[: args.charts]]
    set_b = [
        E2EChart(f"{s}-28", "spotify", s.upper(), "daily", args.periods)
        for s in SLUGS[args.charts : 2 * args.charts]
    ]
    workdir = Path(tempfile.mkdtemp(prefix="musiccharts-bench-celery-"))
    dags = workdir / "dags"
    dags.mkdir()
    shutil.copy(REPO_ROOT / "dags" / "charts" / "sync_chart_rankings.py", dags / "sync_chart_rankings.py")
    (dags / "noop_chart_rankings.py").write_text(NOOP_DAGS)
    stack = E2EStack(
        workdir=workdir / "stack",
        charts=set_a + set_b,
        celery_workers=2,
        worker_concurrency=args.concurrency,
        extra_env={"AIRFLOW__CORE__DAGS_FOLDER": str(dags)},
    )
    results: dict[str, float] = {}
    try:
        print(f"starting the Celery stack in {workdir} ...", flush=True)
        stack.start()
        noop = [
            chart.dag_id.replace("sync_chart_rankings__", "noop_chart_rankings__") for chart in set_a + set_b
        ]
        for dag_id in noop:
            stack.api.wait_for_dag(dag_id)
        plan = [
            ("noop, 2 workers", noop[: args.charts]),
            ("ours, 2 workers", [chart.dag_id for chart in set_a]),
        ]
        for label, dag_ids in plan:
            results[label] = catchup(stack, dag_ids, args.periods, args.timeout)
            print(f"  {label:16s} {results[label]:7.1f} s", flush=True)
        stack.stop_worker(1)
        for label, dag_ids in [
            ("noop, 1 worker", noop[args.charts :]),
            ("ours, 1 worker", [chart.dag_id for chart in set_b]),
        ]:
            results[label] = catchup(stack, dag_ids, args.periods, args.timeout)
            print(f"  {label:16s} {results[label]:7.1f} s", flush=True)
        # The timing only counts if the data is right: every period exactly as the simulator serves it.
        for chart in set_a + set_b:
            expected = expected_rankings(stack.simulator.catalogue, chart, stack.today)
            if stored_rankings(stack.product_dsn, chart.slug) != expected:
                raise SystemExit(f"{chart.slug}: stored rankings differ from the simulator's")
    finally:
        stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    runs = args.periods * args.charts
    print(f"\nCelery catchup: {args.periods} periods x {args.charts} charts = {runs} runs, one task each")
    ratio_2 = results["ours, 2 workers"] / results["noop, 2 workers"]
    ratio_1 = results["ours, 1 worker"] / results["noop, 1 worker"]
    print(f"  ours / no-op shape, 2 workers: {ratio_2:.2f}x (target <= 1.5x)")
    print(f"  ours / no-op shape, 1 worker:  {ratio_1:.2f}x")
    print(f"  ours, 1 worker / 2 workers:    {results['ours, 1 worker'] / results['ours, 2 workers']:.2f}x")
    print(f"  no-op, 1 worker / 2 workers:   {results['noop, 1 worker'] / results['noop, 2 workers']:.2f}x")
    return 0 if ratio_2 <= 1.5 else 1


if __name__ == "__main__":
    sys.exit(main())
