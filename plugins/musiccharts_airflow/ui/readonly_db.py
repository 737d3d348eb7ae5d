"""Read-only access to the product database for the UI app, from a small connection pool.

Every request runs in one ``READ ONLY`` transaction (PostgreSQL refuses any write in it, whatever the SQL),
with a statement timeout so that a slow page cannot hold the database. Connections are pooled because the
api-server answers many small requests: opening a PostgreSQL connection costs more than most queries here.
The DSN comes from the Airflow connection ``musiccharts_db`` (or ``MUSICCHARTS_DB_URL``), resolved on first
use: the api-server imports plugins at start-up, when no I/O should happen.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, cast

import psycopg
from fastapi import Depends, Request
from psycopg.rows import dict_row
from sqlalchemy.pool import QueuePool

PRODUCT_DB_CONN_ID = "musiccharts_db"
DSN_ENV_VAR = "MUSICCHARTS_DB_URL"
STATEMENT_TIMEOUT_MS = 10_000
POOL_SIZE = 4
POOL_OVERFLOW = 4


class ProductDatabaseUnavailable(RuntimeError):
    """The product database is not configured or cannot be reached."""


def product_dsn_from_airflow() -> str:
    """The libpq DSN of the product database, as the api-server sees it.

    ``MUSICCHARTS_DB_URL`` wins when set (the native stack and compose export it); otherwise the Airflow
    connection ``musiccharts_db`` is read through the api-server's own secrets backends.
    """
    from musiccharts.db.connection import to_libpq_dsn

    explicit = os.environ.get(DSN_ENV_VAR)
    if explicit:
        return to_libpq_dsn(explicit)
    from airflow.models.connection import Connection
    from psycopg.conninfo import make_conninfo

    try:
        connection = Connection.get_connection_from_secrets(PRODUCT_DB_CONN_ID)
    except Exception as error:  # AirflowNotFoundException and backend errors alike
        raise ProductDatabaseUnavailable(
            f"the Airflow connection {PRODUCT_DB_CONN_ID!r} is not defined and {DSN_ENV_VAR} is not set"
        ) from error
    parts = {
        "host": connection.host or "127.0.0.1",
        "port": str(connection.port or 5432),
        "dbname": connection.schema or "musiccharts",
        "user": connection.login or "postgres",
        "application_name": "musiccharts-ui",
    }
    if connection.password:
        parts["password"] = connection.password
    return make_conninfo(**parts)


class ReadOnlyProductDatabase:
    """A pool of read-only connections; ``with db.cursor() as cur`` is one read-only transaction."""

    def __init__(self, dsn: str | None = None) -> None:
        self._dsn = dsn
        self._pool: QueuePool | None = None
        self._lock = threading.Lock()

    def _connect(self) -> psycopg.Connection:
        if self._dsn is None:
            self._dsn = product_dsn_from_airflow()
        connection = psycopg.connect(
            self._dsn,
            options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS} -c default_transaction_read_only=on",
            connect_timeout=5,
        )
        # Set outside any transaction: every transaction of this connection starts as BEGIN READ ONLY.
        connection.read_only = True
        return connection

    def _get_pool(self) -> QueuePool:
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    if self._dsn is None:
                        self._dsn = product_dsn_from_airflow()
                    creator: Callable[[], Any] = self._connect
                    self._pool = QueuePool(
                        creator,
                        pool_size=POOL_SIZE,
                        max_overflow=POOL_OVERFLOW,
                        timeout=10,
                        reset_on_return="rollback",
                    )
        return self._pool

    @contextmanager
    def cursor(self) -> Iterator[psycopg.Cursor[dict[str, Any]]]:
        try:
            pooled = self._get_pool().connect()
        except psycopg.OperationalError as error:
            raise ProductDatabaseUnavailable("the product database cannot be reached") from error
        try:
            connection = cast(psycopg.Connection, pooled.driver_connection)
            with connection.transaction(), connection.cursor(row_factory=dict_row) as cursor:
                yield cursor
        except psycopg.OperationalError:
            pooled.invalidate()  # a broken connection must not go back to the pool
            raise
        finally:
            pooled.close()

    def dispose(self) -> None:
        if self._pool is not None:
            self._pool.dispose()
            self._pool = None


def _product_db(request: Request) -> ReadOnlyProductDatabase:
    return request.app.state.product_db


ProductDbDep = Annotated[ReadOnlyProductDatabase, Depends(_product_db)]
