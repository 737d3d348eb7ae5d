"""Find ``pg_dump``/``pg_restore`` of the same major version as the server they work on.

A ``pg_dump`` older than the server refuses to dump it, and a dump made by a newer one cannot be restored by
the server's own tools, so the major versions must match. Candidates, in order: ``$MUSICCHARTS_PG_BIN_DIR``,
``/usr/lib/postgresql/<major>/bin`` (Debian's postgresql-client-<major>), the binaries bundled in the
``pgserver`` wheel (the private PostgreSQL 16 of ``make run``), then ``PATH``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg

from musiccharts.db.connection import connect
from musiccharts.maintenance._db import one

_VERSION = re.compile(r"\(PostgreSQL\) (\d+)(?:\.(\d+))?")


class PgToolsNotFound(RuntimeError):
    """No pg_dump/pg_restore pair of the server's major version was found."""


@dataclass(frozen=True)
class PgTools:
    pg_dump: Path
    pg_restore: Path
    major: int
    version: str


def server_major(dsn: str) -> tuple[int, str]:
    """(major, full version string) of the server at ``dsn``."""
    with connect(dsn) as conn:
        number = int(one(conn, "SHOW server_version_num")[0])
        text = one(conn, "SHOW server_version")[0]
    return number // 10000, text


def tool_version(binary: Path) -> tuple[int, str] | None:
    try:
        output = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = _VERSION.search(output)
    return (int(match.group(1)), output.strip()) if match else None


def candidate_dirs(major: int) -> list[Path]:
    dirs = []
    if os.environ.get("MUSICCHARTS_PG_BIN_DIR"):
        dirs.append(Path(os.environ["MUSICCHARTS_PG_BIN_DIR"]))
    dirs.append(Path(f"/usr/lib/postgresql/{major}/bin"))
    try:
        import pgserver

        dirs.append(Path(pgserver.__file__).parent / "pginstall" / "bin")
    except ImportError:
        pass
    found = shutil.which("pg_dump")
    if found:
        dirs.append(Path(found).resolve().parent)
    return dirs


def find_pg_tools(dsn: str) -> PgTools:
    """The pg_dump/pg_restore pair matching the server at ``dsn``; :class:`PgToolsNotFound` otherwise."""
    try:
        major, server_version = server_major(dsn)
    except psycopg.Error as error:
        raise PgToolsNotFound(f"cannot ask the server for its version: {type(error).__name__}") from None
    seen = []
    for directory in candidate_dirs(major):
        dump, restore = directory / "pg_dump", directory / "pg_restore"
        if not (dump.exists() and restore.exists()):
            continue
        version = tool_version(dump)
        if version is None:
            continue
        seen.append(f"{dump} ({version[0]})")
        if version[0] == major and (tool_version(restore) or (0,))[0] == major:
            return PgTools(dump, restore, major, version[1])
    raise PgToolsNotFound(
        f"no pg_dump/pg_restore of PostgreSQL {major} (the server runs {server_version}); found: "
        f"{', '.join(seen) or 'none'}. Install them with `make pg-client PG_MAJOR={major}` "
        f"(Debian postgresql-client-{major}) or point MUSICCHARTS_PG_BIN_DIR at their directory."
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m musiccharts.maintenance.pg_tools check|major [--dsn DSN]`` (used by ``make pg-client``)."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m musiccharts.maintenance.pg_tools")
    parser.add_argument("command", choices=["check", "major"])
    parser.add_argument(
        "--dsn",
        default=os.environ.get("MUSICCHARTS_DB_URL")
        or os.environ.get("MUSICCHARTS_TEST_PG_DSN")
        or "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5",
    )
    args = parser.parse_args(argv)
    try:
        major, version = server_major(args.dsn)
    except psycopg.Error:
        # No server to match (the tests then start the private PostgreSQL 16, whose wheel bundles its tools).
        print("no PostgreSQL server reachable: nothing to match", file=sys.stderr)
        return 0
    if args.command == "major":
        print(major)
        return 0
    try:
        tools = find_pg_tools(args.dsn)
    except PgToolsNotFound as error:
        print(error, file=sys.stderr)
        return 1
    print(f"server {version}: {tools.pg_dump}, {tools.pg_restore}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
