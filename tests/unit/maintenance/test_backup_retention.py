"""Backup generations (grandfather-father-son) and their application to a backup folder."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

from musiccharts.maintenance.backup import (
    Manifest,
    TableStats,
    apply_backup_retention,
    backups_to_keep,
    compare_stats,
    list_backups,
    storage_root,
)
from musiccharts.maintenance.config import GenerationPolicy

NOW = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)  # a Sunday


def daily_backups(days: int, per_day: int = 1) -> list[datetime]:
    return [NOW - timedelta(days=day, hours=hour * 6) for day in range(days) for hour in range(per_day)]


def test_generations_keep_newest_per_day_week_and_month():
    created = daily_backups(400, per_day=2)
    keep = backups_to_keep(created, GenerationPolicy(daily=7, weekly=4, monthly=6, max_age_days=0), NOW)
    days = sorted({moment.date() for moment in keep}, reverse=True)
    # 7 days (today back to Monday 23rd), then the Sundays of the 3 previous ISO weeks, then the last day
    # of each of the 5 previous months: 7 + 3 + 5 = 15 distinct backups, each the newest of its period.
    assert len(keep) == len(days) == 15
    assert days[:7] == [(NOW - timedelta(days=d)).date() for d in range(7)]
    assert days[7:10] == [(NOW - timedelta(days=d)).date() for d in (7, 14, 21)]
    assert [str(d) for d in days[10:]] == [
        "2026-10-31",
        "2026-09-30",
        "2026-08-31",
        "2026-07-31",
        "2026-06-30",
    ]
    for moment in keep:
        assert moment == max(m for m in created if m.date() == moment.date())  # newest of its day


def test_max_age_wins_over_generations():
    created = daily_backups(400)
    keep = backups_to_keep(created, GenerationPolicy(daily=7, weekly=4, monthly=12, max_age_days=100), NOW)
    assert min(keep) >= NOW - timedelta(days=100)
    assert len(keep) < 7 + 3 + 11


def test_no_backups_keeps_nothing():
    assert backups_to_keep([], GenerationPolicy(), NOW) == set()


def write_backup(root, created: datetime) -> str:
    name = f"musiccharts-{created:%Y%m%dT%H%M%SZ}"
    manifest = Manifest(name, created.isoformat(), "musiccharts", "15", "15", 3, "x", 0.1, 0.1, {})
    (root / f"{name}.dump").write_bytes(b"abc")
    (root / f"{name}.manifest.json").write_text(manifest.to_json())
    return name


def test_retention_deletes_exactly_the_backups_outside_the_generations(tmp_path):
    root = storage_root(str(tmp_path))
    created = daily_backups(60)
    names = {moment: write_backup(root, moment) for moment in created}
    orphan = tmp_path / "musiccharts-20260101T000000Z.dump"  # a dump whose manifest was never written
    orphan.write_bytes(b"partial")
    os.utime(orphan, (NOW.timestamp() - 3 * 86400,) * 2)
    policy = GenerationPolicy(daily=3, weekly=2, monthly=2, max_age_days=0)
    expected_keep = {names[m] for m in backups_to_keep(created, policy, NOW)}

    dry = apply_backup_retention(root, policy, now=NOW, dry_run=True)
    assert set(dry.kept) == expected_keep
    assert len(list_backups(root)) == 60 and orphan.exists()  # dry run removes nothing

    report = apply_backup_retention(root, policy, now=NOW)
    assert set(report.kept) == expected_keep
    assert set(report.deleted) == set(names.values()) - expected_keep
    assert report.orphans_deleted == (orphan.name,)
    assert {m.name for m in list_backups(root)} == expected_keep
    remaining = {p.name for p in tmp_path.iterdir()}
    assert remaining == {f"{n}{suffix}" for n in expected_keep for suffix in (".dump", ".manifest.json")}


def test_manifest_round_trip():
    manifest = Manifest(
        "n",
        NOW.isoformat(),
        "db",
        "15.2",
        "pg_dump 15",
        10,
        "ab",
        1.0,
        2.0,
        {"t": {"rows": 1, "key_checksum": "5"}},
    )
    assert Manifest.from_json(manifest.to_json()) == manifest
    assert json.loads(manifest.to_json())["verified"] is True


def test_compare_stats_names_every_difference():
    source = {"a": TableStats(3, "10"), "b": TableStats(2, "7"), "c": TableStats(1, "1")}
    restored = {"a": TableStats(2, "9"), "b": TableStats(2, "8"), "d": TableStats(0, "0")}
    assert compare_stats(source, restored) == [
        "a: 2 rows restored, 3 expected",
        "b: natural-key checksum differs (2 rows each)",
        "c: missing after restore",
        "d: not in the source",
    ]
    assert compare_stats(source, dict(source)) == []
