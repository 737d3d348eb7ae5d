"""Deep chart history on the real Celery stack: per-period catchup and the history import against the floor.

One stack (private Postgres + Redis, simulator in this process, api-server, scheduler, dag-processor,
triggerer, two ``airflow celery worker`` processes) with C daily charts of P missing periods each:

  (a) catchup: every chart DAG is unpaused and catches up its P periods, one DAG run per period;
  (b) import:  the stored rankings are deleted and ``import_chart_history`` is triggered once for the same
               C x P periods (skipped when the DAG does not exist, e.g. on older code).

The floor is what the API rate limit allows: ``calls / R`` where ``calls`` is the ranking requests the
simulator served during the phase (pages x periods; the simulator enforces R too, so a 429 would show) and
``R`` the connection's ``requests_per_minute``. Both phases are checked against the simulator's ground
truth: the timing only counts if every period is stored exactly as served.

    python bench/bench_history_import.py [--charts 20] [--periods 30] [--rpm 600] [--only catchup|import]
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
import time
from datetime import timedelta
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
CONNECTION = "/api/v2/connections/soundcharts_default"
RANKING_ENDPOINTS = ("ranking", "available_rankings")


def daily_charts(count: int, periods: int) -> list[E2EChart]:
    import yaml

    from soundcharts_simulator.catalogue import COUNTRIES

    # The harness writes country codes unquoted, and YAML reads NO (Norway) as a boolean: leave such out.
    codes = [code for code, _name in COUNTRIES if isinstance(yaml.safe_load(code), str)]
    if count > len(codes):
        raise SystemExit(f"the simulator has {len(codes)} usable daily country charts")
    return [E2EChart(f"{code.lower()}-28", "spotify", code, "daily", periods) for code in codes[:count]]


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


def run_catchup(stack: E2EStack, charts: list[E2EChart], timeout: float) -> float:
    started = time.monotonic()
    for chart in charts:
        stack.api.set_paused(chart.dag_id, False)
    for chart in charts:
        remaining = max(60.0, timeout - (time.monotonic() - started))
        runs = stack.api.wait_for_runs(
            chart.dag_id, count=chart.periods, timeout=remaining, check=stack.check_alive
        )
        states = {run["state"] for run in runs}
        if states != {"success"} or len(runs) != chart.periods:
            raise SystemExit(f"{chart.dag_id}: {len(runs)} runs, states {states}")
    return time.monotonic() - started


def run_import(stack: E2EStack, charts: list[E2EChart], timeout: float) -> tuple[float, dict]:
    starts = [start for chart in charts for start in chart.period_starts(stack.today)]
    conf = {
        "charts": [chart.slug for chart in charts],
        "from": min(starts).isoformat(),
        "to": (max(starts) + timedelta(days=1)).isoformat(),
    }
    stack.api.set_paused(IMPORT_DAG_ID, False)
    started = time.monotonic()
    run = stack.api.call(
        "POST", f"/api/v2/dags/{IMPORT_DAG_ID}/dagRuns", json={"logical_date": None, "conf": conf}
    )
    finished = stack.api.wait_run_finished(IMPORT_DAG_ID, run["dag_run_id"], timeout, check=stack.check_alive)
    elapsed = time.monotonic() - started
    if finished["state"] != "success":
        raise SystemExit(f"import run ended {finished['state']}")
    return elapsed, conf


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--charts", type=int, default=20, help="daily charts (C)")
    parser.add_argument("--periods", type=int, default=30, help="missing daily periods per chart (P)")
    parser.add_argument("--rpm", type=int, default=600, help="requests per minute R (limiter and simulator)")
    parser.add_argument("--workers", type=int, default=2, help="Celery workers")
    parser.add_argument("--concurrency", type=int, default=2, help="Celery worker concurrency")
    parser.add_argument("--timeout", type=float, default=3600, help="bound of each phase, seconds")
    parser.add_argument("--only", choices=("catchup", "import"), help="run one phase only")
    parser.add_argument(
        "--catchup-before",
        type=float,
        help="seconds per period of (a) measured on the code before the change",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    charts = daily_charts(args.charts, args.periods)
    workdir = Path(tempfile.mkdtemp(prefix="musiccharts-bench-history-"))
    stack = E2EStack(
        workdir=workdir / "stack",
        charts=charts,
        celery_workers=args.workers,
        worker_concurrency=args.concurrency,
    )
    periods = args.charts * args.periods
    results: dict[str, tuple[float, dict[str, int]]] = {}
    try:
        print(f"starting the Celery stack in {workdir} ...", flush=True)
        stack.start()
        set_requests_per_minute(stack, args.rpm)
        phases = ["catchup", "import"] if args.only is None else [args.only]
        for phase in phases:
            if phase == "import":
                try:
                    stack.api.wait_for_dag(IMPORT_DAG_ID, timeout=60)
                except Exception:
                    print(f"  no DAG {IMPORT_DAG_ID}: import phase skipped", flush=True)
                    continue
                delete_rankings(stack, charts)
            before = api_calls(stack)
            if phase == "catchup":
                elapsed = run_catchup(stack, charts, args.timeout)
            else:
                elapsed, _conf = run_import(stack, charts, args.timeout)
            after = api_calls(stack)
            calls = {key: after[key] - before[key] for key in after}
            check_stored(stack, charts)
            results[phase] = (elapsed, calls)
            print(f"  {phase:8s} {elapsed:7.1f} s  API calls {calls}", flush=True)
    except BaseException:
        kept = stack.copy_logs(REPO_ROOT / "var" / "bench-history-logs")
        print(f"failed; component logs kept in {kept}", flush=True)
        raise
    finally:
        stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    print(
        f"\nDeep history: {args.charts} charts x {args.periods} daily periods = {periods} periods, "
        f"R = {args.rpm}/min"
    )
    failed = False
    for phase, (elapsed, calls) in results.items():
        floor = calls["ranking"] * 60.0 / args.rpm
        per_period = elapsed / periods
        print(
            f"  ({'a' if phase == 'catchup' else 'b'}) {phase:8s} {elapsed:7.1f} s "
            f"= {per_period:.3f} s/period; "
            f"{calls['ranking']} ranking calls ({calls['ranking'] / periods:.2f}/period), "
            f"{calls['available_rankings']} date lookups, {calls['429']} x 429; floor {floor:.1f} s -> "
            f"{elapsed / floor if floor else float('inf'):.2f}x the floor"
        )
        if phase == "import" and floor and elapsed / floor > 1.3:
            failed = True
        if phase == "catchup" and args.catchup_before:
            speedup = args.catchup_before / per_period
            print(
                f"      catchup before the change {args.catchup_before:.3f} s/period -> {speedup:.2f}x faster"
            )
            failed |= speedup < 2
    print("  targets: (b) <= 1.3x the floor; (a) >= 2x faster than before the change")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
