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
    dsn = make_conninfo(**parts)
    ensure_same_data_source(dsn)
    return dsn


def ensure_same_data_source(dsn: str, soundcharts_conn_id: str = "soundcharts_default") -> None:
    """Fail the task if the Soundcharts connection points at the other kind of source (real API vs
    simulator) than the one whose data this product database holds; records it on the first sync."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException

    from musiccharts.db.data_source import DataSourceMismatch, ensure_same_source

    try:
        soundcharts = BaseHook.get_connection(soundcharts_conn_id)
    except AirflowNotFoundException:
        return  # no Soundcharts connection: nothing can be synced from it
    if not soundcharts.host:
        return
    try:
        ensure_same_source(dsn, soundcharts.host)
    except DataSourceMismatch as error:
        raise AirflowFailException(str(error)) from error
