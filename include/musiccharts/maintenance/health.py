"""Health checks: probes, their time series, and incidents alerted once and on recovery.

A probe returns :class:`ProbeResult` values (``ok``, ``breach`` of a threshold, or ``error`` when its target
could not be asked); it never raises for a down target, because "down" is the answer. :func:`record_results`
stores the results (``health_check_results``) and moves incidents (``health_incidents``): the first non-ok
result of a check opens an incident and alerts; later non-ok results of the same incident stay silent; the
first ok result closes it and sends a recovery notice.

The incident state lives in the product database. When that database is itself down, its own probe cannot
be stored there: the state of such checks is kept in a fallback store (a small JSON document the caller
persists, e.g. an Airflow Variable), so a down database still alerts once and recovers once.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import psycopg

from musiccharts.db.connection import connect
from musiccharts.maintenance._db import one
from musiccharts.maintenance.config import HealthThresholds

log = logging.getLogger(__name__)

Status = Literal["ok", "breach", "error"]
CONNECT_TIMEOUT_SECONDS = 5
#: Alert callback: (subject, body, severity, fields) -> None. The plugin passes the project notifier.
AlertFunction = Callable[[str, str, str, Mapping[str, Any]], Any]


@dataclass(frozen=True)
class ProbeResult:
    check: str
    status: Status
    value: float | None = None
    threshold: float | None = None
    unit: str | None = None
    detail: str = ""


def _compare(check: str, value: float, threshold: float, unit: str, detail: str = "") -> ProbeResult:
    status: Status = "breach" if value > threshold else "ok"
    return ProbeResult(check, status, round(value, 3), threshold, unit, detail)


def _error(check: str, error: BaseException | str) -> ProbeResult:
    text = (
        error
        if isinstance(error, str)
        else f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"
    )
    return ProbeResult(check, "error", detail=text[:300])


# --- probes ------------------------------------------------------------------------------------------


def probe_postgres(name: str, dsn: str, thresholds: HealthThresholds) -> list[ProbeResult]:
    """Connect + a query, database size, replication lag (on a standby) and the most bloated table."""
    try:
        started = time.monotonic()
        with connect(dsn, connect_timeout=CONNECT_TIMEOUT_SECONDS) as conn:
            conn.execute("SET statement_timeout = '30s'")
            conn.execute("SELECT 1").fetchone()
            latency = time.monotonic() - started
            size = one(conn, "SELECT pg_database_size(current_database())")[0]
            lag = one(
                conn,
                "SELECT CASE WHEN pg_is_in_recovery() "
                "THEN extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END",
            )[0]
            bloat = conn.execute(
                """
                SELECT relname, n_dead_tup::float / greatest(n_live_tup, 1)
                FROM pg_stat_user_tables WHERE n_live_tup + n_dead_tup >= %s
                ORDER BY 2 DESC LIMIT 1
                """,
                (thresholds.bloat_min_rows,),
            ).fetchone()
    except psycopg.Error as error:
        return [_error(f"{name}.connect", error)]
    results = [
        ProbeResult(f"{name}.connect", "ok", round(latency, 3), None, "s"),
        _compare(f"{name}.size", size / 1024**3, thresholds.database_size_gb, "GB"),
    ]
    if lag is not None:
        results.append(
            _compare(f"{name}.replication_lag", float(lag), thresholds.replication_lag_seconds, "s")
        )
    if bloat is not None:
        results.append(
            _compare(f"{name}.bloat", bloat[1], thresholds.bloat_ratio, "dead/live", f"table {bloat[0]}")
        )
    else:
        results.append(ProbeResult(f"{name}.bloat", "ok", 0.0, thresholds.bloat_ratio, "dead/live"))
    return results


def probe_redis(url: str) -> list[ProbeResult]:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS, socket_timeout=5)
        started = time.monotonic()
        client.ping()
        latency = time.monotonic() - started
        client.close()
    except redis.RedisError as error:
        return [_error("redis.ping", error)]
    return [ProbeResult("redis.ping", "ok", round(latency, 3), None, "s")]


def probe_host(thresholds: HealthThresholds, disk_paths: Iterable[str]) -> list[ProbeResult]:
    """Disk use of each path's file system, CPU and memory of the host running the check (psutil)."""
    import psutil

    results = []
    seen_devices = set()
    for path in disk_paths:
        try:
            usage = shutil.disk_usage(path)
        except OSError as error:
            results.append(_error(f"disk:{path}", error))
            continue
        key = (usage.total, usage.used)
        if key in seen_devices:
            continue  # two paths on one file system: one result
        seen_devices.add(key)
        results.append(_compare(f"disk:{path}", 100 * usage.used / usage.total, thresholds.disk_percent, "%"))
    results.append(_compare("host.cpu", psutil.cpu_percent(interval=0.5), thresholds.cpu_percent, "%"))
    results.append(_compare("host.memory", psutil.virtual_memory().percent, thresholds.memory_percent, "%"))
    return results


def probe_airflow_heartbeats(
    health: Mapping[str, Any] | Exception, thresholds: HealthThresholds, now: datetime | None = None
) -> list[ProbeResult]:
    """Scheduler and triggerer from ``/api/v2/monitor/health`` (fetched by the caller, or its error)."""
    if isinstance(health, Exception):
        return [_error("airflow.api", health)]
    now = now or datetime.now(UTC)
    results = []
    for component, field in (
        ("scheduler", "latest_scheduler_heartbeat"),
        ("triggerer", "latest_triggerer_heartbeat"),
    ):
        info = health.get(component) or {}
        beat = info.get(field)
        if not beat:
            results.append(_error(f"airflow.{component}", f"no {component} heartbeat recorded"))
            continue
        age = (now - datetime.fromisoformat(beat.replace("Z", "+00:00"))).total_seconds()
        results.append(
            _compare(f"airflow.{component}", age, thresholds.heartbeat_seconds, "s since heartbeat")
        )
    return results


def probe_soundcharts(
    fetch_usage: Callable[[], Mapping[str, Any]], thresholds: HealthThresholds
) -> list[ProbeResult]:
    """Reachability and remaining quota through the free ``/api/v2/team/usage`` endpoint."""
    try:
        started = time.monotonic()
        usage = fetch_usage()
        latency = time.monotonic() - started
    except Exception as error:
        return [_error("soundcharts.reachable", error)]
    results = [ProbeResult("soundcharts.reachable", "ok", round(latency, 3), None, "s")]
    remaining = _find_number(usage, ("remaining", "quotaRemaining", "remainingQuota"))
    if remaining is None:
        results.append(_error("soundcharts.quota", "the usage response names no remaining quota"))
    else:
        status: Status = "breach" if remaining < thresholds.soundcharts_quota_floor else "ok"
        results.append(
            ProbeResult(
                "soundcharts.quota", status, remaining, thresholds.soundcharts_quota_floor, "calls left"
            )
        )
    return results


def _find_number(document: Any, names: tuple[str, ...]) -> float | None:
    if isinstance(document, Mapping):
        for name in names:
            value = document.get(name)
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
        for value in document.values():
            found = _find_number(value, names)
            if found is not None:
                return found
    return None


#: How long after its period a chart's ranking must be stored (publication lag plus the period itself).
EXPECTED_EVERY = {"daily": timedelta(days=2), "weekly": timedelta(days=9), "monthly": timedelta(days=35)}


def probe_overdue_periods(
    dsn: str, thresholds: HealthThresholds, now: datetime | None = None
) -> list[ProbeResult]:
    """Synced charts whose newest stored ranking is older than its period plus publication lag and grace."""
    now = now or datetime.now(UTC)
    grace = timedelta(hours=thresholds.overdue_grace_hours)
    try:
        with connect(dsn, connect_timeout=CONNECT_TIMEOUT_SECONDS) as conn:
            rows = conn.execute(
                """
                SELECT c.slug, lower(c.frequency), max(r.period_end)
                FROM charts c LEFT JOIN rankings r ON r.chart_id = c.id
                WHERE c.sync_enabled GROUP BY c.slug, c.frequency
                """
            ).fetchall()
    except psycopg.Error as error:
        return [_error("charts.overdue", error)]
    overdue = []
    for slug, frequency, last_end in rows:
        expected = EXPECTED_EVERY.get(frequency)
        if expected is None or last_end is None:
            continue  # unknown cadence, or a chart whose first sync has not run yet
        if now - last_end > expected + grace:
            overdue.append(f"{slug} (last period ended {last_end:%Y-%m-%d})")
    return [
        ProbeResult(
            "charts.overdue",
            "breach" if overdue else "ok",
            len(overdue),
            0,
            "charts",
            "; ".join(overdue)[:1000],
        )
    ]


def probe_backups(age: timedelta | Exception | None, stale_after_hours: float) -> list[ProbeResult]:
    """The newest verified backup's age (``None``: no backup at all)."""
    if isinstance(age, Exception):
        return [_error("backup.age", age)]
    if age is None:
        return [
            ProbeResult("backup.age", "breach", None, stale_after_hours, "h", "no verified backup exists")
        ]
    return [_compare("backup.age", age.total_seconds() / 3600, stale_after_hours, "h")]


# --- incidents ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Transition:
    check: str
    kind: Literal["opened", "recovered"]
    result: ProbeResult
    opened_at: datetime


def _alert(alert: AlertFunction, transition: Transition) -> None:
    result = transition.result
    fields = {"Check": result.check, "Status": result.status}
    if result.value is not None:
        fields["Value"] = f"{result.value} {result.unit or ''}".strip()
    if result.threshold is not None:
        fields["Threshold"] = f"{result.threshold} {result.unit or ''}".strip()
    if result.detail:
        fields["Detail"] = result.detail
    if transition.kind == "opened":
        subject = (
            f"health check {result.check}: {'threshold breached' if result.status == 'breach' else 'failing'}"
        )
        severity, body = "critical", "One alert per incident: the next one comes when the check recovers."
    else:
        subject = f"health check {result.check} recovered"
        severity = "recovered"
        body = f"Incident opened {transition.opened_at:%Y-%m-%d %H:%M} UTC is closed."
    alert(subject, body, severity, fields)


def record_results(
    dsn: str,
    results: list[ProbeResult],
    alert: AlertFunction,
    *,
    fallback_state: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> tuple[list[Transition], dict[str, Any]]:
    """Store the results, open/close incidents and alert on each transition.

    Returns the transitions and the new fallback state (the caller persists it between runs): incidents of
    checks that could not be stored because the product database was unreachable.
    """
    now = now or datetime.now(UTC)
    fallback = dict(fallback_state or {})
    transitions: list[Transition] = []
    try:
        with connect(dsn, connect_timeout=CONNECT_TIMEOUT_SECONDS) as conn:
            transitions += _record_in_database(conn, results, now)
            # Checks that were down while the database was: their fallback incidents are settled here.
            for check, opened in list(fallback.items()):
                current = next((r for r in results if r.check == check), None)
                if current is not None and current.status == "ok":
                    transitions.append(
                        Transition(check, "recovered", current, datetime.fromisoformat(opened))
                    )
                    del fallback[check]
    except psycopg.OperationalError as error:
        log.error("product database unreachable, results not stored: %s", error)
        for result in results:
            if result.status != "ok" and result.check not in fallback:
                fallback[result.check] = now.isoformat()
                transitions.append(Transition(result.check, "opened", result, now))
            elif result.status == "ok" and result.check in fallback:
                transitions.append(
                    Transition(
                        result.check, "recovered", result, datetime.fromisoformat(fallback.pop(result.check))
                    )
                )
    for transition in transitions:
        _alert(alert, transition)
    return transitions, fallback


def _record_in_database(
    conn: psycopg.Connection, results: list[ProbeResult], now: datetime
) -> list[Transition]:
    with conn.cursor() as cursor:
        cursor.executemany(
            """
            INSERT INTO health_check_results (checked_at, check_name, status, value, threshold, unit, detail)
            VALUES (%s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (check_name, checked_at) DO NOTHING
            """,
            [(now, r.check, r.status, r.value, r.threshold, r.unit, r.detail) for r in results],
        )
    # Serialise concurrent health runs so that one incident is opened (and alerted) once.
    conn.execute("LOCK TABLE health_incidents IN SHARE ROW EXCLUSIVE MODE")
    open_incidents: dict[str, datetime] = dict(
        conn.execute("SELECT check_name, opened_at FROM health_incidents WHERE closed_at IS NULL").fetchall()
    )
    transitions = []
    for result in results:
        opened = open_incidents.get(result.check)
        if result.status != "ok" and opened is None:
            conn.execute(
                "INSERT INTO health_incidents (check_name, opened_at, status, detail, alerted_at) "
                "VALUES (%s, %s, %s, %s, %s)",
                (result.check, now, result.status, result.detail, now),
            )
            transitions.append(Transition(result.check, "opened", result, now))
        elif result.status == "ok" and opened is not None:
            conn.execute(
                "UPDATE health_incidents SET closed_at = %s, recovery_alerted_at = %s "
                "WHERE check_name = %s AND closed_at IS NULL",
                (now, now, result.check),
            )
            transitions.append(Transition(result.check, "recovered", result, opened))
    return transitions


def results_summary(results: list[ProbeResult]) -> dict[str, Any]:
    """A JSON-friendly summary (the task's return value)."""
    return {
        "ok": sum(r.status == "ok" for r in results),
        "not_ok": {
            r.check: f"{r.status}: {r.value} {r.unit or ''} {r.detail}".strip()
            for r in results
            if r.status != "ok"
        },
    }


def dumps_state(state: Mapping[str, Any]) -> str:
    return json.dumps(dict(state), sort_keys=True)
