"""The native stack: the components the compose file runs, started as local processes.

Used by ``make run`` (``run.py``) and by the end-to-end tests, so both exercise the same configuration.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

from musiccharts_stack.env import (
    APP_SECRET_VARS,
    REPO_ROOT,
    airflow_environment,
    load_or_create_secrets,
    mask_url_password,
    sizing_defaults,
    write_private_file,
)
from musiccharts_stack.processes import ManagedProcess, ProcessGroup, StackError, airflow_healthy, wait_until

log = logging.getLogger("musiccharts.stack")

AIRFLOW_COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
HEALTH_COMPONENTS = ("metadatabase", "scheduler", "triggerer", "dag_processor")


@dataclass(frozen=True)
class PostgresParts:
    """Where a PostgreSQL server listens (``host`` may be a Unix-socket directory)."""

    host: str
    port: str = "5432"
    user: str = "postgres"
    password: str = ""

    @classmethod
    def from_url(cls, url: str) -> PostgresParts:
        parts = urlsplit(url)
        socket_dir = parse_qs(parts.query).get("host", [None])[0]
        return cls(
            host=socket_dir or parts.hostname or "127.0.0.1",
            port=str(parts.port or 5432),
            user=parts.username or "postgres",
            password=parts.password or "",
        )

    def libpq(self, dbname: str) -> dict[str, str]:
        values = {"host": self.host, "port": self.port, "user": self.user, "dbname": dbname}
        if self.password:
            values["password"] = self.password
        return values

    def url(self, dbname: str, driver: str = "") -> str:
        scheme = f"postgresql+{driver}" if driver else "postgresql"
        auth = quote(self.user) + (":" + quote(self.password) if self.password else "")
        if self.host.startswith("/"):
            return f"{scheme}://{auth}@/{dbname}?host={self.host}&port={self.port}"
        return f"{scheme}://{auth}@{self.host}:{self.port}/{dbname}"

    def ensure_databases(self, *names: str) -> None:
        import psycopg
        from psycopg.conninfo import make_conninfo

        with psycopg.connect(make_conninfo(**self.libpq("postgres")), autocommit=True) as conn:
            for name in names:
                if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                    conn.execute(f'CREATE DATABASE "{name}"')
                    log.info("created database %s", name)

    def accepting(self) -> bool:
        """True when the server accepts a connection right now (a restart gate for the components)."""
        import psycopg
        from psycopg.conninfo import make_conninfo

        try:
            with psycopg.connect(make_conninfo(**self.libpq("postgres")), connect_timeout=3) as conn:
                return conn.execute("SELECT 1").fetchone() == (1,)
        except psycopg.Error:
            return False


@dataclass
class NativeStack:
    """One Airflow deployment: metadata + product databases, settings, components, optional simulator."""

    workdir: Path
    postgres: PostgresParts
    executor: str = "LocalExecutor"
    broker_url: str | None = None
    api_port: int = 8080
    celery_workers: int = 0
    #: Processes per Celery worker; None = sized for this machine (see ``sizing_defaults``).
    worker_concurrency: int | None = None
    simulator_port: int | None = 8765
    simulator_args: list[str] = field(default_factory=list)
    #: The ACRCloud simulator runs whenever the Soundcharts one does (None: never).
    acrcloud_simulator_port: int | None = 8766
    #: Local SMTP sink for the alert emails (messages land in ``<workdir>/mail``); None = no sink.
    smtp_sink_port: int | None = None
    airflow_db: str = "airflow"
    product_db: str = "musiccharts"
    extra_env: dict[str, str] = field(default_factory=dict)
    group: ProcessGroup = field(default_factory=ProcessGroup)

    @property
    def airflow_home(self) -> Path:
        return self.workdir / "airflow"

    @property
    def logs(self) -> Path:
        return self.workdir / "logs"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def product_url(self) -> str:
        return self.postgres.url(self.product_db)

    @property
    def product_url_masked(self) -> str:
        return mask_url_password(self.product_url)

    def environment(self) -> dict[str, str]:
        import os

        env = {
            **sizing_defaults(),
            **os.environ,
            **airflow_environment(
                executor=self.executor,
                airflow_home=self.airflow_home,
                metadata_db_url=self.postgres.url(self.airflow_db, driver="psycopg2"),
                shared_secrets=load_or_create_secrets(self.workdir / "secrets.env"),
                api_port=self.api_port,
                broker_url=self.broker_url,
            ),
            "MUSICCHARTS_DB_HOST": self.postgres.host,
            "MUSICCHARTS_DB_PORT": self.postgres.port,
            "MUSICCHARTS_DB_NAME": self.product_db,
            "MUSICCHARTS_DB_USER": self.postgres.user,
            "MUSICCHARTS_DB_PASSWORD": self.postgres.password,
            "MUSICCHARTS_DB_URL": self.product_url,
            # Task logs may carry connection details: private like everything else under the workdir
            # (Airflow's defaults, 0o664 and 0o775, would ignore the umask).
            "AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FILE_PERMISSIONS": "0o600",
            "AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FOLDER_PERMISSIONS": "0o700",
            # Connection airflow_metadata_db (airflow db clean in the retention DAG).
            "AIRFLOW_DB_HOST": self.postgres.host,
            "AIRFLOW_DB_PORT": self.postgres.port,
            "AIRFLOW_DB_NAME": self.airflow_db,
            "AIRFLOW_DB_USER": self.postgres.user,
            "AIRFLOW_DB_PASSWORD": self.postgres.password,
        }
        if self.simulator_port:
            env["SOUNDCHARTS_BASE_URL"] = f"http://127.0.0.1:{self.simulator_port}"
        env["ACRCLOUD_CALLBACK_TOKEN"] = self.acrcloud_callback_token()
        env.update(self._acrcloud_simulator_environment())
        # Several task processes call the APIs: an in-process rate limiter is refused, never used silently.
        env.setdefault("MUSICCHARTS_RATE_LIMIT_REQUIRE_SHARED", "true")
        if self.smtp_sink_port:
            env.setdefault("SMTP_HOST", "127.0.0.1")
            env.setdefault("SMTP_PORT", str(self.smtp_sink_port))
        if self.broker_url and "MUSICCHARTS_RATE_LIMIT_REDIS_URL" not in env:
            # The limiter shares the broker's Redis server, in its own logical database.
            env["MUSICCHARTS_RATE_LIMIT_REDIS_URL"] = self.broker_url.rsplit("/", 1)[0] + "/1"
        env.update(self.extra_env)
        concurrency = "AIRFLOW__CELERY__WORKER_CONCURRENCY"
        env[concurrency] = str(
            self.worker_concurrency or os.environ.get(concurrency) or sizing_defaults()[concurrency]
        )
        return env

    def run_step(self, description: str, command: list[str]) -> None:
        log.info("%s ...", description)
        result = subprocess.run(command, env=self.environment(), capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            raise StackError(f"{description} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")

    def prepare(self) -> None:
        """Databases, migrations (both), settings: idempotent, so every start runs it."""
        self.airflow_home.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.postgres.ensure_databases(self.airflow_db, self.product_db)
        python = sys.executable
        #: The admin password when this start created it (shown once), else None.
        self.new_admin_password = self.ensure_admin_password()
        self.run_step("migrating Airflow's metadata database", [python, "-m", "airflow", "db", "migrate"])
        self.run_step("migrating the product database", [python, "-m", "musiccharts.db.migrate", "upgrade"])
        self.run_step(
            "applying airflow_settings.yaml",
            [
                python,
                "-m",
                "musiccharts_airflow.settings_file",
                "apply",
                str(REPO_ROOT / "airflow_settings.yaml"),
            ],
        )
        self.write_cli_env()

    def start_simulator(self) -> None:
        if not self.simulator_port:
            return
        command = [sys.executable, "-m", "soundcharts_simulator", "--host", "127.0.0.1"]
        command += ["--port", str(self.simulator_port), *self.simulator_args]
        self.group.start(
            ManagedProcess("soundcharts-simulator", command, self.logs / "simulator.log", self.environment())
        )
        log.info("Soundcharts simulator on http://127.0.0.1:%d (simulated data)", self.simulator_port)
        self.start_acrcloud_simulator()

    def acrcloud_callback_token(self) -> str:
        """The secret of the ACRCloud callback URL: as configured, else generated once for this workdir."""
        name = "ACRCLOUD_CALLBACK_TOKEN"
        configured = self.extra_env.get(name) or os.environ.get(name)
        if configured:
            return configured
        return load_or_create_secrets(self.workdir / "secrets.env", APP_SECRET_VARS)[name]

    def _acrcloud_simulator_environment(self) -> dict[str, str]:
        if not (self.simulator_port and self.acrcloud_simulator_port):
            return {}
        base = f"http://127.0.0.1:{self.acrcloud_simulator_port}"
        token = self.acrcloud_callback_token()
        return {
            "ACRCLOUD_BASE_URL": base,
            "ACRCLOUD_IDENTIFY_URL": base,
            # The simulated container calls back the api-server's plugin route, as ACRCloud would.
            "ACRCLOUD_SIMULATOR_CALLBACK_URL": f"{self.api_url}/acrcloud/callback?token={token}",
        }

    def start_acrcloud_simulator(self) -> None:
        if not (self.simulator_port and self.acrcloud_simulator_port):
            return
        command = [sys.executable, "-m", "acrcloud_simulator", "--host", "127.0.0.1"]
        command += ["--port", str(self.acrcloud_simulator_port)]
        self.group.start(
            ManagedProcess(
                "acrcloud-simulator", command, self.logs / "acrcloud-simulator.log", self.environment()
            )
        )

    def start_smtp_sink(self) -> None:
        if not self.smtp_sink_port:
            return
        command = [
            sys.executable,
            "-m",
            "smtp_sink",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.smtp_sink_port),
        ]
        command += ["--mailbox", str(self.workdir / "mail")]
        self.group.start(
            ManagedProcess("smtp-sink", command, self.logs / "smtp-sink.log", self.environment())
        )

    def start_airflow(self) -> None:
        env = self.environment()
        airflow = [sys.executable, "-m", "airflow"]
        for component in AIRFLOW_COMPONENTS:
            self.group.start(
                ManagedProcess(
                    component,
                    [*airflow, component],
                    self.logs / f"{component}.log",
                    env,
                    ready=self.postgres.accepting,
                )
            )
        for index in range(self.celery_workers):
            self.start_worker(index)

    def start_worker(self, index: int) -> ManagedProcess:
        env = self.environment()
        command = [
            sys.executable, "-m", "airflow", "celery", "worker",
            "-c", env["AIRFLOW__CELERY__WORKER_CONCURRENCY"], "--celery-hostname", f"worker{index}@%h",
            # Each worker needs its own pid file: the default one in AIRFLOW_HOME admits a single worker.
            "--pid", str(self.airflow_home / f"celery-worker-{index}.pid"),
            "--skip-serve-logs" if index else "--without-gossip",
        ]  # fmt: skip
        return self.group.start(
            ManagedProcess(
                f"celery-worker-{index}",
                command,
                self.logs / f"celery-worker-{index}.log",
                env,
                ready=self.postgres.accepting,
            )
        )

    def wait_healthy(self, timeout: float = 240, supervise: bool = False) -> None:
        """Every component healthy before anything is unpaused (a DAG unpaused earlier may start too soon).

        With ``supervise`` a component that exits meanwhile is restarted (``make run`` on a busy machine)
        instead of failing the wait.
        """

        def check() -> None:
            if supervise:
                self.group.supervise()
            else:
                self.group.check_alive()

        wait_until(
            lambda: airflow_healthy(self.api_url, HEALTH_COMPONENTS),
            timeout=timeout,
            what="every Airflow component to report healthy",
            check=check,
        )

    @property
    def passwords_file(self) -> Path:
        return self.airflow_home / "passwords.json"

    def ensure_admin_password(self) -> str | None:
        """Create the admin password file (0600, atomically) if missing; return the new password, else None.

        Airflow's simple auth manager would generate it itself, but then prints it into the api-server log
        on every fresh start; created here, it is shown once on the terminal and never logged.
        """
        if self.passwords_file.exists():
            return None
        import secrets

        password = secrets.token_urlsafe(12)
        write_private_file(self.passwords_file, json.dumps({"admin": password}) + "\n")
        return password

    def admin_password(self, timeout: float = 60) -> str:
        path = self.passwords_file
        wait_until(path.exists, timeout=timeout, what=str(path))
        return json.loads(path.read_text())["admin"]

    def write_cli_env(self) -> None:
        """``source <workdir>/airflow/env.sh`` gives a shell this stack's configuration (airflow CLI)."""
        env = self.environment()
        keys = sorted(
            k
            for k in env
            if k.startswith(("AIRFLOW", "MUSICCHARTS_", "SOUNDCHARTS_", "ACRCLOUD_")) or k == "PYTHONPATH"
        )
        lines = [f"export {key}={shlex.quote(env[key])}" for key in keys]
        lines.append(f"export PATH={shlex.quote(str(Path(sys.executable).parent))}:$PATH")
        write_private_file(
            self.airflow_home / "env.sh",
            "# written by the stack runner; contains local secrets (git-ignored)\n" + "\n".join(lines) + "\n",
        )

    def stop(self) -> None:
        self.group.stop()
