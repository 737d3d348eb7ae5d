"""Deep chart history on the real Celery stack: per-period catchup and the history import against the floor.

One stack (private Postgres + Redis, simulator in this process, api-server, scheduler, dag-processor,
triggerer, two ``airflow celery worker`` processes). Three measurements in the same run:

  (a0) catchup, previous shape: catchup of set A by DAGs with the three tasks per period run the chart DAG
       had before (check >> fetch and load >> quality), around today's domain code;
  (a)  catchup, today's shape: the stored rankings of set A are deleted and the chart DAGs
       (one task per period run) catch up the same periods;
  (b)  import: ``import_chart_history`` is triggered once for set B (C charts x P daily periods).

The floor is what the API rate limit allows: ``calls / R`` where ``calls`` is the ranking requests the
simulator served during the phase (pages x periods; the simulator enforces R too, so a 429 would show) and
``R`` the connection's ``requests_per_minute``. Every phase is checked against the simulator's ground
truth: the timing only counts if every period is stored exactly as served.

    python bench/bench_history_import.py [--charts 20] [--periods 30] [--catchup-charts 5]
        [--catchup-periods 4] [--rpm 600] [--only catchup|import]
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
for part in ("include", "plugins", "simulators", "stack"):
    sys.path.insert(0, str(REPO_ROOT / part))

from musiccharts_stack import e2e  # noqa: E402
from musiccharts_stack.e2e import E2EChart, E2EStack, expected_rankings, stored_rankings  # noqa: E402

# Twenty chart DAGs on a busy 2-core machine can take longer than the harness's 3 minutes to appear.
_wait_for_dag = e2e.AirflowApi.wait_for_dag
e2e.AirflowApi.wait_for_dag = lambda self, dag_id, timeout=900: _wait_for_dag(self, dag_id, timeout)

IMPORT_DAG_ID = "import_chart_history"
THREE_TASK_PREFIX = "three_task_rankings__"

THREE_TASK_DAGS = '''\
"""Bench only: the previous shape of a period run (three tasks) around today's domain code."""

from datetime import timedelta

import airflow.sdk.definitions.decorators  # noqa: F401
from airflow.sdk import DAG, CronDataIntervalTimetable, task

from musiccharts.config import load_chart_configs
from musiccharts.periods import period_cron, start_of_day
from musiccharts_airflow.assets import CHART_RANKINGS_ASSET
from musiccharts_airflow.governance import PRODUCT_DB_POOL, SOUNDCHARTS_POOL, default_task_args

SLUGS = {slugs!r}


def build(chart):
    with DAG(
        dag_id="three_task_rankings__" + chart.slug,
        schedule=CronDataIntervalTimetable(period_cron(chart.frequency), timezone="UTC"),
        start_date=start_of_day(chart.history_start),
        catchup=True,
        max_active_runs=2,
        default_args=default_task_args(retries=3, retry_delay=timedelta(minutes=1)),
    ) as dag:

        @task.short_circuit(task_id="check_period_needs_sync", pool=PRODUCT_DB_POOL)
        def check_period_needs_sync(data_interval_start=None, data_interval_end=None):
            from musiccharts.charts.sync import period_needs_sync
            from musiccharts_airflow.product_db import product_dsn

            start, end = data_interval_start, data_interval_end
            return period_needs_sync(product_dsn(), chart, start, end, force=False)

        @task(task_id="fetch_and_load_ranking", pool=SOUNDCHARTS_POOL)
        def fetch_and_load_ranking(data_interval_start=None, data_interval_end=None):
            from datetime import UTC, datetime

            from musiccharts.charts.sync import fetch_and_load_period, published_ranking_date
            from musiccharts_airflow.hooks.soundcharts import SoundchartsHook
            from musiccharts_airflow.product_db import product_dsn

            api, dsn = SoundchartsHook(), product_dsn()
            start, end = data_interval_start, data_interval_end
            ranking_date = published_ranking_date(api, dsn, chart, start, end, now=datetime.now(UTC))
            return fetch_and_load_period(api, dsn, chart, start, end, ranking_date).as_xcom()

        @task(task_id="check_ranking_quality", pool=PRODUCT_DB_POOL, outlets=[CHART_RANKINGS_ASSET])
        def check_ranking_quality(loaded):
            from musiccharts.charts.sync import assert_ranking_quality
            from musiccharts_airflow.product_db import product_dsn

            assert_ranking_quality(product_dsn(), loaded["ranking_id"])

        loaded = fetch_and_load_ranking()
        check_period_needs_sync() >> loaded
        check_ranking_quality(loaded)
    return dag


for _chart in load_chart_configs():
    if _chart.slug in SLUGS:
        globals()["three_task_" + _chart.slug] = build(_chart)
'''
CONNECTION = "/api/v2/connections/soundcharts_default"
RANKING_ENDPOINTS = ("ranking", "available_rankings")


def daily_charts(count: int, periods: int, skip: int = 0) -> list[E2EChart]:
    import yaml

    from soundcharts_simulator.catalogue import COUNTRIES

    # The harness writes country codes unquoted, and YAML reads NO (Norway) as a boolean: leave such out.
    codes = [code for code, _name in COUNTRIES if isinstance(yaml.safe_load(code), str)]
    if skip + count > len(codes):
        raise SystemExit(f"the simulator has {len(codes)} usable daily country charts")
    return [
        E2EChart(f"{code.lower()}-28", "spotify", code, "daily", periods)
        for code in codes[skip : skip + count]
    ]


def set_requests_per_minute(stack: E2EStack, value: int) -> None:
    """The shared limiter's R, as an operator sets it (connection extra), and the simulator enforces it."""
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
    stack.simulator.state.set_rate_limit(value)


def api_calls(stack: E2EStack) -> dict[str, int]:
    state = stack.simulator.state
    counts = {endpoint: state.call_count(endpoint) for endpoint in RANKING_ENDPOINTS}
    counts["429"] = state.call_count(status=429)
    return counts


def check_stored(stack: E2EStack, charts: list[E2EChart]) -> None:
    for chart in charts:
        expected = expected_rankings(stack.simulator.catalogue, chart, stack.today)
        if stored_rankings(stack.product_dsn, chart.slug) != expected:
            raise SystemExit(f"{chart.slug}: stored rankings differ from the simulator's")


def delete_rankings(stack: E2EStack, charts: list[E2EChart]) -> None:
    import psycopg

    with psycopg.connect(stack.product_dsn) as conn:
        conn.execute(
            "DELETE FROM rankings WHERE chart_id IN (SELECT id FROM charts WHERE slug = ANY(%s))",
            ([chart.slug for chart in charts],),
        )


def run_catchup(stack: E2EStack, charts: list[E2EChart], timeout: float, prefix: str | None = None) -> float:
    """Unpause the charts' DAGs (or the bench DAGs ``prefix + slug``); seconds until every run succeeded."""
    dag_ids = [prefix + chart.slug if prefix else chart.dag_id for chart in charts]
    started = time.monotonic()
    for dag_id in dag_ids:
        stack.api.set_paused(dag_id, False)
    for dag_id, chart in zip(dag_ids, charts, strict=True):
        remaining = max(60.0, timeout - (time.monotonic() - started))
        runs = stack.api.wait_for_runs(
            dag_id, count=chart.periods, timeout=remaining, check=stack.check_alive
        )
        states = {run["state"] for run in runs}
        if states != {"success"} or len(runs) != chart.periods:
            raise SystemExit(f"{dag_id}: {len(runs)} runs, states {states}")
    elapsed = time.monotonic() - started
    for dag_id in dag_ids:
        stack.api.set_paused(dag_id, True)
    return elapsed


def run_import(stack: E2EStack, charts: list[E2EChart], timeout: float) -> tuple[float, dict]:
    starts = [start for chart in charts for start in chart.period_starts(stack.today)]
    conf = {
        "charts": [chart.slug for chart in charts],
        "from": min(starts).isoformat(),
        "to": max(starts).isoformat(),
    }
    stack.api.set_paused(IMPORT_DAG_ID, False)
    started = time.monotonic()
    run = stack.api.call(
        "POST", f"/api/v2/dags/{IMPORT_DAG_ID}/dagRuns", json={"logical_date": None, "conf": conf}
    )
    finished = stack.api.wait_run_finished(IMPORT_DAG_ID, run["dag_run_id"], timeout, check=stack.check_alive)
    elapsed = time.monotonic() - started
    print_task_timeline(stack, run["dag_run_id"])
    if finished["state"] != "success":
        raise SystemExit(f"import run ended {finished['state']}")
    return elapsed, conf


def print_task_timeline(stack: E2EStack, run_id: str) -> None:
    """Where the import's wall time went: each task's queueing, start and end, from the run's start."""
    from datetime import datetime

    run = stack.api.call("GET", f"/api/v2/dags/{IMPORT_DAG_ID}/dagRuns/{run_id}")
    instances = stack.api.call("GET", f"/api/v2/dags/{IMPORT_DAG_ID}/dagRuns/{run_id}/taskInstances")

    def offset(value: str | None) -> str:
        if not value:
            return "   -  "
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return f"{(moment - origin).total_seconds():6.1f}"

    origin = datetime.fromisoformat((run.get("start_date") or run["queued_at"]).replace("Z", "+00:00"))
    print("    task timeline from the run's start (s): queued / started / ended", flush=True)
    for ti in sorted(
        instances["task_instances"], key=lambda ti: (ti.get("start_date") or "", ti["map_index"])
    ):
        name = ti["task_id"] + (
            f" [{ti.get('rendered_map_index') or ti['map_index']}]" if ti["map_index"] >= 0 else ""
        )
        times = " ".join(offset(ti.get(key)) for key in ("queued_when", "start_date", "end_date"))
        print(f"    {times}  {name[:110]}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--charts", type=int, default=20, help="daily charts of the import, set B (C)")
    parser.add_argument("--periods", type=int, default=30, help="missing daily periods per chart of B (P)")
    parser.add_argument("--catchup-charts", type=int, default=20, help="daily charts of the catchups, set A")
    parser.add_argument(
        "--catchup-periods", type=int, default=30, help="missing daily periods per chart of A"
    )
    parser.add_argument("--rpm", type=int, default=600, help="requests per minute R (limiter and simulator)")
    parser.add_argument("--workers", type=int, default=2, help="Celery workers")
    parser.add_argument("--concurrency", type=int, default=2, help="Celery worker concurrency")
    parser.add_argument("--timeout", type=float, default=7200, help="bound of each phase, seconds")
    parser.add_argument("--only", choices=("catchup", "import"), help="run the catchups or the import only")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    set_a = [] if args.only == "import" else daily_charts(args.catchup_charts, args.catchup_periods)
    set_b = [] if args.only == "catchup" else daily_charts(args.charts, args.periods, skip=len(set_a))
    workdir = Path(tempfile.mkdtemp(prefix="musiccharts-bench-history-"))
    dags = workdir / "dags"
    shutil.copytree(REPO_ROOT / "dags", dags)
    (dags / "three_task_rankings.py").write_text(
        THREE_TASK_DAGS.replace("{slugs!r}", repr(sorted(chart.slug for chart in set_a)))
    )
    stack = E2EStack(
        workdir=workdir / "stack",
        charts=set_a + set_b,
        celery_workers=args.workers,
        worker_concurrency=args.concurrency,
        extra_env={"AIRFLOW__CORE__DAGS_FOLDER": str(dags)},
    )
    results: dict[str, tuple[float, dict[str, int], int]] = {}

    def measure(label: str, charts: list[E2EChart], run) -> None:
        before = api_calls(stack)
        elapsed = run()
        after = api_calls(stack)
        check_stored(stack, charts)
        calls = {key: after[key] - before[key] for key in after}
        results[label] = (elapsed, calls, sum(chart.periods for chart in charts))
        print(f"  {label:28s} {elapsed:7.1f} s  API calls {calls}", flush=True)

    try:
        print(f"starting the Celery stack in {workdir} ...", flush=True)
        stack.start()
        set_requests_per_minute(stack, args.rpm)
        # The simulator computes a chart's whole history the first time it is asked for it (seconds each
        # on a busy machine): do that now, so that no phase measures the simulator instead of our code.
        for chart in set_a + set_b:
            stack.simulator.catalogue.ranking(chart.slug, chart.period_starts(stack.today)[0])
        if set_a:
            for chart in set_a:
                stack.api.wait_for_dag(THREE_TASK_PREFIX + chart.slug)
            measure(
                "(a0) catchup, three tasks",
                set_a,
                lambda: run_catchup(stack, set_a, args.timeout, prefix=THREE_TASK_PREFIX),
            )
            delete_rankings(stack, set_a)
            measure("(a) catchup, one task", set_a, lambda: run_catchup(stack, set_a, args.timeout))
        if set_b:
            stack.api.wait_for_dag(IMPORT_DAG_ID)
            measure("(b) import", set_b, lambda: run_import(stack, set_b, args.timeout)[0])
    except BaseException:
        kept = stack.copy_logs(REPO_ROOT / "var" / "bench-history-logs")
        print(f"failed; component logs kept in {kept}", flush=True)
        raise
    finally:
        stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"\nDeep history on Celery with {args.workers} workers, R = {args.rpm} requests/min")
    failed = False
    for label, (elapsed, calls, periods) in results.items():
        floor = calls["ranking"] * 60.0 / args.rpm
        print(
            f"  {label:28s} {periods} periods in {elapsed:7.1f} s = {elapsed / periods:.3f} s/period; "
            f"{calls['ranking']} ranking calls ({calls['ranking'] / periods:.2f}/period), "
            f"{calls['available_rankings']} date-list calls, {calls['429']} x 429; "
            f"floor (ranking calls / R) {floor:.1f} s -> {elapsed / floor if floor else float('inf'):.2f}x"
        )
    if "(b) import" in results:
        elapsed, calls, _periods = results["(b) import"]
        ratio = elapsed / (calls["ranking"] * 60.0 / args.rpm)
        print(f"  (b) import / floor: {ratio:.2f}x (target <= 1.3x)")
        failed |= ratio > 1.3
    if "(a) catchup, one task" in results:
        per_period = {label: elapsed / periods for label, (elapsed, _calls, periods) in results.items()}
        speedup = per_period["(a0) catchup, three tasks"] / per_period["(a) catchup, one task"]
        print(f"  (a) catchup speed-up over the three-task shape: {speedup:.2f}x (target >= 2x)")
        failed |= speedup < 2
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
