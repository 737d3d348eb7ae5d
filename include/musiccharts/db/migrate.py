"""Versioned schema migrations of the product database (Alembic, run programmatically; no alembic.ini).

    python -m musiccharts.db.migrate upgrade [--dsn DSN]     # default DSN: $MUSICCHARTS_DB_URL
    python -m musiccharts.db.migrate current [--dsn DSN]

``make run``, the compose init service and the tests all call :func:`upgrade`; it is idempotent and safe to
run from several processes at once (a PostgreSQL advisory lock serialises them).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import psycopg
from psycopg import sql

from musiccharts.db.connection import connect, to_libpq_dsn

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version"
DSN_ENV_VAR = "MUSICCHARTS_DB_URL"
# Arbitrary but fixed key of the advisory lock held while migrating ("mcmigr" in ASCII-ish).
_MIGRATION_LOCK_KEY = 0x6D636D6967

log = logging.getLogger(__name__)


def _engine(dsn: str):
    """A SQLAlchemy engine on the psycopg 3 driver that connects with the exact libpq DSN given."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    libpq_dsn = to_libpq_dsn(dsn)
    # The creator hands libpq the DSN untouched (socket directories, options): no URL round trip.
    return create_engine(
        "postgresql+psycopg://", creator=lambda: psycopg.connect(libpq_dsn), poolclass=NullPool
    )


def _alembic_config(connection=None):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("version_table", VERSION_TABLE)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(dsn: str, revision: str = "head") -> str | None:
    """Migrate the database at ``dsn`` to ``revision`` (default: the newest); return the revision reached.

    Idempotent: at head already, nothing changes. All pending revisions run in one transaction, so a failing
    migration leaves the schema as it was.
    """
    from alembic import command
    from sqlalchemy import text

    engine = _engine(dsn)
    try:
        with engine.begin() as connection:
            # Two starters (compose init + a scheduler, parallel test sessions) must not both migrate.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
            command.upgrade(_alembic_config(connection), revision)
    finally:
        engine.dispose()
    reached = current_revision(dsn)
    log.info("product database at revision %s", reached)
    return reached


def downgrade(dsn: str, revision: str) -> str | None:
    """Migrate the database at ``dsn`` back to ``revision``, in one transaction; return the revision reached.

    For an operator undoing a release and for the migration tests: every downgrade must restore its schema.
    """
    from alembic import command
    from sqlalchemy import text

    engine = _engine(dsn)
    try:
        with engine.begin() as connection:
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
            command.downgrade(_alembic_config(connection), revision)
    finally:
        engine.dispose()
    reached = current_revision(dsn)
    log.info("product database at revision %s", reached)
    return reached


def current_revision(dsn: str) -> str | None:
    """The revision the database is at, or None when it has never been migrated."""
    from alembic.runtime.migration import MigrationContext

    engine = _engine(dsn)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    """The newest revision in ``migrations/versions`` (what :func:`upgrade` migrates to)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def data_tables(conn: psycopg.Connection) -> list[str]:
    """Every table of the current schema except Alembic's version table, sorted."""
    rows = conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> %s"
        " ORDER BY tablename",
        (VERSION_TABLE,),
    ).fetchall()
    return [row[0] for row in rows]


def truncate_all(dsn: str) -> list[str]:
    """Empty every data table (identities restarted), keep the schema and ``alembic_version``.

    Meant for tests and local resets; returns the tables emptied.
    """
    with connect(dsn) as conn:
        tables = data_tables(conn)
        if tables:
            conn.execute(
                sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(
                    sql.SQL(", ").join(sql.Identifier(table) for table in tables)
                )
            )
    return tables


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: ``upgrade`` or ``current``."""
    parser = argparse.ArgumentParser(
        prog="python -m musiccharts.db.migrate", description=__doc__.split("\n")[0]
    )
    parser.add_argument("command", choices=("upgrade", "current"))
    parser.add_argument(
        "--dsn",
        default=os.environ.get(DSN_ENV_VAR),
        help=f"libpq DSN or postgresql:// URL of the product database (default: ${DSN_ENV_VAR})",
    )
    parser.add_argument("--revision", default="head", help="target revision of `upgrade` (default: head)")
    args = parser.parse_args(argv)
    if not args.dsn:
        parser.error(f"no database given: pass --dsn or set {DSN_ENV_VAR}")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "upgrade":
        reached = upgrade(args.dsn, args.revision)
        print(f"product database at revision {reached}")
    else:
        print(current_revision(args.dsn) or "none")
    return 0


if __name__ == "__main__":
    sys.exit(main())
