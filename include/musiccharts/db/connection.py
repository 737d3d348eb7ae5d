"""Connections to the product database from either a libpq DSN or a SQLAlchemy-style URL.

The same database is named in several spellings across runtimes: a libpq key/value DSN (tests, the Airflow
connection), a ``postgresql://`` URI (``MUSICCHARTS_DB_URL``) and SQLAlchemy URLs with a driver suffix
(``postgresql+psycopg2://``, as Airflow writes them). Everything here funnels them into one libpq DSN, and
:func:`product_db_session` is how task code opens a session: always with connection, statement, lock and
idle-transaction time bounds.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

# "postgresql+psycopg2://", "postgres+psycopg://", "postgresql://", "postgres://" (case-insensitive).
_URL_SCHEME = re.compile(r"^(?P<scheme>postgres(?:ql)?)(?:\+[A-Za-z0-9_]+)?://", re.IGNORECASE)


def to_libpq_dsn(url_or_dsn: str) -> str:
    """Return a libpq key/value DSN for a libpq DSN, a ``postgresql://`` URI or a SQLAlchemy URL.

    The driver suffix of SQLAlchemy URLs (``+psycopg2``, ``+psycopg``, ...) is dropped; libpq parses the rest
    itself, so socket directories (``?host=/run/postgresql``) and percent-encoded passwords keep working.
    Raises ``ValueError`` for anything libpq cannot parse (the message never repeats the password).
    """
    text = url_or_dsn.strip()
    match = _URL_SCHEME.match(text)
    if match:
        text = "postgresql://" + text[match.end() :]
    elif "://" in text:
        raise ValueError("not a PostgreSQL URL: the scheme must be postgresql:// or postgresql+<driver>://")
    try:
        return make_conninfo(**conninfo_to_dict(text))
    except psycopg.ProgrammingError as error:
        # libpq's message may quote the offending fragment; keep it out of logs in case it holds a password.
        raise ValueError("invalid PostgreSQL connection string") from error


def connect(dsn: str, **kwargs: object) -> psycopg.Connection:
    """Open a psycopg connection to ``dsn`` (any spelling accepted by :func:`to_libpq_dsn`).

    The connection is in the default non-autocommit mode: use it as a context manager
    (``with connect(dsn) as conn:``) to commit on success and roll back on error.
    """
    return psycopg.connect(to_libpq_dsn(dsn), **kwargs)


@dataclass(frozen=True)
class SessionTimeouts:
    """Time bounds of every product-database session, so a stuck peer or network can never hang a task.

    ``connect`` bounds opening the connection (libpq ``connect_timeout``); keepalives notice a dead peer
    within ``keepalive_idle + keepalive_interval * keepalive_count`` seconds; ``statement`` bounds one
    statement; ``lock`` bounds the wait for any lock, the per-chart advisory lock of the ranking loader
    included; ``idle_in_transaction`` ends a session that holds a transaction open without working.
    All in seconds; the ``MUSICCHARTS_DB_*`` environment variables override the defaults per deployment.
    """

    connect: int = 10
    statement: int = 600
    lock: int = 60
    idle_in_transaction: int = 300
    keepalive_idle: int = 30
    keepalive_interval: int = 10
    keepalive_count: int = 3

    @classmethod
    def from_environment(cls) -> SessionTimeouts:
        defaults = cls()
        values = {}
        for name in ("connect", "statement", "lock", "idle_in_transaction"):
            text = os.environ.get(f"MUSICCHARTS_DB_{name.upper()}_TIMEOUT_SECONDS")
            if text:
                try:
                    values[name] = int(text)
                except ValueError:
                    raise ValueError(
                        f"MUSICCHARTS_DB_{name.upper()}_TIMEOUT_SECONDS must be whole seconds, got {text!r}"
                    ) from None
        return replace(defaults, **values)

    def connect_options(self) -> dict[str, object]:
        """libpq parameters: connection and keepalive bounds, plus the server-side timeouts as options."""
        server = {
            "statement_timeout": f"{self.statement}s",
            "lock_timeout": f"{self.lock}s",
            "idle_in_transaction_session_timeout": f"{self.idle_in_transaction}s",
        }
        return {
            "connect_timeout": self.connect,
            "keepalives": 1,
            "keepalives_idle": self.keepalive_idle,
            "keepalives_interval": self.keepalive_interval,
            "keepalives_count": self.keepalive_count,
            "options": " ".join(f"-c {name}={value}" for name, value in server.items()),
        }


def product_db_session(
    dsn: str, timeouts: SessionTimeouts | None = None, **kwargs: object
) -> psycopg.Connection:
    """The one way task code opens the product database: :func:`connect` with :class:`SessionTimeouts`.

    Use it as a context manager (commit on success, rollback on error). ``timeouts`` defaults to
    :meth:`SessionTimeouts.from_environment`.
    """
    options = (timeouts or SessionTimeouts.from_environment()).connect_options()
    options.update(kwargs)
    return connect(dsn, **options)
