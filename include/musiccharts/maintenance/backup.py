"""Verified backups of the product database.

A backup counts only once it has been restored and compared:

1. one REPEATABLE READ transaction exports its snapshot; ``pg_dump -Fc --snapshot`` dumps exactly that
   state while the same transaction counts every table's rows and sums a hash of its natural key (so the
   reference figures and the dump describe the same instant, even under concurrent writes);
2. the dump is restored into a scratch database (``pg_restore --jobs``), the same figures are computed there
   and compared table by table; the scratch database is dropped whatever happens;
3. only then is the dump copied to its :class:`~airflow.sdk.ObjectStoragePath` location (mode 0600 when
   local), read back and hashed, and the manifest (size, sha256, durations, row counts and key checksums per
   table) written last: a dump without a manifest is not a backup.

Command line (``make backup`` / ``make restore``)::

    python -m musiccharts.maintenance.backup create  [--dsn DSN]
    python -m musiccharts.maintenance.backup list
    python -m musiccharts.maintenance.backup verify  [NAME ...]        # checksums of stored backups
    python -m musiccharts.maintenance.backup restore NAME|latest --target-db DB [--replace] [--dsn DSN]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from musiccharts.db.connection import connect, to_libpq_dsn
from musiccharts.maintenance._db import one
from musiccharts.maintenance.config import GenerationPolicy, backup_location, load_maintenance_config
from musiccharts.maintenance.pg_tools import PgTools, find_pg_tools

log = logging.getLogger(__name__)

DUMP_SUFFIX = ".dump"
MANIFEST_SUFFIX = ".manifest.json"
CHUNK = 4 * 1024 * 1024
PG_TIMEOUT_SECONDS = 6 * 3600


class BackupError(RuntimeError):
    """A backup could not be made, verified or restored; the message says which step and why."""


class BackupCorrupted(BackupError):
    """A stored backup does not match its manifest."""


@dataclass(frozen=True)
class TableStats:
    rows: int
    key_checksum: str  # the sum of 64-bit hashes of each row's natural key, as a decimal string


@dataclass
class Manifest:
    name: str
    created_at: str
    database: str
    server_version: str
    pg_dump_version: str
    size_bytes: int
    sha256: str
    dump_seconds: float
    verify_seconds: float
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    verified: bool = True

    @property
    def created(self) -> datetime:
        return datetime.fromisoformat(self.created_at)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        return cls(**json.loads(text))


# --- figures per table -------------------------------------------------------------------------------


def natural_keys(conn: psycopg.Connection) -> dict[str, list[str]]:
    """Each public table's natural key: its first UNIQUE constraint, else its primary key, else the row."""
    rows = conn.execute(
        """
        SELECT c.relname,
               con.contype,
               con.conname,
               (SELECT array_agg(a.attname ORDER BY k.ord)
                  FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
                  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum) AS columns
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_constraint con ON con.conrelid = c.oid AND con.contype IN ('u', 'p')
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
        ORDER BY c.relname, con.contype DESC, con.conname
        """
    ).fetchall()
    keys: dict[str, list[str]] = {}
    for table, _contype, _name, columns in rows:
        if table not in keys:
            keys[table] = list(columns) if columns else []  # 'u' sorts before 'p'; [] = whole row
    return keys


def table_stats(conn: psycopg.Connection, keys: dict[str, list[str]]) -> dict[str, TableStats]:
    """Row count and natural-key checksum of each table (order-independent: no sort needed).

    The key is hashed as a record (``hash_record_extended``, no text conversion: about 40% cheaper on a
    million rows); a key whose types have no hash support falls back to hashing its text form.
    """
    stats = {}
    for table, columns in sorted(keys.items()):
        row = sql.SQL("ROW({})").format(sql.SQL(", ").join(map(sql.Identifier, columns))) if columns else None
        candidates = [sql.SQL("hash_record_extended({}, 0)").format(row)] if row is not None else []
        candidates.append(
            sql.SQL("hashtextextended({}::text, 0)").format(row if row is not None else sql.SQL("t"))
        )
        for position, expression in enumerate(candidates):
            query = sql.SQL("SELECT count(*), coalesce(sum({}::numeric), 0) FROM {} AS t").format(
                expression, sql.Identifier(table)
            )
            try:
                with conn.transaction():  # a savepoint: the fallback runs in the same snapshot
                    rows, checksum = one(conn, query)
                break
            except psycopg.errors.UndefinedFunction:
                if position == len(candidates) - 1:
                    raise
        stats[table] = TableStats(int(rows), str(checksum))
    return stats


def compare_stats(expected: dict[str, TableStats], actual: dict[str, TableStats]) -> list[str]:
    """One line per difference; empty when both sides hold the same tables with the same figures."""
    problems = []
    for table in sorted(set(expected) | set(actual)):
        want, got = expected.get(table), actual.get(table)
        if want is None or got is None:
            problems.append(f"{table}: {'missing after restore' if got is None else 'not in the source'}")
        elif want.rows != got.rows:
            problems.append(f"{table}: {got.rows} rows restored, {want.rows} expected")
        elif want.key_checksum != got.key_checksum:
            problems.append(f"{table}: natural-key checksum differs ({want.rows} rows each)")
    return problems


# --- subprocesses ------------------------------------------------------------------------------------


def libpq_environment(dsn: str) -> dict[str, str]:
    """PG* variables for pg_dump/pg_restore, so that no password is ever on a command line."""
    parts = conninfo_to_dict(to_libpq_dsn(dsn))
    names = {
        "host": "PGHOST",
        "port": "PGPORT",
        "user": "PGUSER",
        "password": "PGPASSWORD",
        "dbname": "PGDATABASE",
    }
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    env.update({names[key]: str(value) for key, value in parts.items() if key in names and value})
    return env


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=PG_TIMEOUT_SECONDS)
    if result.returncode != 0:
        raise BackupError(f"{what} failed (exit {result.returncode}): {result.stderr.strip()[-2000:]}")


def database_name(dsn: str) -> str:
    return str(conninfo_to_dict(to_libpq_dsn(dsn)).get("dbname") or "postgres")


def with_database(dsn: str, dbname: str) -> str:
    parts: dict[str, Any] = conninfo_to_dict(to_libpq_dsn(dsn))
    parts["dbname"] = dbname
    return make_conninfo("", **parts)


def recreate_database(dsn: str, dbname: str) -> None:
    with connect(with_database(dsn, "postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(dbname)))


def drop_database(dsn: str, dbname: str) -> None:
    with connect(with_database(dsn, "postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))


def pg_restore(tools: PgTools, dump: Path, dsn: str, dbname: str, jobs: int) -> None:
    command = [str(tools.pg_restore), "--no-owner", "--no-privileges", "--exit-on-error"]
    command += [f"--jobs={jobs}", f"--dbname={dbname}", str(dump)]
    _run(command, libpq_environment(with_database(dsn, dbname)), "pg_restore")


def sha256_file(path: Any) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


# --- storage -----------------------------------------------------------------------------------------


def storage_root(location: str | None = None) -> Any:
    """The backup location as an ObjectStoragePath (the same code for a local folder and object storage)."""
    from airflow.sdk import ObjectStoragePath

    url = location or backup_location(load_maintenance_config().backup)
    root = ObjectStoragePath(url if "://" in url else f"file://{Path(url).resolve()}")
    if _is_local(root):
        Path(root.path).mkdir(parents=True, exist_ok=True, mode=0o700)
    else:
        root.mkdir(parents=True, exist_ok=True)
    return root


def _is_local(path: Any) -> bool:
    return getattr(path, "protocol", "file") in ("file", "local", "")


def _write_private(source: Path, target: Any) -> None:
    """Copy ``source`` to ``target``; a local target is created 0600 before any byte is written."""
    if _is_local(target):
        fd = os.open(target.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # O_CREAT's mode does not apply to an existing file
        with os.fdopen(fd, "wb") as out, source.open("rb") as handle:
            shutil.copyfileobj(handle, out, CHUNK)
        return
    with source.open("rb") as handle, target.open("wb") as out:
        shutil.copyfileobj(handle, out, CHUNK)


def _write_text_private(text: str, target: Any) -> None:
    with tempfile.NamedTemporaryFile("w", delete=False, suffix=".json") as handle:
        handle.write(text)
    try:
        _write_private(Path(handle.name), target)
    finally:
        os.unlink(handle.name)


def list_backups(root: Any) -> list[Manifest]:
    """Complete backups (those with a manifest), oldest first."""
    manifests = []
    for path in root.iterdir():
        if path.name.endswith(MANIFEST_SUFFIX):
            try:
                manifests.append(Manifest.from_json(path.read_text()))
            except (ValueError, TypeError) as error:
                log.warning("unreadable manifest %s: %s", path.name, error)
    return sorted(manifests, key=lambda manifest: manifest.created_at)


def find_backup(root: Any, name: str) -> Manifest:
    backups = list_backups(root)
    if not backups:
        raise BackupError(f"no backup in {root}")
    if name == "latest":
        return backups[-1]
    for manifest in backups:
        if manifest.name == name or manifest.name == name.removesuffix(DUMP_SUFFIX):
            return manifest
    raise BackupError(f"no backup named {name} in {root} (see `list`)")


# --- create ------------------------------------------------------------------------------------------


@dataclass
class _SnapshotFigures:
    stats: dict[str, TableStats] | None = None
    error: BaseException | None = None


def create_backup(dsn: str, root: Any, *, restore_jobs: int = 2, now: datetime | None = None) -> Manifest:
    """Dump, verify by restoring into a scratch database, store with a manifest; return the manifest.

    :raises BackupError: any step failed (nothing is stored then, and the scratch database is dropped).
    """
    tools = find_pg_tools(dsn)
    created = (now or datetime.now(UTC)).astimezone(UTC)
    dbname = database_name(dsn)
    name = f"{dbname}-{created:%Y%m%dT%H%M%SZ}"
    workdir = Path(tempfile.mkdtemp(prefix="musiccharts-backup-"))  # mode 0700
    local_dump = workdir / f"{name}{DUMP_SUFFIX}"
    try:
        started = time.monotonic()
        source_stats, server_version = _dump_with_figures(dsn, tools, local_dump)
        dump_seconds = time.monotonic() - started

        started = time.monotonic()
        digest, size = sha256_file(local_dump)
        scratch = f"{dbname[:30]}_verify_{created:%Y%m%d%H%M%S}_{os.getpid()}"
        try:
            recreate_database(dsn, scratch)
            pg_restore(tools, local_dump, dsn, scratch, restore_jobs)
            with connect(with_database(dsn, scratch)) as conn:
                restored_stats = table_stats(conn, natural_keys(conn))
        finally:
            drop_database(dsn, scratch)
        problems = compare_stats(source_stats, restored_stats)
        if problems:
            raise BackupError("verification restore differs from the source: " + "; ".join(problems))

        target = root / f"{name}{DUMP_SUFFIX}"
        _write_private(local_dump, target)
        stored_digest, stored_size = sha256_file(target)
        if (stored_digest, stored_size) != (digest, size):
            target.unlink()
            raise BackupError(f"stored copy of {name} differs from the verified dump (storage error)")
        verify_seconds = time.monotonic() - started

        manifest = Manifest(
            name=name,
            created_at=created.isoformat(),
            database=dbname,
            server_version=server_version,
            pg_dump_version=tools.version,
            size_bytes=size,
            sha256=digest,
            dump_seconds=round(dump_seconds, 3),
            verify_seconds=round(verify_seconds, 3),
            tables={table: asdict(stats) for table, stats in source_stats.items()},
        )
        _write_text_private(manifest.to_json(), root / f"{name}{MANIFEST_SUFFIX}")
        log.info(
            "backup %s verified: %d bytes, %d tables, %d rows, dump %.1fs, verify %.1fs",
            name,
            size,
            len(source_stats),
            sum(stats.rows for stats in source_stats.values()),
            dump_seconds,
            verify_seconds,
        )
        return manifest
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _dump_with_figures(dsn: str, tools: PgTools, target: Path) -> tuple[dict[str, TableStats], str]:
    """pg_dump of an exported snapshot while the snapshot's own transaction computes the figures."""
    with connect(dsn) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = one(conn, "SELECT pg_export_snapshot()")[0]
        server_version = one(conn, "SHOW server_version")[0]
        command = [str(tools.pg_dump), "--format=custom", f"--snapshot={snapshot}", f"--file={target}"]
        # The snapshot stays importable only while this transaction is open: it ends after pg_dump.
        figures = _SnapshotFigures()
        keys = natural_keys(conn)
        process = subprocess.Popen(
            command, env=libpq_environment(dsn), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        stderr_lines: list[str] = []
        stderr = process.stderr
        assert stderr is not None  # stderr=PIPE
        reader = threading.Thread(target=lambda: stderr_lines.extend(stderr), daemon=True)
        reader.start()
        try:
            figures.stats = table_stats(conn, keys)
        except BaseException as error:  # the dump must still be waited for and cleaned up
            figures.error = error
        returncode = process.wait(timeout=PG_TIMEOUT_SECONDS)
        reader.join(timeout=10)
        conn.rollback()
    if returncode != 0:
        raise BackupError(f"pg_dump failed (exit {returncode}): {''.join(stderr_lines).strip()[-2000:]}")
    if figures.error is not None:
        raise BackupError(f"counting the source tables failed: {figures.error}") from figures.error
    os.chmod(target, 0o600)
    assert figures.stats is not None
    return figures.stats, server_version


# --- verify stored, restore ----------------------------------------------------------------------------


def verify_stored(root: Any, manifest: Manifest) -> None:
    """Check a stored dump against its manifest (size and sha256); :class:`BackupCorrupted` otherwise."""
    target = root / f"{manifest.name}{DUMP_SUFFIX}"
    if not target.exists():
        raise BackupCorrupted(f"{manifest.name}: the dump file is missing")
    digest, size = sha256_file(target)
    if size != manifest.size_bytes:
        raise BackupCorrupted(f"{manifest.name}: {size} bytes stored, {manifest.size_bytes} in the manifest")
    if digest != manifest.sha256:
        raise BackupCorrupted(f"{manifest.name}: sha256 differs from the manifest (the file was altered)")


@dataclass(frozen=True)
class RestoreReport:
    backup: str
    target_db: str
    rows: int
    seconds: float


def restore_backup(
    root: Any, name: str, dsn: str, target_db: str, *, replace: bool = False, jobs: int = 2
) -> RestoreReport:
    """Restore backup ``name`` (or ``latest``) into database ``target_db`` on the server of ``dsn``.

    The dump is checked against its manifest first, and the restored tables are compared with the manifest's
    figures afterwards. An existing non-empty ``target_db`` is replaced only with ``replace=True``.
    """
    manifest = find_backup(root, name)
    verify_stored(root, manifest)
    tools = find_pg_tools(dsn)
    started = time.monotonic()
    if _database_has_tables(dsn, target_db) and not replace:
        raise BackupError(f"database {target_db} exists and holds tables: pass --replace to overwrite it")
    workdir = Path(tempfile.mkdtemp(prefix="musiccharts-restore-"))
    try:
        source = root / f"{manifest.name}{DUMP_SUFFIX}"
        local = Path(source.path) if _is_local(source) else workdir / source.name
        if not _is_local(source):
            _write_private_from(source, local)
        recreate_database(dsn, target_db)
        pg_restore(tools, local, dsn, target_db, jobs)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    with connect(with_database(dsn, target_db)) as conn:
        restored = table_stats(conn, natural_keys(conn))
    expected = {table: TableStats(**values) for table, values in manifest.tables.items()}
    problems = compare_stats(expected, restored)
    if problems:
        raise BackupError(f"restored {target_db} differs from the manifest: " + "; ".join(problems))
    return RestoreReport(
        manifest.name, target_db, sum(s.rows for s in restored.values()), round(time.monotonic() - started, 3)
    )


def _write_private_from(source: Any, target: Path) -> None:
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out, source.open("rb") as handle:
        shutil.copyfileobj(handle, out, CHUNK)


def _database_has_tables(dsn: str, dbname: str) -> bool:
    with connect(with_database(dsn, "postgres"), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone():
            return False
    with connect(with_database(dsn, dbname)) as conn:
        return bool(
            conn.execute(
                "SELECT 1 FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') LIMIT 1"
            ).fetchone()
        )


# --- retention ---------------------------------------------------------------------------------------


def backups_to_keep(created: Iterable[datetime], policy: GenerationPolicy, now: datetime) -> set[datetime]:
    """Grandfather-father-son: the newest backup of each of the last ``daily`` days, ``weekly`` ISO weeks
    and ``monthly`` months (counted back from ``now``), never one older than ``max_age_days``."""
    created = sorted(created, reverse=True)
    if policy.max_age_days:
        created = [moment for moment in created if now - moment <= timedelta(days=policy.max_age_days)]
    today = now.date()

    def newest_per(period_of, periods: set) -> set[datetime]:
        chosen: dict[Any, datetime] = {}
        for moment in created:  # newest first: the first seen of a period is its newest
            period = period_of(moment.date())
            if period in periods and period not in chosen:
                chosen[period] = moment
        return set(chosen.values())

    days = {today - timedelta(days=offset) for offset in range(policy.daily)}
    weeks = {(today - timedelta(weeks=offset)).isocalendar()[:2] for offset in range(policy.weekly)}
    months = set()
    year, month = today.year, today.month
    for _ in range(policy.monthly):
        months.add((year, month))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    keep = newest_per(lambda day: day, days)
    keep |= newest_per(lambda day: day.isocalendar()[:2], weeks)
    keep |= newest_per(lambda day: (day.year, day.month), months)
    return keep


@dataclass(frozen=True)
class RetentionReport:
    kept: tuple[str, ...]
    deleted: tuple[str, ...]
    orphans_deleted: tuple[str, ...]


def apply_backup_retention(
    root: Any, policy: GenerationPolicy, *, now: datetime | None = None, dry_run: bool = False
) -> RetentionReport:
    """Delete backups outside the generations, and dump files without a manifest older than a day."""
    now = now or datetime.now(UTC)
    backups = list_backups(root)
    keep = backups_to_keep([m.created for m in backups], policy, now)
    kept, deleted = [], []
    for manifest in backups:
        if manifest.created in keep:
            kept.append(manifest.name)
            continue
        deleted.append(manifest.name)
        if not dry_run:
            # The manifest goes first: a dump without one is no longer listed as a backup.
            (root / f"{manifest.name}{MANIFEST_SUFFIX}").unlink()
            dump = root / f"{manifest.name}{DUMP_SUFFIX}"
            if dump.exists():
                dump.unlink()
    names = {m.name for m in backups}
    orphans = []
    for path in root.iterdir():
        stem = path.name.removesuffix(DUMP_SUFFIX)
        if (
            path.name.endswith(DUMP_SUFFIX)
            and stem not in names
            and _older_than(path, now, timedelta(days=1))
        ):
            orphans.append(path.name)
            if not dry_run:
                path.unlink()
    return RetentionReport(tuple(kept), tuple(deleted), tuple(orphans))


def _older_than(path: Any, now: datetime, age: timedelta) -> bool:
    try:
        modified = path.stat().get("mtime") if not _is_local(path) else os.stat(path.path).st_mtime
    except (OSError, AttributeError):
        return False
    if modified is None:
        return False
    moment = modified if isinstance(modified, datetime) else datetime.fromtimestamp(float(modified), UTC)
    return now - moment.astimezone(UTC) > age


def newest_verified_age(root: Any, now: datetime | None = None) -> timedelta | None:
    """Age of the newest verified backup, or None when there is none."""
    backups = [m for m in list_backups(root) if m.verified]
    if not backups:
        return None
    return (now or datetime.now(UTC)) - backups[-1].created


# --- command line ------------------------------------------------------------------------------------


def _default_dsn() -> str:
    dsn = os.environ.get("MUSICCHARTS_DB_URL")
    if not dsn:
        raise SystemExit("set MUSICCHARTS_DB_URL (source var/airflow/env.sh after `make run`) or pass --dsn")
    return dsn


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m musiccharts.maintenance.backup",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--location", default=None, help="backup location (default: maintenance.yaml)")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="dump, verify by restoring, store")
    create.add_argument("--dsn", default=None)
    commands.add_parser("list", help="stored backups, oldest first")
    verify = commands.add_parser("verify", help="check stored dumps against their manifests")
    verify.add_argument("names", nargs="*")
    restore = commands.add_parser("restore", help="restore a backup into a database")
    restore.add_argument("name", help="backup name or 'latest'")
    restore.add_argument("--target-db", required=True)
    restore.add_argument("--replace", action="store_true", help="overwrite an existing non-empty database")
    restore.add_argument("--dsn", default=None, help="any database on the target server (default: product)")
    restore.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    config = load_maintenance_config().backup
    root = storage_root(args.location)
    try:
        if args.command == "create":
            manifest = create_backup(args.dsn or _default_dsn(), root, restore_jobs=config.restore_jobs)
            print(f"{manifest.name}: verified, {manifest.size_bytes} bytes, sha256 {manifest.sha256}")
        elif args.command == "list":
            for manifest in list_backups(root):
                rows = sum(table["rows"] for table in manifest.tables.values())
                print(f"{manifest.name}  {manifest.created_at}  {manifest.size_bytes:>12} bytes  {rows} rows")
        elif args.command == "verify":
            manifests = [find_backup(root, name) for name in args.names] or list_backups(root)
            failed = 0
            for manifest in manifests:
                try:
                    verify_stored(root, manifest)
                    print(f"{manifest.name}: ok")
                except BackupCorrupted as error:
                    failed += 1
                    print(f"CORRUPTED {error}")
            return 1 if failed else 0
        else:
            report = restore_backup(
                root, args.name, args.dsn or _default_dsn(), args.target_db,
                replace=args.replace, jobs=args.jobs or config.restore_jobs,
            )  # fmt: skip
            print(f"restored {report.backup} into {report.target_db}: {report.rows} rows, verified")
    except BackupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = [
    "BackupCorrupted",
    "BackupError",
    "Manifest",
    "apply_backup_retention",
    "backups_to_keep",
    "create_backup",
    "list_backups",
    "restore_backup",
    "verify_stored",
]
