"""The product database (connection ``musiccharts_db``), as a libpq DSN for ``musiccharts.db``."""

from __future__ import annotations

PRODUCT_DB_CONN_ID = "musiccharts_db"


def product_dsn(conn_id: str = PRODUCT_DB_CONN_ID) -> str:
    """Build a libpq DSN from the Airflow connection (host may be a Unix-socket directory)."""
    from airflow.sdk import BaseHook
    from psycopg.conninfo import make_conninfo

    connection = BaseHook.get_connection(conn_id)
    parts = {
        "host": connection.host or "127.0.0.1",
        "port": str(connection.port or 5432),
        "dbname": connection.schema or "musiccharts",
        "user": connection.login or "postgres",
        "application_name": "musiccharts-airflow",
    }
    if connection.password:
        parts["password"] = connection.password
    return make_conninfo(**parts)
