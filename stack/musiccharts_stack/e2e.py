"""End-to-end harness: the real Celery stack on private Postgres/Redis, an in-process simulator, REST v2.

Shared by ``tests/e2e`` and ``bench/bench_celery_scale.py``. Everything runs on loopback; every wait is
bounded and says what it waited for. The Soundcharts simulator runs inside the calling process (a uvicorn
thread), so a test reads its request log and turns its knobs (rate limit, slow responses) directly.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from musiccharts_stack.native import NativeStack
from musiccharts_stack.private_services import PrivatePostgres, PrivateRedis, free_port
from musiccharts_stack.processes import StackError, wait_until

log = logging.getLogger("musiccharts.e2e")

TERMINAL_RUN_STATES = frozenset({"success", "failed"})
CHART_DAG_PREFIX = "sync_chart_rankings__"


# --- chart files and expected periods ---------------------------------------------------------------------


@dataclass(frozen=True)
class E2EChart:
    """A chart of the E2E charts file with exactly ``periods`` complete periods before today (UTC)."""

    slug: str
    platform: str
    country: str
    frequency: str  # daily | weekly
    periods: int

    @property
    def dag_id(self) -> str:
        return CHART_DAG_PREFIX + self.slug

    def period_starts(self, today: date) -> list[date]:
        """Start days of the complete periods, oldest first (the last one ends today at 00:00 UTC)."""
        if self.frequency == "daily":
            return [today - timedelta(days=n) for n in range(self.periods, 0, -1)]
        if self.frequency == "weekly":
            last_end = today - timedelta(days=(today.weekday() - 4) % 7)  # the latest Friday, maybe today
            return [last_end - timedelta(weeks=n) for n in range(self.periods, 0, -1)]
        raise ValueError(f"unsupported frequency {self.frequency!r}")

    def yaml_line(self, today: date) -> str:
        start = self.period_starts(today)[0].isoformat()
        return (
            f"  - {{slug: {self.slug}, platform: {self.platform}, country: {self.country}, "
            f"frequency: {self.frequency}, history_start: {start}, enabled: true}}"
        )


def write_charts_file(path: Path, charts: Iterable[E2EChart], today: date) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("charts:\n" + "\n".join(chart.yaml_line(today) for chart in charts) + "\n")
    return path


def utc_today() -> date:
    return datetime.now(UTC).date()


# --- REST API v2 -------------------------------------------------------------------------------------------


class AirflowApi:
    """A thin REST v2 client that does what the UI does (token from /auth/token, Bearer header)."""

    def __init__(self, base_url: str, username: str, password: str, timeout: float = 30) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self._credentials = {"username": username, "password": password}
        self.login()

    def login(self) -> None:
        response = requests.post(f"{self.base_url}/auth/token", json=self._credentials, timeout=self.timeout)
        response.raise_for_status()
        self.session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def call(self, method: str, path: str, *, expect: Iterable[int] | None = (200,), **kwargs) -> Any:
        """One request; ``expect=None`` returns the raw response, else the JSON body of an expected status."""
        response = self._send(method, path, **kwargs)
        if expect is None:
            return response
        if response.status_code not in tuple(expect):
            raise StackError(f"{method} {path} -> {response.status_code}: {response.text[:1000]}")
        return response.json() if response.content else None

    def _send(self, method: str, path: str, **kwargs) -> requests.Response:
        # The API server may be briefly unreachable while its database restarts: retry connection errors.
        deadline = time.monotonic() + 60
        while True:
            try:
                return self.session.request(method, f"{self.base_url}{path}", timeout=self.timeout, **kwargs)
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)

    # DAGs -----------------------------------------------------------------------------------------------
    def wait_for_dag(self, dag_id: str, timeout: float = 180) -> None:
        wait_until(
            lambda: self.call("GET", f"/api/v2/dags/{dag_id}", expect=None).status_code == 200,
            timeout=timeout,
            what=f"DAG {dag_id} to be parsed",
        )

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self.call("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": paused})

    # runs -------------------------------------------------------------------------------------------------
    def dag_runs(self, dag_id: str) -> list[dict]:
        runs: list[dict] = []
        while True:
            page = self.call(
                "GET",
                f"/api/v2/dags/{dag_id}/dagRuns",
                params={"limit": 100, "offset": len(runs), "order_by": "id"},
            )
            runs += page["dag_runs"]
            if len(runs) >= page["total_entries"] or not page["dag_runs"]:
                return runs

    def dag_run(self, dag_id: str, run_id: str) -> dict:
        return self.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")

    def wait_for_runs(
        self,
        dag_id: str,
        *,
        count: int,
        timeout: float,
        check: Callable[[], None] | None = None,
        run_filter: Callable[[dict], bool] = lambda run: True,
    ) -> list[dict]:
        """Wait until at least ``count`` matching runs exist and every one of them is finished."""
        seen: list[dict] = []

        def done() -> bool:
            nonlocal seen
            seen = [run for run in self.dag_runs(dag_id) if run_filter(run)]
            return len(seen) >= count and all(run["state"] in TERMINAL_RUN_STATES for run in seen)

        try:
            wait_until(
                done, timeout=timeout, what=f"{count} finished runs of {dag_id}", interval=2, check=check
            )
        except StackError as error:
            states = [(run["dag_run_id"], run["state"]) for run in seen]
            raise StackError(f"{error}; runs so far: {states}") from None
        return seen

    def wait_run_finished(self, dag_id: str, run_id: str, timeout: float, check=None) -> dict:
        result: dict = {}

        def finished() -> bool:
            result.update(self.dag_run(dag_id, run_id))
            return result["state"] in TERMINAL_RUN_STATES

        wait_until(finished, timeout=timeout, what=f"run {run_id} of {dag_id}", interval=2, check=check)
        return result

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        page = self.call(
            "GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 1000}
        )
        return page["task_instances"]


# --- product database --------------------------------------------------------------------------------------


def stored_rankings(dsn: str, slug: str) -> dict[datetime, list[tuple[int, str]]]:
    """Every stored ranking of chart ``slug``: ranking_date -> [(position, track uuid)] by position."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            """
            SELECT r.ranking_date, e.position, t.uuid
            FROM rankings r
            JOIN charts c ON c.id = r.chart_id
            JOIN ranking_entries e ON e.ranking_id = r.id
            JOIN tracks t ON t.id = e.track_id
            WHERE c.slug = %s
            ORDER BY r.ranking_date, e.position
            """,
            (slug,),
        ).fetchall()
    result: dict[datetime, list[tuple[int, str]]] = {}
    for ranking_date, position, uuid in rows:
        result.setdefault(ranking_date, []).append((position, uuid))
    return result


def ranking_row_counts(dsn: str, slug: str) -> dict[datetime, int]:
    """ranking_date -> number of ``rankings`` rows (a duplicate load would show 2)."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT r.ranking_date, count(*) FROM rankings r JOIN charts c ON c.id = r.chart_id "
            "WHERE c.slug = %s GROUP BY r.ranking_date",
            (slug,),
        ).fetchall()
    return dict(rows)


def expected_rankings(catalogue, chart: E2EChart, today: date) -> dict[datetime, list[tuple[int, str]]]:
    """What the simulator serves for each period of the chart, shaped like :func:`stored_rankings`."""
    expected = {}
    for start in chart.period_starts(today):
        snapshot = catalogue.ranking(chart.slug, start)
        expected[snapshot.date] = [(item["position"], item["song"]["uuid"]) for item in snapshot.items]
    return expected


# --- the stack -------------------------------------------------------------------------------------------


@dataclass
class E2EStack:
    """Private Postgres + Redis, the simulator in this process, and the Celery Airflow stack over them."""

    workdir: Path
    charts: list[E2EChart]
    celery_workers: int = 2
    worker_concurrency: int = 2
    extra_env: dict[str, str] = field(default_factory=dict)
    today: date = field(default_factory=utc_today)
    postgres: PrivatePostgres | None = None
    redis: PrivateRedis | None = None
    simulator: Any = None
    stack: NativeStack | None = None
    api: AirflowApi | None = None

    @property
    def native(self) -> NativeStack:
        """The running Airflow stack (``start()`` first)."""
        if self.stack is None:
            raise RuntimeError("the stack is not started: call start() first")
        return self.stack

    @property
    def product_dsn(self) -> str:
        from psycopg.conninfo import make_conninfo

        return make_conninfo(**self.native.postgres.libpq(self.native.product_db))

    @property
    def logs(self) -> Path:
        return self.workdir / "logs"

    def chart(self, slug: str) -> E2EChart:
        return next(chart for chart in self.charts if chart.slug == slug)

    def start(self, healthy_timeout: float = 300) -> E2EStack:
        from soundcharts_simulator.testing import SimulatorServer

        if self.workdir.exists():
            shutil.rmtree(self.workdir)
        self.workdir.mkdir(parents=True)
        charts_file = write_charts_file(self.workdir / "charts.yaml", self.charts, self.today)
        self.postgres = PrivatePostgres(self.workdir / "pgdata")
        self.redis = PrivateRedis(self.workdir / "redis").start()
        self.simulator = SimulatorServer(seed=42).start()
        env = {
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "MUSICCHARTS_CHARTS_FILE": str(charts_file),
            "SOUNDCHARTS_BASE_URL": self.simulator.base_url,
            "MUSICCHARTS_RETRY_DELAY_SECONDS": "5",
            # A killed worker's task is failed (then retried) after 30 s instead of 5 minutes.
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
            # A message lost with the broker is re-queued after 90 s instead of 10 minutes.
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "90",
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "15",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            # Two cores: one api-server worker process is plenty and leaves CPU for the tasks.
            "AIRFLOW__API__WORKERS": "1",
            # Own ports, so a `make run` or another E2E checkout on this machine cannot collide.
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            **self.extra_env,
        }
        self.stack = NativeStack(
            workdir=self.workdir,
            postgres=self.postgres.parts,
            executor="CeleryExecutor",
            broker_url=self.redis.url(0),
            api_port=free_port(),
            celery_workers=self.celery_workers,
            worker_concurrency=self.worker_concurrency,
            simulator_port=None,
            # Alerts go to a local SMTP sink, as under `make run`: email is on by default in the settings.
            smtp_sink_port=free_port(),
            extra_env=env,
        )
        self.native.prepare()
        self.native.start_smtp_sink()
        self.native.start_airflow()
        self.native.wait_healthy(timeout=healthy_timeout)
        self.api = AirflowApi(self.native.api_url, "admin", self.native.admin_password())
        for chart in self.charts:
            self.api.wait_for_dag(chart.dag_id)
        return self

    # components ---------------------------------------------------------------------------------------------
    def process(self, name: str):
        return next(process for process in self.native.group.processes if process.name == name)

    def kill_worker(self, index: int) -> None:
        """SIGKILL the whole process group of one Celery worker (main process, pool children, tasks)."""
        import signal

        process = self.process(f"celery-worker-{index}")
        process.signal_group(signal.SIGKILL)
        process.process.wait(timeout=30)
        self.native.group.processes.remove(process)

    def stop_worker(self, index: int, timeout: float = 60) -> None:
        """Warm shutdown of one Celery worker (SIGTERM: it finishes its running tasks first)."""
        import signal
        import subprocess

        process = self.process(f"celery-worker-{index}")
        process.signal_group(signal.SIGTERM)
        try:
            process.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.signal_group(signal.SIGKILL)
            process.process.wait(timeout=30)
        self.native.group.processes.remove(process)

    def start_worker(self, index: int) -> None:
        self.native.start_worker(index)

    def restart_dead_components(self) -> list[str]:
        """One pass of the stack's supervisor: components that exited are restarted (with backoff, their
        leftover children killed); returns the names restarted in this pass."""
        return self.native.group.supervise()

    def check_alive(self) -> None:
        """Supervise (as ``make run`` does); raises only when a component keeps failing fast."""
        self.native.group.supervise()

    # artifacts ----------------------------------------------------------------------------------------------
    def copy_logs(self, destination: Path) -> Path:
        """Copy component, task, Postgres and Redis logs into ``destination`` (kept as test artifacts)."""
        shutil.rmtree(destination, ignore_errors=True)  # only this run's logs, never an older run's
        destination.mkdir(parents=True)
        sources = {
            "components": self.logs,
            "task-logs": self.workdir / "airflow" / "logs",
            "redis": self.workdir / "redis" / "redis.log",
            "postgres": self.workdir / "pgdata" / "log",
        }
        for name, source in sources.items():
            target = destination / name
            if source.is_dir():
                shutil.copytree(source, target, dirs_exist_ok=True)
            elif source.is_file():
                shutil.copy2(source, target)
        return destination

    def stop(self) -> None:
        """Stop everything this harness started (Airflow first, then simulator, Redis, Postgres)."""
        started = (self.stack, self.simulator, self.redis, self.postgres)
        for action in (component.stop for component in started if component is not None):
            try:
                action()
            except Exception:  # keep tearing down the rest
                log.exception("teardown step failed")
