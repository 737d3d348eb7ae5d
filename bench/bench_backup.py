"""Verified backup against a plain dump + restore of the same database, in the same run.

    python bench/bench_backup.py [--entries 1000000] [--rounds 3] [--dsn DSN]

Creates a scratch product database on the server of ``--dsn`` (default: the local Postgres, 127.0.0.1:5432
user postgres), migrates it and seeds ``--entries`` ranking entries (10 charts, 1000 entries per ranking,
with raw payloads), then measures, ``--rounds`` times each, alternating:

(b) baseline: ``pg_dump -Fc`` to a file, then ``pg_restore --jobs`` of it into a fresh database (the same
    version-matched binaries and the same ``--jobs`` as the verified path);
(v) verified backup: ``create_backup``, i.e. snapshot dump with per-table row counts and natural-key
    checksums, scratch restore, the same figures on the restored copy, comparison, storage with sha256
    read-back and manifest.

The fastest round of each is compared. Target: (v) <= 1.3x (b), i.e. verification costs at most a third on
top of the dump and restore themselves. Exit status 1 when the target is missed. Every database the bench
creates is dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
for part in ("include", "plugins", "simulators", "stack", ""):
    if str(REPO_ROOT / part) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT / part))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

from musiccharts.db.migrate import upgrade  # noqa: E402
from musiccharts.maintenance.backup import (  # noqa: E402
    create_backup,
    drop_database,
    libpq_environment,
    pg_restore,
    recreate_database,
    storage_root,
    with_database,
)
from musiccharts.maintenance.pg_tools import find_pg_tools  # noqa: E402
from tests.maintenance_seed import seed_rankings  # noqa: E402

TARGET_RATIO = 1.3
JOBS = 2


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dsn", default="host=127.0.0.1 port=5432 user=postgres dbname=postgres")
    args = parser.parse_args()

    source_db = f"mc_bench_backup_{os.getpid()}"
    restored_db = f"{source_db}_plain"
    source = with_database(args.dsn, source_db)
    workdir = Path(tempfile.mkdtemp(prefix="bench-backup-"))
    try:
        recreate_database(args.dsn, source_db)
        upgrade(source)
        charts, per_ranking = 10, 1000
        days = max(1, args.entries // (charts * per_ranking))
        started = time.monotonic()
        entries = seed_rankings(source, charts=charts, days=days, entries=per_ranking, tracks=20_000)
        with __import__("psycopg").connect(source, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
            size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
        print(f"seeded {entries} ranking entries ({size}) in {time.monotonic() - started:.1f}s")
        tools = find_pg_tools(source)
        print(f"tools: {tools.version} ({tools.pg_dump.parent})")

        def plain() -> float:
            dump = workdir / "plain.dump"
            started = time.monotonic()
            subprocess.run(
                [str(tools.pg_dump), "--format=custom", f"--file={dump}"],
                env=libpq_environment(source),
                check=True,
            )
            recreate_database(args.dsn, restored_db)
            pg_restore(tools, dump, args.dsn, restored_db, JOBS)
            elapsed = time.monotonic() - started
            drop_database(args.dsn, restored_db)
            dump.unlink()
            return elapsed

        storage_root(str(workdir / "warm-up"))  # import Airflow's ObjectStoragePath before any timing

        def verified() -> float:
            location = workdir / "verified"
            root = storage_root(str(location))
            started = time.monotonic()
            manifest = create_backup(source, root, restore_jobs=JOBS)
            elapsed = time.monotonic() - started
            assert manifest.tables["ranking_entries"]["rows"] == entries
            shutil.rmtree(location)
            return elapsed

        baseline, ours = [], []
        for round_number in range(1, args.rounds + 1):
            baseline.append(plain())
            ours.append(verified())
            print(f"round {round_number}: plain dump+restore {baseline[-1]:.1f}s, verified {ours[-1]:.1f}s")
        ratio = min(ours) / min(baseline)
        print(
            f"\nplain pg_dump + pg_restore (b): {min(baseline):.1f}s\n"
            f"verified backup (v):           {min(ours):.1f}s\n"
            f"ratio v/b: {ratio:.2f}x (target <= {TARGET_RATIO}x) -> "
            + ("met" if ratio <= TARGET_RATIO else "MISSED")
        )
        return 0 if ratio <= TARGET_RATIO else 1
    finally:
        drop_database(args.dsn, restored_db)
        drop_database(args.dsn, source_db)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
