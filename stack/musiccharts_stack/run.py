"""``make run``: the whole product on one machine with embedded defaults.

Starts (or reuses) PostgreSQL, the API simulators unless real credentials are configured, migrates both
databases, applies ``airflow_settings.yaml`` and runs the Airflow components until Ctrl-C. Data lives in
``var/`` and survives restarts.

Environment knobs (all optional):
  MUSICCHARTS_DATABASE_URL   server URL, e.g. postgresql://user:pw@host:5432 (default: private pgserver)
  EXECUTOR                   local (default) or celery
  REDIS_URL                  broker for EXECUTOR=celery (default redis://127.0.0.1:6379/0)
  CELERY_WORKERS             number of Celery workers for EXECUTOR=celery (default 1)
  SOUNDCHARTS_API_KEY        with SOUNDCHARTS_APP_ID and SOUNDCHARTS_BASE_URL: use the real API
  AIRFLOW_PORT               api-server port (default 8080)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

from musiccharts_stack.env import REPO_ROOT, airflow_environment, load_or_create_secrets
from musiccharts_stack.processes import (
    ManagedProcess,
    ProcessGroup,
    StackError,
    airflow_healthy,
    wait_until,
)

log = logging.getLogger("musiccharts.run")
VAR = REPO_ROOT / "var"
SIMULATOR_PORT = 8765
AIRFLOW_DB = "airflow"
PRODUCT_DB = "musiccharts"


def start_postgres() -> tuple[dict[str, str], object | None]:
    """Connection parts of the server to use; starts a private PostgreSQL 16 (pgserver) if none is given."""
    url = os.environ.get("MUSICCHARTS_DATABASE_URL")
    if url:
        parts = urlsplit(url)
        return {
            "host": parts.hostname or "127.0.0.1",
            "port": str(parts.port or 5432),
            "user": parts.username or "postgres",
            "password": parts.password or "",
        }, None
    import pgserver

    datadir = VAR / "pgdata"
    server = pgserver.get_server(datadir, cleanup_mode="stop")
    log.info("private PostgreSQL 16 running in %s", datadir)
    return socket_connection_parts(server.get_uri()), server


def socket_connection_parts(uri: str) -> dict[str, str]:
    """pgserver listens on a Unix socket only; its directory is the ``host`` query parameter of the URI."""
    from urllib.parse import parse_qs

    parts = urlsplit(uri)
    host = parse_qs(parts.query)["host"][0]
    return {
        "host": host,
        "port": str(parts.port or 5432),
        "user": parts.username or "postgres",
        "password": "",
    }


def ensure_databases(pg: dict[str, str]) -> None:
    import psycopg

    with psycopg.connect(dbname="postgres", autocommit=True, **pg) as conn:
        for name in (AIRFLOW_DB, PRODUCT_DB):
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                conn.execute(f'CREATE DATABASE "{name}"')
                log.info("created database %s", name)


def sqlalchemy_url(pg: dict[str, str], dbname: str) -> str:
    auth = quote(pg["user"]) + (":" + quote(pg["password"]) if pg["password"] else "")
    if pg["host"].startswith("/"):
        return f"postgresql+psycopg2://{auth}@/{dbname}?host={pg['host']}&port={pg['port']}"
    return f"postgresql+psycopg2://{auth}@{pg['host']}:{pg['port']}/{dbname}"


def run_step(description: str, command: list[str], env: dict[str, str]) -> None:
    log.info("%s ...", description)
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise StackError(f"{description} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


def write_cli_env(path: Path, env: dict[str, str]) -> None:
    """``source var/airflow/env.sh`` gives a shell the stack's configuration (for airflow CLI commands)."""
    import shlex

    keys = sorted(
        k for k in env if k.startswith(("AIRFLOW", "MUSICCHARTS_", "SOUNDCHARTS_")) or k == "PYTHONPATH"
    )
    lines = [f"export {key}={shlex.quote(env[key])}" for key in keys]
    lines.append(f"export PATH={shlex.quote(str(Path(sys.executable).parent))}:$PATH")
    path.write_text("# written by make run; contains local secrets (git-ignored)\n" + "\n".join(lines) + "\n")
    path.chmod(0o600)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--executor", choices=["local", "celery"], default=os.environ.get("EXECUTOR", "local")
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("AIRFLOW_PORT", "8080")))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("CELERY_WORKERS", "1")))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")

    group = ProcessGroup()
    pg_server = None
    stop_requested = False

    def request_stop(signum, _frame):
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        pg, pg_server = start_postgres()
        ensure_databases(pg)
        airflow_home = VAR / "airflow"
        airflow_home.mkdir(parents=True, exist_ok=True)
        executor = "CeleryExecutor" if args.executor == "celery" else "LocalExecutor"
        env = {
            **os.environ,
            **airflow_environment(
                executor=executor,
                airflow_home=airflow_home,
                metadata_db_url=sqlalchemy_url(pg, AIRFLOW_DB),
                shared_secrets=load_or_create_secrets(VAR / "secrets.env"),
                api_port=args.port,
                broker_url=args.redis_url if executor == "CeleryExecutor" else None,
            ),
            "MUSICCHARTS_DB_HOST": pg["host"],
            "MUSICCHARTS_DB_PORT": pg["port"],
            "MUSICCHARTS_DB_NAME": PRODUCT_DB,
            "MUSICCHARTS_DB_USER": pg["user"],
            "MUSICCHARTS_DB_PASSWORD": pg["password"],
        }
        if executor == "CeleryExecutor":
            env.setdefault("MUSICCHARTS_RATE_LIMIT_REDIS_URL", args.redis_url.rsplit("/", 1)[0] + "/1")
        product_url = f"postgresql://{quote(pg['user'])}@/{PRODUCT_DB}?host={pg['host']}&port={pg['port']}"
        if not pg["host"].startswith("/"):
            product_url = sqlalchemy_url(pg, PRODUCT_DB).replace("+psycopg2", "")
        env["MUSICCHARTS_DB_URL"] = product_url
        logs = VAR / "logs"
        python = sys.executable
        write_cli_env(airflow_home / "env.sh", env)

        if os.environ.get("SOUNDCHARTS_API_KEY"):
            log.info(
                "SOUNDCHARTS_API_KEY is set: using %s", os.environ.get("SOUNDCHARTS_BASE_URL", "(unset!)")
            )
        else:
            env["SOUNDCHARTS_BASE_URL"] = f"http://127.0.0.1:{SIMULATOR_PORT}"
            group.start(
                ManagedProcess(
                    "soundcharts-simulator",
                    [
                        python,
                        "-m",
                        "soundcharts_simulator",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(SIMULATOR_PORT),
                    ],
                    logs / "soundcharts-simulator.log",
                    env,
                )
            )
            log.info(
                "Soundcharts simulator on http://127.0.0.1:%d (no real credentials configured)",
                SIMULATOR_PORT,
            )

        run_step("migrating Airflow's metadata database", [python, "-m", "airflow", "db", "migrate"], env)
        run_step("migrating the product database", [python, "-m", "musiccharts.db.migrate", "upgrade"], env)
        run_step(
            "applying airflow_settings.yaml",
            [
                python,
                "-m",
                "musiccharts_airflow.settings_file",
                "apply",
                str(REPO_ROOT / "airflow_settings.yaml"),
            ],
            env,
        )
        airflow = [python, "-m", "airflow"]
        components = ["api-server", "scheduler", "dag-processor", "triggerer"]
        for component in components:
            group.start(ManagedProcess(component, [*airflow, component], logs / f"{component}.log", env))
        if executor == "CeleryExecutor":
            for index in range(args.workers):
                group.start(
                    ManagedProcess(
                        f"celery-worker-{index}",
                        [
                            *airflow,
                            "celery",
                            "worker",
                            "-c",
                            "4",
                            "--hostname",
                            f"worker{index}@%h",
                            "--skip-serve-logs" if index else "--without-mingle",
                        ],
                        logs / f"celery-worker-{index}.log",
                        env,
                    )
                )
        api_url = f"http://127.0.0.1:{args.port}"
        wait_until(
            lambda: airflow_healthy(api_url, ("metadatabase", "scheduler", "triggerer", "dag_processor")),
            timeout=240,
            what="every Airflow component to report healthy",
            check=group.check_alive,
        )
        password_file = airflow_home / "passwords.json"
        wait_until(password_file.exists, timeout=60, what=f"{password_file}")
        password = json.loads(password_file.read_text()).get("admin", "?")
        print(
            f"\n  MusicCharts is running ({executor}).\n"
            f"  Airflow UI:  {api_url}\n"
            f"  Login:       admin / {password}\n"
            f"  Logs:        {logs}/\n"
            f"  Product DB:  {product_url}\n"
            "  Charts catch up at once (DAGs are created unpaused). Press Ctrl-C to stop.\n",
            flush=True,
        )
        while not stop_requested:
            group.check_alive()
            time.sleep(1)
        return 0
    except StackError as error:
        log.error("%s", error)
        return 1
    finally:
        log.info("stopping ...")
        group.stop()
        if pg_server is not None:
            pg_server.cleanup()
        log.info("stopped; data kept in %s", VAR)


if __name__ == "__main__":
    sys.exit(main())
