"""``make run``: the whole product on one machine with embedded defaults, supervised.

Starts (or reuses) PostgreSQL, a private Redis (the shared rate limiter, and the broker with
EXECUTOR=celery), the Soundcharts simulator unless real credentials are configured, migrates both
databases, applies ``airflow_settings.yaml`` and runs the Airflow components until Ctrl-C. A component that
exits is restarted with backoff (its children are killed with it); one that exits 5 times within 2 minutes
stops the stack with a message naming it and its log. Data lives in ``var/`` (created private: umask 077)
and survives restarts.

Environment knobs (all optional):
  MUSICCHARTS_DATABASE_URL   server URL, e.g. postgresql://user:pw@host:5432 (default: private pgserver)
  EXECUTOR                   local (default) or celery
  REDIS_URL                  a Redis to use instead of the private one (broker and rate limiter)
  CELERY_WORKERS             number of Celery workers for EXECUTOR=celery (default 1)
  SOUNDCHARTS_API_KEY        with SOUNDCHARTS_APP_ID and SOUNDCHARTS_BASE_URL: use the real API
  AIRFLOW_PORT               api-server port (default 8080)
  SOUNDCHARTS_SIMULATOR_PORT simulator port (default 8765)
  SOUNDCHARTS_SIMULATOR_ARGS extra simulator options, e.g. "--rate-limit-per-minute 60"
  AIRFLOW__CORE__PARALLELISM, AIRFLOW__CELERY__WORKER_CONCURRENCY, AIRFLOW__API__WORKERS
                             process counts (default: sized for this machine's cores)
  SMTP_HOST                  real SMTP server for alert emails (default: a local sink on 127.0.0.1:8025
                             storing every message in var/mail/)
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import signal
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from musiccharts_stack.env import REPO_ROOT
from musiccharts_stack.native import HEALTH_COMPONENTS, NativeStack, PostgresParts
from musiccharts_stack.processes import StackError, airflow_healthy

if TYPE_CHECKING:
    from musiccharts_stack.private_services import PrivatePostgres

log = logging.getLogger("musiccharts.run")
VAR = Path(os.environ.get("MUSICCHARTS_VAR_DIR") or REPO_ROOT / "var")
SIMULATOR_PORT = int(os.environ.get("SOUNDCHARTS_SIMULATOR_PORT") or 8765)


def display(value: object) -> str:
    """``value`` with this checkout's absolute path made relative, so output names no machine path."""
    text = str(value)
    for root in (str(Path.cwd()), str(REPO_ROOT)):
        text = text.replace(root + os.sep, "").replace(root, ".")
    return text


@dataclass(frozen=True)
class SoundchartsSource:
    """Where the chart data comes from: the real API (credentials given) or the bundled simulator."""

    real: bool
    base_url: str | None

    @classmethod
    def from_environment(cls, environ) -> SoundchartsSource:
        """Real only when all three settings are given; a partial set is an error, never a fallback to the
        sandbox credentials or the simulator (which would mix simulated rows into real data)."""
        from musiccharts.db.data_source import IncompleteSettings, real_api_configured

        try:
            real = real_api_configured(environ)
        except IncompleteSettings as error:
            raise StackError(str(error)) from None
        return cls(real=real, base_url=environ["SOUNDCHARTS_BASE_URL"] if real else None)


def start_postgres(var: Path = VAR) -> tuple[PostgresParts, PrivatePostgres | None]:
    """The server to use: a private PostgreSQL 16 (pgserver, in var/pgdata) unless one is given.

    Returns its connection parts and the private server (None for a given server).
    """
    url = os.environ.get("MUSICCHARTS_DATABASE_URL")
    if url:
        return PostgresParts.from_url(url), None
    from musiccharts_stack.private_services import PrivatePostgres

    server = PrivatePostgres(var / "pgdata")
    log.info("private PostgreSQL 16 running in %s", display(var / "pgdata"))
    return server.parts, server


def main(argv: list[str] | None = None) -> int:
    # Everything this process and its components create (secrets, logs, databases) is private to the user.
    os.umask(0o077)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--executor", choices=["local", "celery"], default=os.environ.get("EXECUTOR", "local")
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("AIRFLOW_PORT", "8080")))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("CELERY_WORKERS", "1")))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("pgserver").setLevel(logging.WARNING)  # it logs every pg_ctl command line at INFO
    # platformdirs (via pgserver) warns about a missing XDG_RUNTIME_DIR on headless machines; harmless.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

    stop_requested = False

    def request_stop(_signum, _frame):
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    pg_server = None
    stack = None
    try:
        source = SoundchartsSource.from_environment(os.environ)
        VAR.mkdir(mode=0o700, parents=True, exist_ok=True)
        postgres, pg_server = start_postgres(VAR)
        celery = args.executor == "celery"
        stack = NativeStack(
            workdir=VAR,
            postgres=postgres,
            executor="CeleryExecutor" if celery else "LocalExecutor",
            api_port=args.port,
            celery_workers=args.workers if celery else 0,
            simulator_port=None if source.real else SIMULATOR_PORT,
            simulator_args=shlex.split(os.environ.get("SOUNDCHARTS_SIMULATOR_ARGS", "")),
            # Alert emails go to a local sink unless a real SMTP server is configured.
            smtp_sink_port=None if os.environ.get("SMTP_HOST") else 8025,
        )
        redis_url = args.redis_url or start_private_redis(stack)
        stack.broker_url = redis_url if celery else None
        # One limiter for every task process: the Redis limiter, in its own logical database.
        stack.extra_env.setdefault("MUSICCHARTS_RATE_LIMIT_REDIS_URL", redis_url.rsplit("/", 1)[0] + "/1")
        if source.real:
            log.info("real Soundcharts API: %s", source.base_url)
        stack.start_simulator()
        stack.start_smtp_sink()
        stack.prepare()
        stack.start_airflow()
        # A slow or busy machine may need minutes; components that exit meanwhile are restarted.
        stack.wait_healthy(timeout=900, supervise=True)
        print_banner(stack, source)
        supervise(stack, pg_server, lambda: stop_requested)
        return 0
    except StackError as error:
        log.error("%s", display(error))
        return 1
    finally:
        log.info("stopping ...")
        if stack is not None:
            stack.stop()
        if pg_server is not None:
            pg_server.stop()
        log.info("stopped; data kept in %s", display(VAR))


def start_private_redis(stack: NativeStack) -> str:
    from musiccharts_stack.private_services import PrivateRedis, free_port

    redis = PrivateRedis(VAR / "redis", port=int(os.environ.get("MUSICCHARTS_REDIS_PORT") or free_port()))
    stack.group.start(redis.managed_process())
    from musiccharts_stack.processes import wait_until

    wait_until(redis_ping(redis.url()), timeout=30, what="the private Redis", interval=0.2)
    log.info("private Redis on 127.0.0.1:%d (rate limiter%s)", redis.port,
             ", Celery broker" if stack.celery_workers else "")  # fmt: skip
    return redis.url(0)


def redis_ping(url: str):
    def ping() -> bool:
        import redis

        return bool(redis.Redis.from_url(url, socket_timeout=2).ping())

    return ping


def print_banner(stack: NativeStack, source: SoundchartsSource) -> None:
    if stack.new_admin_password:
        login = f"admin / {stack.new_admin_password}   (shown once; kept in {display(stack.passwords_file)})"
    else:
        login = f"admin (password in {display(stack.passwords_file)})"
    data = f"real Soundcharts API at {source.base_url}" if source.real else "Soundcharts simulator"
    print(
        f"\n  MusicCharts is running ({stack.executor}, {data}).\n"
        f"  Airflow UI:  {stack.api_url}\n"
        f"  Login:       {login}\n"
        f"  Product DB:  {display(stack.product_url_masked)}\n"
        f"  Logs:        {display(stack.logs)}/   CLI: source {display(stack.airflow_home)}/env.sh\n"
        + (
            f"  Alert mail:  {display(stack.workdir / 'mail')}/ (one .eml file a message, local SMTP sink)\n"
            if stack.smtp_sink_port
            else ""
        )
        + "  A component that exits is restarted; Ctrl-C stops everything.\n",
        flush=True,
    )


def supervise(stack: NativeStack, pg_server, stop_requested) -> None:
    """Restart what exits until Ctrl-C; tell the user when everything is healthy again after a restart."""
    recovering: set[str] = set()
    stable_since = 0.0
    next_database_attempt = 0.0
    while not stop_requested():
        now = time.monotonic()
        if pg_server is not None and now >= next_database_attempt and not pg_server.accepting():
            next_database_attempt = now + 5
            try:
                pg_server.ensure_running()
            except Exception as error:  # e.g. the old server's processes are still exiting: retry
                log.warning("private PostgreSQL did not start yet (%s); retrying", error)
        restarted = stack.group.supervise()
        if restarted or stack.group.restarting:
            recovering.update(restarted or stack.group.restarting)
            stable_since = now
        # Report once the restarted components have stayed up for a few seconds and health is green.
        if recovering and now - stable_since >= 10 and _healthy(stack):
            names = ", ".join(sorted(recovering))
            if "api-server" in recovering:
                log.info("%s running again: the UI is back at %s", names, stack.api_url)
            else:
                log.info("%s running again; all components healthy (UI at %s)", names, stack.api_url)
            recovering.clear()
        time.sleep(1)


def _healthy(stack: NativeStack) -> bool:
    try:
        return airflow_healthy(stack.api_url, HEALTH_COMPONENTS)
    except Exception:
        return False


if __name__ == "__main__":
    sys.exit(main())
