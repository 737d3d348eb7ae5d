"""Retention: product audit data, Airflow's metadata (``airflow db clean``) and task log files.

Product pruning works in bounded batches, each its own short transaction with a ``lock_timeout``: a batch
locks at most ``batch_size`` rows (``FOR UPDATE SKIP LOCKED``: rows a loader holds are left for the next
run), never the table, so loads keep running beside it. A rule either deletes whole rows or clears one
payload column (to NULL, or to the column's default when it is NOT NULL) and keeps the business row.

Every function returns what it removed (or, with ``dry_run``, what it would remove).
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

from musiccharts.db.connection import connect
from musiccharts.maintenance._db import one
from musiccharts.maintenance.config import PruneRule

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PruneReport:
    table: str
    target: str  # "rows" or "column <name>"
    cutoff: str
    affected: int
    batches: int
    dry_run: bool


def _column_reset(conn: psycopg.Connection, table: str, column: str) -> tuple[sql.Composable, sql.Composable]:
    """(SET value, "still holds data" condition) for clearing ``column``: NULL, or its default if NOT NULL."""
    row = conn.execute(
        """
        SELECT a.attnotnull, pg_get_expr(d.adbin, d.adrelid)
        FROM pg_attribute a
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = to_regclass(%s) AND a.attname = %s AND NOT a.attisdropped
        """,
        (table, column),
    ).fetchone()
    if row is None:
        raise ValueError(f"retention rule: table {table} has no column {column}")
    not_null, default = row
    ident = sql.Identifier(column)
    if not not_null:
        return sql.SQL("NULL"), sql.SQL("{} IS NOT NULL").format(ident)
    if default is None:
        raise ValueError(
            f"retention rule: {table}.{column} is NOT NULL without a default, it cannot be cleared"
        )
    # The default expression comes from the catalog (e.g. '[]'::jsonb), not from user input.
    return sql.SQL("DEFAULT"), sql.SQL("{} IS DISTINCT FROM ({})").format(ident, sql.SQL(default))


def _check_columns(conn: psycopg.Connection, rule: PruneRule) -> None:
    found = {
        name
        for (name,) in conn.execute(
            "SELECT attname FROM pg_attribute "
            "WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped",
            (rule.table,),
        )
    }
    if not found:
        raise ValueError(f"retention rule: no table {rule.table}")
    if rule.age_column not in found:
        raise ValueError(f"retention rule: table {rule.table} has no column {rule.age_column}")


def prune(
    dsn: str,
    rule: PruneRule,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    lock_timeout_seconds: float = 5,
) -> PruneReport:
    """Apply one rule: delete (or clear the payload of) rows whose ``age_column`` is older than the cutoff."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=rule.days)
    table, age = sql.Identifier(rule.table), sql.Identifier(rule.age_column)
    with connect(dsn) as conn:
        _check_columns(conn, rule)
        condition = sql.SQL("{} < %(cutoff)s").format(age)
        if rule.clear_column:
            value, holds_data = _column_reset(conn, rule.table, rule.clear_column)
            condition = sql.SQL("{} AND {}").format(condition, holds_data)
    target = f"column {rule.clear_column}" if rule.clear_column else "rows"
    if dry_run:
        with connect(dsn) as conn:
            count = one(
                conn, sql.SQL("SELECT count(*) FROM {} WHERE {}").format(table, condition), {"cutoff": cutoff}
            )[0]
        return PruneReport(rule.table, target, cutoff.isoformat(), count, 0, True)

    batch = sql.SQL("SELECT ctid FROM {} WHERE {} LIMIT %(limit)s FOR UPDATE SKIP LOCKED").format(
        table, condition
    )
    if rule.clear_column:
        statement = sql.SQL("UPDATE {} SET {} = {} WHERE ctid = ANY(ARRAY({}))").format(
            table, sql.Identifier(rule.clear_column), value, batch
        )
    else:
        statement = sql.SQL("DELETE FROM {} WHERE ctid = ANY(ARRAY({}))").format(table, batch)
    affected = batches = 0
    with connect(dsn, autocommit=True) as conn:
        while True:
            with conn.transaction():
                conn.execute(
                    sql.SQL("SET LOCAL lock_timeout = {}").format(
                        sql.Literal(f"{int(lock_timeout_seconds * 1000)}ms")
                    )
                )
                count = conn.execute(statement, {"cutoff": cutoff, "limit": rule.batch_size}).rowcount
            batches += 1
            affected += count
            if count < rule.batch_size:
                break
    log.info("retention %s %s older than %s: %d in %d batches", rule.table, target, cutoff, affected, batches)
    return PruneReport(rule.table, target, cutoff.isoformat(), affected, batches, False)


# --- task logs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogCleanupReport:
    folder: str
    cutoff: str
    files: int
    bytes: int
    directories: int
    dry_run: bool
    examples: tuple[str, ...] = ()


def clean_task_logs(
    folder: Path, days: int, *, now: datetime | None = None, dry_run: bool = False
) -> LogCleanupReport:
    """Delete files under ``folder`` last modified more than ``days`` ago, then the directories left empty."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    limit = cutoff.timestamp()
    files = size = directories = 0
    examples: list[str] = []
    if folder.is_dir():
        for directory, _subdirs, names in os.walk(folder, topdown=False):
            for name in names:
                path = Path(directory) / name
                try:
                    stat = path.lstat()
                except FileNotFoundError:
                    continue
                if stat.st_mtime >= limit:
                    continue
                files += 1
                size += stat.st_size
                if len(examples) < 5:
                    examples.append(str(path.relative_to(folder)))
                if not dry_run:
                    path.unlink(missing_ok=True)
            current = Path(directory)
            if current != folder and not dry_run:
                try:
                    current.rmdir()  # only succeeds when empty
                    directories += 1
                except OSError:
                    pass
    return LogCleanupReport(
        str(folder), cutoff.isoformat(), files, size, directories, dry_run, tuple(examples)
    )


# --- airflow db clean --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DbCleanReport:
    cutoff: str
    dry_run: bool
    tables: dict[str, int]
    output_tail: str


def airflow_db_clean(
    metadata_url: str, days: int, *, now: datetime | None = None, dry_run: bool = False, timeout: float = 1800
) -> DbCleanReport:
    """``airflow db clean`` of rows older than ``days`` (no archive tables kept), then ``db drop-archived``.

    Runs the Airflow CLI in a subprocess with ``metadata_url``: inside a task the supervisor hides the
    metadata database (``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`` is replaced), so the URL comes from a
    connection and is given to the child process explicitly.
    """
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    env = {**os.environ, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url}
    command = [sys.executable, "-m", "airflow", "db", "clean", "--clean-before-timestamp", cutoff.isoformat()]
    command += ["--skip-archive", "--yes", "--verbose"] + (["--dry-run"] if dry_run else [])
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise RuntimeError(f"airflow db clean failed (exit {result.returncode}): {output.strip()[-1500:]}")
    if not dry_run:
        drop = subprocess.run(
            [sys.executable, "-m", "airflow", "db", "drop-archived", "--yes"],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if drop.returncode != 0:
            raise RuntimeError(
                f"airflow db drop-archived failed: {(drop.stdout + drop.stderr).strip()[-1500:]}"
            )
    return DbCleanReport(cutoff.isoformat(), dry_run, _rows_per_table(output), output.strip()[-3000:])


def _rows_per_table(output: str) -> dict[str, int]:
    """Rows per table from the CLI lines ``Checking table X`` and ``Found N rows meeting deletion ...``."""
    tables: dict[str, int] = {}
    current = None
    for line in output.splitlines():
        if match := re.search(r"Checking table (\w+)", line):
            current = match[1]
        elif (match := re.search(r"Found (\d+) rows meeting deletion criteria", line)) and current:
            tables[current] = int(match[1])
    return tables
