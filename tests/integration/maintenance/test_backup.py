"""Verified backups on the real Postgres: dump, scratch restore, comparison, storage, corruption, restore."""

from __future__ import annotations

import json
import os
import stat

import psycopg
import pytest

from musiccharts.maintenance.backup import (
    BackupCorrupted,
    BackupError,
    create_backup,
    list_backups,
    restore_backup,
    storage_root,
    verify_stored,
)

pytestmark = pytest.mark.integration


def databases(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        return {row[0] for row in conn.execute("SELECT datname FROM pg_database")}


def test_backup_is_verified_stored_private_and_restorable(seeded_product_db, postgres_server, tmp_path):
    root = storage_root(str(tmp_path / "backups"))
    manifest = create_backup(seeded_product_db, root)

    # The scratch database (named after the source) was dropped; other test sessions may add databases.
    source_name = seeded_product_db.split("dbname=")[1].split()[0]
    assert [
        name
        for name in databases(postgres_server.admin_dsn)
        if name.startswith(f"{source_name[:30]}_verify_")
    ] == []
    dump = tmp_path / "backups" / f"{manifest.name}.dump"
    manifest_file = tmp_path / "backups" / f"{manifest.name}.manifest.json"
    for path in (dump, manifest_file):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert manifest.size_bytes == dump.stat().st_size
    assert manifest.tables["ranking_entries"]["rows"] == 3 * 20 * 50
    assert manifest.tables["rankings"]["rows"] == 60
    assert manifest.tables["tracks"]["rows"] == 120
    assert json.loads(manifest_file.read_text())["sha256"] == manifest.sha256
    assert [m.name for m in list_backups(root)] == [manifest.name]

    target = f"{seeded_product_db.split('dbname=')[1].split()[0]}_restored"
    try:
        report = restore_backup(root, "latest", postgres_server.admin_dsn, target)
        assert report.rows == sum(t["rows"] for t in manifest.tables.values())
        with (
            psycopg.connect(postgres_server.dsn_for(target)) as restored,
            psycopg.connect(seeded_product_db) as source,
        ):
            query = "SELECT ranking_id, position, track_id, metric FROM ranking_entries ORDER BY 1, 2"
            assert restored.execute(query).fetchall() == source.execute(query).fetchall()
        # A second restore onto the now non-empty database needs an explicit replace.
        with pytest.raises(BackupError, match="--replace"):
            restore_backup(root, "latest", postgres_server.admin_dsn, target)
        restore_backup(root, manifest.name, postgres_server.admin_dsn, target, replace=True)
    finally:
        postgres_server.drop_database(target)


def test_corrupted_backup_is_detected_and_never_restored(seeded_product_db, postgres_server, tmp_path):
    root = storage_root(str(tmp_path / "backups"))
    manifest = create_backup(seeded_product_db, root)
    dump = tmp_path / "backups" / f"{manifest.name}.dump"
    verify_stored(root, manifest)  # intact

    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte, same size
    dump.write_bytes(bytes(data))
    with pytest.raises(BackupCorrupted, match="sha256 differs"):
        verify_stored(root, manifest)
    target = "mc_test_never_restored"
    with pytest.raises(BackupCorrupted):
        restore_backup(root, "latest", postgres_server.admin_dsn, target)
    assert target not in databases(postgres_server.admin_dsn)

    dump.write_bytes(bytes(data[:1000]))  # truncated
    with pytest.raises(BackupCorrupted, match="1000 bytes stored"):
        verify_stored(root, manifest)


def test_backup_reference_figures_come_from_the_dumped_snapshot(seeded_product_db, tmp_path, monkeypatch):
    """Rows written while pg_dump runs are neither in the dump nor in the reference figures."""
    import musiccharts.maintenance.backup as backup

    original = backup.table_stats
    calls = []

    def write_then_count(conn, keys):
        if not calls:  # first call: the source figures, inside the snapshot transaction
            with psycopg.connect(seeded_product_db, autocommit=True) as other:
                other.execute("DELETE FROM ranking_entries WHERE position > 40")
        calls.append(1)
        return original(conn, keys)

    monkeypatch.setattr(backup, "table_stats", write_then_count)
    manifest = create_backup(seeded_product_db, storage_root(str(tmp_path / "b")))
    assert manifest.tables["ranking_entries"]["rows"] == 3 * 20 * 50  # the snapshot's, not the later state


def test_missing_pg_dump_of_the_server_version_fails_clearly(seeded_product_db, tmp_path, monkeypatch):
    import musiccharts.maintenance.pg_tools as pg_tools

    monkeypatch.setattr(pg_tools, "candidate_dirs", lambda major: [tmp_path])
    with pytest.raises(
        pg_tools.PgToolsNotFound, match=r"no pg_dump/pg_restore of PostgreSQL \d+ .*make pg-client"
    ):
        create_backup(seeded_product_db, storage_root(str(tmp_path / "b")))
    assert not (tmp_path / "b").exists() or list((tmp_path / "b").iterdir()) == []
