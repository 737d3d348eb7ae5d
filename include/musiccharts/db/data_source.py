"""Which Soundcharts a product database holds data from: the real API or a simulator, never both.

A simulator serves plausible but invented charts. Rows from it must never reach a database that holds real
data (nor the other way round), because nothing downstream could tell them apart. The product database
therefore records its data source once (at its first migration when the source is known then, else at its
first sync), and every sync checks that it comes from the same kind of source, refusing with a message that
names both.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit

import psycopg

from musiccharts.db.connection import connect

REAL = "real"
SIMULATOR = "simulator"
#: Hosts of the real Soundcharts API (production and sandbox) end with this domain.
REAL_API_DOMAIN = "soundcharts.com"
BASE_URL_ENV = "SOUNDCHARTS_BASE_URL"


class DataSourceMismatch(RuntimeError):
    """A sync from one kind of source into a product database that holds data from the other kind."""


@dataclass(frozen=True)
class DataSource:
    kind: str  # REAL or SIMULATOR
    host: str

    @classmethod
    def of_base_url(cls, base_url: str) -> DataSource:
        """The source behind a Soundcharts base URL: the real API on its own domain, else a simulator."""
        text = base_url.strip()
        host = (urlsplit(text if "://" in text else f"https://{text}").hostname or "").lower()
        if not host:
            raise ValueError(f"not a Soundcharts base URL: {base_url!r}")
        real = host == REAL_API_DOMAIN or host.endswith("." + REAL_API_DOMAIN)
        return cls(REAL if real else SIMULATOR, host)

    def describe(self) -> str:
        what = "the real Soundcharts API" if self.kind == REAL else "a Soundcharts simulator"
        return f"{what} ({self.host})"


def recorded_source(conn: psycopg.Connection) -> DataSource | None:
    row = conn.execute("SELECT kind, host FROM data_source WHERE id = 1").fetchone()
    return DataSource(*row) if row else None


def record_source(conn: psycopg.Connection, source: DataSource) -> DataSource:
    """Record ``source`` if nothing is recorded yet; return what is recorded (first writer wins)."""
    conn.execute(
        "INSERT INTO data_source (id, kind, host) VALUES (1, %s, %s) ON CONFLICT (id) DO NOTHING",
        (source.kind, source.host),
    )
    recorded = recorded_source(conn)
    if recorded is None:  # the row was just written or already there: only a concurrent DELETE gets here
        raise RuntimeError("data_source row vanished while being recorded")
    return recorded


def ensure_same_source(dsn: str, base_url: str) -> DataSource:
    """Refuse (:class:`DataSourceMismatch`) a sync from ``base_url`` into a database of the other kind.

    Records the source on the first sync into a database that has none yet; returns the recorded one.
    """
    incoming = DataSource.of_base_url(base_url)
    with connect(dsn) as conn:
        recorded = record_source(conn, incoming)
    if recorded.kind != incoming.kind:
        raise DataSourceMismatch(
            f"refusing to sync from {incoming.describe()} into a product database that holds data from "
            f"{recorded.describe()}: simulated and real data must never mix. Use a separate product "
            "database (and Airflow connection musiccharts_db) for each kind of source."
        )
    return recorded


def source_from_environment() -> DataSource | None:
    """The source configured for this deployment (``SOUNDCHARTS_BASE_URL``), if any."""
    base_url = os.environ.get(BASE_URL_ENV)
    return DataSource.of_base_url(base_url) if base_url else None


REAL_SETTINGS = ("SOUNDCHARTS_API_KEY", "SOUNDCHARTS_APP_ID", "SOUNDCHARTS_BASE_URL")


class IncompleteSettings(ValueError):
    """Some but not all settings of the real Soundcharts API are given."""


def real_api_configured(environ) -> bool:
    """True when the real API is configured: all of :data:`REAL_SETTINGS` given, none means no.

    A partial set is an error, never a silent fallback to the sandbox credentials or the simulator (which
    would put simulated rows where real ones are expected). The message names what is missing, never a
    value.
    """
    given = [name for name in REAL_SETTINGS if environ.get(name)]
    base_url = environ.get(BASE_URL_ENV)
    # A base URL alone names a simulator, unless it is the real API's host.
    if given == [BASE_URL_ENV] and DataSource.of_base_url(base_url).kind != REAL:
        return False
    if not given:
        return False
    missing = [name for name in REAL_SETTINGS if name not in given]
    if missing:
        raise IncompleteSettings(
            f"{', '.join(given)} set but {', '.join(missing)} missing: the real Soundcharts API needs all of "
            f"{', '.join(REAL_SETTINGS)}. Set the missing ones, or unset them all to use the simulator."
        )
    if DataSource.of_base_url(environ["SOUNDCHARTS_BASE_URL"]).kind != REAL:
        raise IncompleteSettings(
            "SOUNDCHARTS_API_KEY is set but SOUNDCHARTS_BASE_URL is not a Soundcharts host "
            f"(*.{REAL_API_DOMAIN}): real credentials are never sent to a simulator."
        )
    return True


def _reachable(base_url: str, timeout: float) -> bool:
    import socket
    import time

    parts = urlsplit(base_url)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((parts.hostname, parts.port or 80), timeout=5):
                return True
        except OSError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(2)


def check_deployment(environ, wait_seconds: float = 60.0) -> str:
    """Start-up check of a deployment: the real API fully configured, or a simulator actually running.

    Returns a one-line description; raises :class:`IncompleteSettings` with what to do otherwise.
    """
    if real_api_configured(environ):
        return f"data source: {DataSource.of_base_url(environ['SOUNDCHARTS_BASE_URL']).describe()}"
    base_url = environ.get(BASE_URL_ENV) or ""
    if not base_url or not _reachable(base_url, wait_seconds):
        raise IncompleteSettings(
            "no Soundcharts credentials and no simulator running: set SOUNDCHARTS_API_KEY, "
            "SOUNDCHARTS_APP_ID and SOUNDCHARTS_BASE_URL in .env for the real API, or start the simulator "
            "explicitly with `docker compose --profile simulator up` (or COMPOSE_PROFILES=simulator in "
            ".env) for simulated data."
        )
    return f"data source: {DataSource.of_base_url(base_url).describe()} (no credentials given)"


if __name__ == "__main__":
    import sys

    try:
        print(check_deployment(os.environ))
    except IncompleteSettings as error:
        print(f"refusing to start: {error}", file=sys.stderr)
        sys.exit(2)
