"""Locate (or start) the Postgres and Redis servers the test session uses.

The machine's services on 127.0.0.1 are preferred (CI has them). Outside CI a missing Postgres is replaced
by a private one started from the ``pgserver`` wheel; under ``CI=true`` a missing service is an error, never
a silent skip.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass

import psycopg

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


class ServiceUnavailable(RuntimeError):
    """A service the tests need is not reachable and could not be started."""


def _port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass
class PostgresServer:
    """Admin DSN of a Postgres server plus helpers to make throwaway databases on it."""

    admin_dsn: str  # a DSN whose database is the maintenance db ("postgres")

    def dsn_for(self, dbname: str) -> str:
        info = psycopg.conninfo.conninfo_to_dict(self.admin_dsn)
        info["dbname"] = dbname
        return psycopg.conninfo.make_conninfo(**info)

    def sqlalchemy_url(self, dbname: str, driver: str = "psycopg2") -> str:
        info = psycopg.conninfo.conninfo_to_dict(self.admin_dsn)
        user = info.get("user", "postgres")
        host = info.get("host", "127.0.0.1")
        port = info.get("port", "5432")
        if host.startswith("/"):
            return f"postgresql+{driver}://{user}@/{dbname}?host={host}&port={port}"
        return f"postgresql+{driver}://{user}@{host}:{port}/{dbname}"

    def recreate_database(self, dbname: str) -> str:
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{dbname}"')
        return self.dsn_for(dbname)

    def drop_database(self, dbname: str) -> None:
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')

    def ensure_database(self, dbname: str) -> str:
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{dbname}"')
        return self.dsn_for(dbname)


def locate_postgres() -> PostgresServer:
    explicit = os.environ.get("MUSICCHARTS_TEST_PG_DSN")
    if explicit:
        return PostgresServer(explicit)
    if _port_open("127.0.0.1", 5432):
        for user in ("postgres", "root"):
            dsn = f"host=127.0.0.1 port=5432 user={user} dbname=postgres connect_timeout=5"
            try:
                psycopg.connect(dsn).close()
                return PostgresServer(dsn)
            except psycopg.OperationalError:
                continue
    if IN_CI:
        raise ServiceUnavailable(
            "CI=true and no PostgreSQL answers on 127.0.0.1:5432 (users postgres/root); refusing to skip"
        )
    from urllib.parse import parse_qs, urlsplit

    import pgserver  # only needed on machines without a Postgres

    datadir = os.path.join(tempfile.gettempdir(), "musiccharts-test-pg")
    server = pgserver.get_server(datadir, cleanup_mode=None)  # keeps running for later sessions
    socket_dir = parse_qs(urlsplit(server.get_uri()).query)["host"][0]
    return PostgresServer(f"host={socket_dir} user=postgres dbname=postgres")


def locate_redis() -> str:
    explicit = os.environ.get("MUSICCHARTS_TEST_REDIS_URL")
    if explicit:
        return explicit
    if _port_open("127.0.0.1", 6379):
        return "redis://127.0.0.1:6379/15"
    if IN_CI:
        raise ServiceUnavailable("CI=true and no Redis answers on 127.0.0.1:6379; refusing to skip")
    return start_private_redis()


def start_private_redis(port: int | None = None) -> str:
    """Start a throwaway redis-server (the binary must be on PATH) and return its URL."""
    binary = shutil.which("redis-server")
    if not binary:
        raise ServiceUnavailable("no Redis on 127.0.0.1:6379 and no redis-server binary to start one")
    port = port or free_port()
    subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 10
    while not _port_open("127.0.0.1", port):
        if time.monotonic() > deadline:
            raise ServiceUnavailable(f"private redis-server did not start on port {port}")
        time.sleep(0.1)
    return f"redis://127.0.0.1:{port}/0"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
