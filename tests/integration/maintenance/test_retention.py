"""Retention on the real Postgres: exact rows by age, in batches; Airflow db clean; task log files."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from musiccharts.maintenance.config import PruneRule
from musiccharts.maintenance.retention import airflow_db_clean, clean_task_logs, prune

pytestmark = pytest.mark.integration

# seeded_product_db: 3 charts x 20 daily rankings from 2026-01-01, 50 entries each, all dated on their day.
NOW = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=100)  # 90-day cutoff = 2026-01-11: days 1-10 are old


def snapshot(dsn: str, query: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query).fetchall()


RANKINGS = "SELECT id, fetched_at, raw_pages::text, entry_count FROM rankings ORDER BY id"


def test_clearing_payloads_touches_exactly_the_old_rows_in_batches(seeded_product_db):
    before = snapshot(seeded_product_db, RANKINGS)
    rule = PruneRule(
        table="rankings", age_column="fetched_at", clear_column="raw_pages", days=90, batch_size=7
    )

    dry = prune(seeded_product_db, rule, now=NOW, dry_run=True)
    assert (dry.affected, dry.dry_run) == (30, True)
    assert snapshot(seeded_product_db, RANKINGS) == before

    report = prune(seeded_product_db, rule, now=NOW)
    assert (report.affected, report.batches, report.target) == (30, 5, "column raw_pages")  # 7+7+7+7+2
    after = snapshot(seeded_product_db, RANKINGS)
    cutoff = NOW - timedelta(days=90)
    for (rid, fetched, raw, count), (rid2, fetched2, raw2, count2) in zip(before, after, strict=True):
        assert (rid, fetched, count) == (rid2, fetched2, count2)  # business rows stay
        assert raw2 == ("[]" if fetched < cutoff else raw)
    # Nothing is left to clear: a rerun touches nothing.
    assert prune(seeded_product_db, rule, now=NOW).affected == 0


def test_deleting_rows_removes_exactly_those_past_their_age(seeded_product_db):
    query = "SELECT ranking_id, position, created_at FROM ranking_entries ORDER BY 1, 2"
    before = snapshot(seeded_product_db, query)
    rule = PruneRule(table="ranking_entries", age_column="created_at", days=90, batch_size=400)
    report = prune(seeded_product_db, rule, now=NOW)
    cutoff = NOW - timedelta(days=90)
    expected = [row for row in before if row[2] >= cutoff]
    assert report.affected == len(before) - len(expected) == 3 * 10 * 50
    assert report.batches == 4  # 400 + 400 + 400 + 300
    assert snapshot(seeded_product_db, query) == expected
    assert snapshot(seeded_product_db, "SELECT count(*) FROM rankings") == [(60,)]


def test_a_rule_naming_a_missing_column_is_refused(seeded_product_db):
    with pytest.raises(ValueError, match="has no column fetched"):
        prune(seeded_product_db, PruneRule(table="rankings", age_column="fetched", days=1))
    with pytest.raises(ValueError, match="no table nope"):
        prune(seeded_product_db, PruneRule(table="nope", age_column="x", days=1))


def test_task_logs_older_than_n_days_are_deleted(tmp_path):
    now = datetime(2026, 11, 29, tzinfo=UTC)
    old = tmp_path / "dag_id=a" / "run_id=r1" / "task_id=t" / "attempt=1.log"
    new = tmp_path / "dag_id=a" / "run_id=r2" / "task_id=t" / "attempt=1.log"
    for path, age_days in ((old, 31), (new, 29)):
        path.parent.mkdir(parents=True)
        path.write_text("x" * 100)
        stamp = (now - timedelta(days=age_days)).timestamp()
        os.utime(path, (stamp, stamp))

    dry = clean_task_logs(tmp_path, 30, now=now, dry_run=True)
    assert (dry.files, dry.bytes) == (1, 100) and old.exists()

    report = clean_task_logs(tmp_path, 30, now=now)
    assert (report.files, report.bytes, report.directories) == (1, 100, 2)  # run_id=r1 and its task_id=t
    assert not old.exists() and not old.parent.parent.exists()
    assert new.exists()


def test_airflow_db_clean_removes_only_old_metadata(airflow_metadata_db):
    import sqlalchemy as sa

    engine = sa.create_engine(airflow_metadata_db)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM log WHERE event LIKE 'retention-test-%'"))
        for event, age in (("retention-test-old", 120), ("retention-test-new", 10)):
            conn.execute(
                sa.text("INSERT INTO log (dttm, event) VALUES (:dttm, :event)"),
                {"dttm": now - timedelta(days=age), "event": event},
            )

    def events():
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT event FROM log WHERE event LIKE 'retention-test-%' ORDER BY 1")
            )
            return [row[0] for row in rows]

    dry = airflow_db_clean(airflow_metadata_db, 90, dry_run=True)
    assert dry.tables["log"] >= 1
    assert events() == ["retention-test-new", "retention-test-old"]

    report = airflow_db_clean(airflow_metadata_db, 90)
    assert report.tables["log"] >= 1
    assert events() == ["retention-test-new"]
    with engine.connect() as conn:
        archives = conn.execute(
            sa.text("SELECT count(*) FROM pg_tables WHERE tablename LIKE '_airflow_deleted__%'")
        )
        assert archives.scalar() == 0
    engine.dispose()
