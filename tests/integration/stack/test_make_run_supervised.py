"""``make run`` itself (LocalExecutor, private Postgres and Redis, simulator) under faults.

One stack for the module, started exactly as ``make run`` starts it (``python -m musiccharts_stack``), with
its own var/ directory and ports. The scenarios, in order:

- start-up: nothing it printed or logged contains a secret (the admin password once, on the terminal, when
  it is created), and every file under var/ that holds a secret or a log is 0600 in a 0700 directory;
- every long-running component is killed with -9 in turn, then the private Postgres itself, while a chart
  catchup runs: each comes back (the scheduler's forked executor workers die with it), the user is told
  when the UI is back, and the catchup finishes with exactly the simulator's rankings;
- the simulator enforces R requests per minute while several tasks call it at once (chart, metadata and
  audience DAGs): the one shared Redis limiter keeps the stack at 0 responses 429.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import psutil
import pytest

from musiccharts.db.connection import to_libpq_dsn
from musiccharts_stack.e2e import (
    AirflowApi,
    E2EChart,
    expected_rankings,
    ranking_row_counts,
    stored_rankings,
    utc_today,
    write_charts_file,
)
from musiccharts_stack.env import REPO_ROOT, read_env_file
from musiccharts_stack.private_services import free_port
from musiccharts_stack.processes import StackError, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(2400)]

CHART = E2EChart("nl-28", "spotify", "NL", "daily", periods=5)
RATE_PER_MINUTE = 60
BANNER = "MusicCharts is running"
KILLED_IN_TURN = ("scheduler", "dag-processor", "triggerer", "api-server", "redis", "soundcharts-simulator")


class MakeRun:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.var = root / "var"
        self.output = root / "make-run-output.txt"
        self.api_port = free_port()
        self.simulator_port = free_port()
        self.today = utc_today()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        charts_file = write_charts_file(self.root / "charts.yaml", [CHART], self.today)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                str(REPO_ROOT / d) for d in ("include", "plugins", "simulators", "stack")
            ),
            "MUSICCHARTS_VAR_DIR": str(self.var),
            "AIRFLOW_PORT": str(self.api_port),
            "SOUNDCHARTS_SIMULATOR_PORT": str(self.simulator_port),
            "SOUNDCHARTS_SIMULATOR_ARGS": f"--rate-limit-per-minute {RATE_PER_MINUTE}",
            "SOUNDCHARTS_REQUESTS_PER_MINUTE": str(RATE_PER_MINUTE),
            "MUSICCHARTS_CHARTS_FILE": str(charts_file),
            # Retries (exponential from 30 s: 30, 60, 120 s) outlast the database outage and the restarts.
            "MUSICCHARTS_RETRY_DELAY_SECONDS": "30",
            # Tasks killed with the scheduler's executor workers are failed (then retried) within 30 s.
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "90",
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "15",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        }
        for name in ("SOUNDCHARTS_API_KEY", "SOUNDCHARTS_APP_ID", "SOUNDCHARTS_BASE_URL", "REDIS_URL",
                     "MUSICCHARTS_DATABASE_URL", "MUSICCHARTS_RATE_LIMIT_REDIS_URL"):  # fmt: skip
            env.pop(name, None)
        with self.output.open("wb") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "musiccharts_stack"],
                cwd=self.root,  # as from a checkout: paths are printed relative to it
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        wait_until(
            lambda: BANNER in self.text(), timeout=900, what="make run's banner", check=self.check_alive
        )

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise StackError(f"make run exited ({self.process.returncode}):\n{self.text()[-5000:]}")

    def text(self) -> str:
        return self.output.read_text(errors="replace") if self.output.exists() else ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            self.process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    # what make run wrote
    def cli_env(self) -> dict[str, str]:
        values = {}
        for line in (self.var / "airflow" / "env.sh").read_text().splitlines():
            if line.startswith("export "):
                key, _, value = line[len("export ") :].partition("=")
                values[key] = shlex.split(value)[0] if value else ""
        return values

    def secrets(self) -> dict[str, str]:
        import json

        values = dict(read_env_file(self.var / "secrets.env"))
        values["admin password"] = json.loads((self.var / "airflow" / "passwords.json").read_text())["admin"]
        return values

    def api(self) -> AirflowApi:
        return AirflowApi(f"http://127.0.0.1:{self.api_port}", "admin", self.secrets()["admin password"])

    def product_dsn(self) -> str:
        return to_libpq_dsn(self.cli_env()["MUSICCHARTS_DB_URL"])

    def component_pid(self, name: str) -> int:
        """Pid of a component: the child of make run whose command line names it."""
        markers = {
            "api-server": "api_server",
            "scheduler": "airflow scheduler",
            "dag-processor": "airflow dag-processor",
            "triggerer": "airflow triggerer",
            "redis": "redis-server",
            "soundcharts-simulator": "soundcharts_simulator",
        }
        for child in psutil.Process(self.process.pid).children():
            try:
                if markers[name] in " ".join(child.cmdline()):
                    return child.pid
            except psutil.Error:
                continue
        raise LookupError(f"no running {name} under make run")

    def restarts_of(self, name: str) -> int:
        return len(re.findall(rf"^\S+ {re.escape(name)} restarted \(pid", self.text(), re.MULTILINE))


@pytest.fixture(scope="module")
def make_run() -> Iterator[MakeRun]:
    # Not under pytest's basetemp: a later pytest session chmods that to 0700, and the private Postgres
    # (run as its own system user when the tests run as root) must be able to reach its data directory.
    root = Path(tempfile.mkdtemp(prefix="musiccharts-make-run-"))
    stack = MakeRun(root)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        artifacts = REPO_ROOT / "var" / "test-artifacts" / "make-run"
        artifacts.mkdir(parents=True, exist_ok=True)
        if stack.output.exists():
            (artifacts / "output.txt").write_text(stack.text())
        # Component and task logs, to see why a run failed (the stack's directory is deleted below).
        for name in ("logs", "airflow/logs"):
            if (stack.var / name).is_dir():
                shutil.copytree(stack.var / name, artifacts / name.replace("/", "-"), dirs_exist_ok=True)
        shutil.rmtree(root, ignore_errors=True)


def test_start_up_prints_and_logs_no_secret_and_keeps_them_private(make_run: MakeRun) -> None:
    secrets = make_run.secrets()
    # Fernet key, JWT and API secrets, the ACRCloud callback token, the admin password.
    assert len(secrets) == 5 and all(len(value) >= 12 for value in secrets.values())
    printed = make_run.text()
    # The admin password is shown once, on the terminal, the way Airflow's simple auth manager does.
    assert printed.count(secrets["admin password"]) == 1
    for name, value in secrets.items():
        if name != "admin password":
            assert value not in printed, f"{name} was printed"

    secret_files = {make_run.var / "secrets.env", make_run.var / "airflow" / "env.sh",
                    make_run.var / "airflow" / "passwords.json"}  # fmt: skip
    # No machine path in the banner: paths are relative to where make run was started.
    banner = printed[printed.index(BANNER) :]
    assert str(make_run.root) not in banner and "var/logs/" in banner
    scanned = 0
    for path in make_run.var.rglob("*"):
        if not path.is_file() or "pgdata" in path.parts or path in secret_files:
            continue
        content = path.read_bytes()
        scanned += 1
        for name, value in secrets.items():
            assert value.encode() not in content, f"{name} appears in {path}"
    assert scanned >= 8  # component logs, task logs, redis log, airflow.cfg

    for path in secret_files:
        assert path.stat().st_mode & 0o777 == 0o600, path
    for directory in (make_run.var / "logs", make_run.var / "airflow", make_run.var / "redis"):
        assert directory.stat().st_mode & 0o777 == 0o700, directory
        for path in directory.rglob("*"):
            private = 0o600 if path.is_file() else 0o700
            assert path.stat().st_mode & 0o777 & ~private == 0, f"{path} is {oct(path.stat().st_mode)}"


def test_each_component_and_the_database_killed_mid_catchup_come_back_with_exact_data(make_run: MakeRun):
    api = make_run.api()
    api.wait_for_dag(CHART.dag_id)
    for name in KILLED_IN_TURN:
        pid = make_run.component_pid(name)
        children = [child.pid for child in psutil.Process(pid).children(recursive=True)]
        restarts = make_run.restarts_of(name)
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda n=name, r=restarts: make_run.restarts_of(n) > r, timeout=180,
                   what=f"{name} to be restarted", check=make_run.check_alive)  # fmt: skip
        leftovers = [child for child in children if psutil.pid_exists(child) and _group_of(child) == pid]
        assert leftovers == [], f"processes forked by the killed {name} still run"
    wait_until(lambda: "the UI is back at" in make_run.text(), timeout=300, what="the UI-is-back message")

    # The database: kill its postmaster outright; make run starts it again and the components follow.
    postmaster = int((make_run.var / "pgdata" / "postmaster.pid").read_text().splitlines()[0])
    os.kill(postmaster, signal.SIGKILL)
    wait_until(lambda: "private PostgreSQL is down; starting it again" in make_run.text(), timeout=120,
               what="make run to start Postgres again", check=make_run.check_alive)  # fmt: skip

    api = make_run.api()
    runs = api.wait_for_runs(CHART.dag_id, count=CHART.periods, timeout=1200, check=make_run.check_alive)
    assert [run["state"] for run in runs] == ["success"] * CHART.periods
    from soundcharts_simulator.catalogue import Catalogue

    expected = expected_rankings(Catalogue(42), CHART, make_run.today)
    assert stored_rankings(make_run.product_dsn(), CHART.slug) == expected
    assert ranking_row_counts(make_run.product_dsn(), CHART.slug) == dict.fromkeys(expected, 1)
    make_run.check_alive()


def test_several_tasks_calling_at_once_get_no_429_under_the_simulators_rate(make_run: MakeRun) -> None:
    api = make_run.api()
    # Let the metadata and audience DAGs (one API task per batch) keep calling for a while.
    time.sleep(90)
    lines = (make_run.var / "logs" / "simulator.log").read_text(errors="replace").splitlines()
    requests = [
        (datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f"), int(match.group(1)))
        for line in lines
        if (match := re.search(r" -> (\d{3}) \[", line))
    ]
    statuses = [status for _, status in requests]
    assert statuses.count(429) == 0
    # The limit was what held the stack back: some minute carried (nearly) R requests.
    times = sorted(moment for moment, _ in requests)
    busiest = max(
        sum(1 for other in times[index:] if other - moment < timedelta(seconds=60))
        for index, moment in enumerate(times)
    )
    assert RATE_PER_MINUTE * 0.75 <= busiest <= RATE_PER_MINUTE, busiest
    # ... while several API tasks ran at the same moment.
    instances = api.call("GET", "/api/v2/dags/~/dagRuns/~/taskInstances", params={"limit": 1000})[
        "task_instances"
    ]
    spans = [
        (datetime.fromisoformat(ti["start_date"]), datetime.fromisoformat(ti["end_date"]))
        for ti in instances
        if "fetch" in ti["task_id"] and ti["start_date"] and ti["end_date"]
    ]
    overlap = max((sum(1 for s, e in spans if s <= start < e) for start, _ in spans), default=0)
    assert overlap >= 2, f"never more than {overlap} API task at once"


def _group_of(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None
