"""Connections to the product database from either a libpq DSN or a SQLAlchemy-style URL.

The same database is named in several spellings across runtimes: a libpq key/value DSN (tests, the Airflow
connection), a ``postgresql://`` URI (``MUSICCHARTS_DB_URL``) and SQLAlchemy URLs with a driver suffix
(``postgresql+psycopg2://``, as Airflow writes them). Everything here funnels them into one libpq DSN.
"""

from __future__ import annotations

import re

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
