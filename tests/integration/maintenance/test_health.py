"""Health probes against real (and stopped) targets, stored as a time series, alerted once per incident."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from musiccharts.maintenance.config import HealthThresholds
from musiccharts.maintenance.health import (
    ProbeResult,
    probe_airflow_heartbeats,
    probe_backups,
    probe_host,
    probe_overdue_periods,
    probe_postgres,
    probe_redis,
    probe_soundcharts,
    record_results,
)
from tests.services import free_port, start_private_redis

pytestmark = pytest.mark.integration

THRESHOLDS = HealthThresholds()
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def closed_port_dsn() -> str:
    return f"host=127.0.0.1 port={free_port()} user=postgres dbname=postgres"


class Alerts(list):
    def __call__(self, subject, body, severity, fields):
        self.append((subject, severity, dict(fields)))


def statuses(results):
    return {result.check: result.status for result in results}


def test_postgres_probe_up_and_stopped(clean_product_db):
    up = statuses(probe_postgres("product_db", clean_product_db, THRESHOLDS))
    assert up == {"product_db.connect": "ok", "product_db.size": "ok", "product_db.bloat": "ok"}
    tiny = HealthThresholds(database_size_gb=0.000001)
    assert statuses(probe_postgres("product_db", clean_product_db, tiny))["product_db.size"] == "breach"
    [down] = probe_postgres("product_db", closed_port_dsn(), THRESHOLDS)
    assert (down.check, down.status) == ("product_db.connect", "error")
    assert "OperationalError" in down.detail


def test_postgres_bloat_breach(clean_product_db):
    with psycopg.connect(clean_product_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bloat_probe (n int)")
        conn.execute("INSERT INTO bloat_probe SELECT generate_series(1, 2000)")
        conn.execute("DELETE FROM bloat_probe WHERE n > 100")
        conn.execute("ANALYZE bloat_probe")
        # The statistics collector reports dead tuples asynchronously: flush this backend's counters.
        conn.execute("SELECT pg_stat_force_next_flush()") if conn.info.server_version >= 150000 else None
    try:
        thresholds = HealthThresholds(bloat_min_rows=1000, bloat_ratio=5)
        results = {r.check: r for r in probe_postgres("product_db", clean_product_db, thresholds)}
        assert results["product_db.bloat"].status == "breach"
        assert results["product_db.bloat"].detail == "table bloat_probe"
    finally:
        with psycopg.connect(clean_product_db, autocommit=True) as conn:
            conn.execute("DROP TABLE bloat_probe")


def test_redis_probe_up_then_stopped():
    port = free_port()
    url = start_private_redis(port)
    assert statuses(probe_redis(url)) == {"redis.ping": "ok"}
    subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], check=False, capture_output=True)
    [down] = probe_redis(url)
    assert (down.check, down.status) == ("redis.ping", "error")


def test_host_probe_full_disk_by_threshold(tmp_path):
    normal = statuses(
        probe_host(HealthThresholds(disk_percent=100, cpu_percent=100, memory_percent=100), [str(tmp_path)])
    )
    assert normal[f"disk:{tmp_path}"] == "ok"
    full = statuses(
        probe_host(HealthThresholds(disk_percent=0.001), [str(tmp_path), str(tmp_path / "missing")])
    )
    assert full[f"disk:{tmp_path}"] == "breach"
    assert full[f"disk:{tmp_path / 'missing'}"] == "error"
    assert {"host.cpu", "host.memory"} <= set(full)


def test_heartbeats():
    fresh = (NOW - timedelta(seconds=20)).isoformat()
    stale = (NOW - timedelta(minutes=10)).isoformat()
    health = {
        "scheduler": {"status": "healthy", "latest_scheduler_heartbeat": fresh},
        "triggerer": {"status": "unhealthy", "latest_triggerer_heartbeat": stale},
    }
    assert statuses(probe_airflow_heartbeats(health, THRESHOLDS, NOW)) == {
        "airflow.scheduler": "ok",
        "airflow.triggerer": "breach",
    }
    assert (
        statuses(probe_airflow_heartbeats({"scheduler": {}}, THRESHOLDS, NOW))["airflow.triggerer"] == "error"
    )
    assert statuses(probe_airflow_heartbeats(ConnectionError("refused"), THRESHOLDS, NOW)) == {
        "airflow.api": "error"
    }


def test_soundcharts_probe_on_the_simulator(sim):
    from musiccharts.soundcharts.client import SoundchartsClient

    client = SoundchartsClient(sim.base_url, sim.app_id, sim.api_key, max_retries=0)

    def usage():
        return client.get_team_usage().model_dump()

    ok = {r.check: r for r in probe_soundcharts(usage, THRESHOLDS)}
    assert ok["soundcharts.reachable"].status == "ok"
    assert ok["soundcharts.quota"].status == "ok"
    assert ok["soundcharts.quota"].value == sim.state.snapshot()["remaining"]
    low = probe_soundcharts(usage, HealthThresholds(soundcharts_quota_floor=10**9))
    assert statuses(low)["soundcharts.quota"] == "breach"
    down_client = SoundchartsClient(f"http://127.0.0.1:{free_port()}", "a", "b", max_retries=0)
    assert statuses(probe_soundcharts(lambda: down_client.get_team_usage().model_dump(), THRESHOLDS)) == {
        "soundcharts.reachable": "error"
    }


def test_overdue_periods_and_backup_age(clean_product_db):
    from tests.maintenance_seed import seed_rankings

    seed_rankings(
        clean_product_db, charts=2, days=3, entries=2, tracks=5, first_day=datetime(2026, 11, 20, tzinfo=UTC)
    )
    with psycopg.connect(clean_product_db) as conn:
        conn.execute("UPDATE charts SET sync_enabled = true WHERE slug = 'seed-chart-1'")
    # Last period ends 2026-11-23; daily charts are expected within 2 days + 6 h of grace.
    assert statuses(
        probe_overdue_periods(clean_product_db, THRESHOLDS, datetime(2026, 11, 25, 1, tzinfo=UTC))
    ) == {"charts.overdue": "ok"}
    [late] = probe_overdue_periods(clean_product_db, THRESHOLDS, datetime(2026, 11, 26, tzinfo=UTC))
    assert (late.status, late.value) == ("breach", 1)
    assert late.detail.startswith("seed-chart-1 ")
    assert probe_backups(None, 26)[0].status == "breach"
    assert probe_backups(timedelta(hours=30), 26)[0].status == "breach"
    assert probe_backups(timedelta(hours=2), 26)[0].status == "ok"


def test_breach_alerts_once_then_recovers_and_is_stored(clean_product_db):
    alerts = Alerts()
    breach = ProbeResult("disk:/", "breach", 97.0, 90.0, "%")
    healthy = ProbeResult("disk:/", "ok", 50.0, 90.0, "%")
    other = ProbeResult("host.cpu", "ok", 3.0, 95.0, "%")
    for minutes, result in (
        (0, breach),
        (15, breach),
        (30, breach),
        (45, healthy),
        (60, healthy),
        (75, breach),
    ):
        record_results(clean_product_db, [result, other], alerts, now=NOW + timedelta(minutes=minutes))
    assert [(subject, severity) for subject, severity, _ in alerts] == [
        ("health check disk:/: threshold breached", "critical"),
        ("health check disk:/ recovered", "recovered"),
        ("health check disk:/: threshold breached", "critical"),
    ]
    assert alerts[0][2] == {"Check": "disk:/", "Status": "breach", "Value": "97.0 %", "Threshold": "90.0 %"}
    with psycopg.connect(clean_product_db) as conn:
        series = conn.execute(
            "SELECT status FROM health_check_results WHERE check_name = 'disk:/' ORDER BY checked_at"
        ).fetchall()
        incidents = conn.execute(
            "SELECT opened_at, closed_at FROM health_incidents WHERE check_name = 'disk:/' ORDER BY opened_at"
        ).fetchall()
    assert [s for (s,) in series] == ["breach", "breach", "breach", "ok", "ok", "breach"]
    assert incidents == [(NOW, NOW + timedelta(minutes=45)), (NOW + timedelta(minutes=75), None)]


def test_product_database_down_alerts_once_through_the_fallback_state(clean_product_db):
    alerts = Alerts()
    down_dsn = closed_port_dsn()
    down = probe_postgres("product_db", down_dsn, THRESHOLDS)
    _, state = record_results(down_dsn, down, alerts, now=NOW)
    _, state = record_results(down_dsn, down, alerts, fallback_state=state, now=NOW + timedelta(minutes=15))
    assert len(alerts) == 1 and alerts[0][0] == "health check product_db.connect: failing"
    assert list(state) == ["product_db.connect"]
    up = probe_postgres("product_db", clean_product_db, THRESHOLDS)
    _, state = record_results(
        clean_product_db, up, alerts, fallback_state=state, now=NOW + timedelta(minutes=30)
    )
    assert state == {}
    assert [a[0] for a in alerts] == [
        "health check product_db.connect: failing",
        "health check product_db.connect recovered",
    ]
