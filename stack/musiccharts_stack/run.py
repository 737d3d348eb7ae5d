"""``make run``: the whole product on one machine with embedded defaults.

Starts (or reuses) PostgreSQL, the Soundcharts simulator unless real credentials are configured, migrates
both databases, applies ``airflow_settings.yaml`` and runs the Airflow components until Ctrl-C. Data lives
in ``var/`` and survives restarts.

Environment knobs (all optional):
  MUSICCHARTS_DATABASE_URL   server URL, e.g. postgresql://user:pw@host:5432 (default: private pgserver)
  EXECUTOR                   local (default) or celery
  REDIS_URL                  broker for EXECUTOR=celery (default redis://127.0.0.1:6379/0)
  CELERY_WORKERS             number of Celery workers for EXECUTOR=celery (default 1)
  SOUNDCHARTS_API_KEY        with SOUNDCHARTS_APP_ID and SOUNDCHARTS_BASE_URL: use the real API
  AIRFLOW_PORT               api-server port (default 8080)
  SMTP_HOST                  real SMTP server for alert emails (default: a local sink on 127.0.0.1:8025
                             storing every message in var/mail/)
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from musiccharts_stack.env import REPO_ROOT
from musiccharts_stack.native import NativeStack, PostgresParts
from musiccharts_stack.processes import StackError

if TYPE_CHECKING:
    from pgserver import PostgresServer

log = logging.getLogger("musiccharts.run")
VAR = REPO_ROOT / "var"


def start_postgres(var: Path = VAR) -> tuple[PostgresParts, PostgresServer | None]:
    """The server to use; a private PostgreSQL 16 (pgserver, in var/pgdata) unless one is given."""
    url = os.environ.get("MUSICCHARTS_DATABASE_URL")
    if url:
        return PostgresParts.from_url(url), None
    import pgserver

    var.mkdir(parents=True, exist_ok=True)  # a fresh clone has no var/ yet, and pgserver needs its parent
    server = pgserver.get_server(var / "pgdata", cleanup_mode="stop")
    log.info("private PostgreSQL 16 running in %s", var / "pgdata")
    return PostgresParts.from_url(server.get_uri()), server


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
    logging.getLogger("pgserver").setLevel(logging.WARNING)  # it logs every pg_ctl command line at INFO

    stop_requested = False

    def request_stop(_signum, _frame):
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    pg_server = None
    stack = None
    try:
        postgres, pg_server = start_postgres()
        celery = args.executor == "celery"
        real_api = bool(os.environ.get("SOUNDCHARTS_API_KEY"))
        stack = NativeStack(
            workdir=VAR,
            postgres=postgres,
            executor="CeleryExecutor" if celery else "LocalExecutor",
            broker_url=args.redis_url if celery else None,
            api_port=args.port,
            celery_workers=args.workers if celery else 0,
            simulator_port=None if real_api else 8765,
            # Alert emails go to a local sink unless a real SMTP server is configured.
            smtp_sink_port=None if os.environ.get("SMTP_HOST") else 8025,
        )
        if real_api:
            log.info(
                "SOUNDCHARTS_API_KEY is set: using %s", os.environ.get("SOUNDCHARTS_BASE_URL", "(unset!)")
            )
        stack.start_simulator()
        stack.start_smtp_sink()
        stack.prepare()
        stack.start_airflow()
        stack.wait_healthy()
        print(
            f"\n  MusicCharts is running ({stack.executor}).\n"
            f"  Airflow UI:  {stack.api_url}\n"
            f"  Login:       admin / {stack.admin_password()}\n"
            f"  Product DB:  {stack.product_url}\n"
            f"  Logs:        {stack.logs}/   CLI: source {stack.airflow_home}/env.sh\n"
            f"  Alert mail:  {VAR / 'mail'}/ (one .eml file per message, from the local SMTP sink)\n"
            "  Chart DAGs are unpaused and catching up. Press Ctrl-C to stop.\n",
            flush=True,
        )
        while not stop_requested:
            stack.group.check_alive()
            time.sleep(1)
        return 0
    except StackError as error:
        log.error("%s", error)
        return 1
    finally:
        log.info("stopping ...")
        if stack is not None:
            stack.stop()
        if pg_server is not None:
            pg_server.cleanup()
        log.info("stopped; data kept in %s", VAR)


if __name__ == "__main__":
    sys.exit(main())
