"""What the analytics DAGs' tasks do, against Airflow's connections and object storage.

The computations live in ``musiccharts.analytics`` (no Airflow); this module only opens the product database
(connection ``musiccharts_db``), resolves the export location as an ``ObjectStoragePath`` and turns results
into XCom-sized summaries.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: Overrides ``exports.base_url`` of analytics.yaml (e.g. ``s3://aws_default@bucket/analytics``).
EXPORT_URL_ENV = "MUSICCHARTS_ANALYTICS_EXPORT_URL"
_PROJECT_ROOT = Path(__file__).resolve().parents[2]


def export_base():
    """Where exports and plots go: any fsspec URL, or a folder (relative to the project root)."""
    from airflow.sdk import ObjectStoragePath

    from musiccharts.analytics.config import load_analytics_config

    url = os.environ.get(EXPORT_URL_ENV) or load_analytics_config().exports.base_url
    if "://" in url:
        return ObjectStoragePath(url)
    folder = Path(url) if Path(url).is_absolute() else _PROJECT_ROOT / url
    return ObjectStoragePath(f"file://{folder}")


def _connect():
    import psycopg

    from musiccharts_airflow.product_db import product_dsn

    return psycopg.connect(product_dsn())


# --- chart trends -----------------------------------------------------------------------------------------


def refresh_trends(force: bool = False) -> dict[str, Any]:
    from musiccharts.analytics.trends import refresh_chart_trends

    with _connect() as conn:
        result = refresh_chart_trends(conn, force=force)
    log.info("chart trends: %s", {k: v for k, v in result.as_xcom().items() if k != "ranking_days"})
    return result.as_xcom()


def export_trends(refresh: dict[str, Any]) -> list[str]:
    from musiccharts.analytics.exports import export_days

    days = [date.fromisoformat(day) for day in refresh.get("ranking_days", [])]
    with _connect() as conn:
        return export_days(conn, export_base(), "chart_trends", days)


def plot_bump_charts() -> list[str]:
    """One bump chart per enabled chart: ``plots/bump/<slug>.png``."""
    from musiccharts.analytics.config import load_analytics_config
    from musiccharts.analytics.plots import bump_chart_data, bump_chart_png
    from musiccharts.config import load_chart_configs

    settings = load_analytics_config().exports
    base = export_base()
    written = []
    with _connect() as conn:
        for chart in load_chart_configs():
            if not chart.enabled:
                continue
            dates, positions = bump_chart_data(
                conn, chart.slug, settings.bump_chart_top, settings.bump_chart_periods
            )
            if not dates:
                continue
            path = base / "plots" / "bump" / f"{chart.slug}.png"
            title = f"{chart.slug}: top {settings.bump_chart_top}, last {len(dates)} rankings"
            written.append(str(bump_chart_png(path, title, dates, positions, settings.bump_chart_top)))
    return written


# --- chart health -------------------------------------------------------------------------------------------


def compute_health(as_of: str | None = None) -> list[dict[str, Any]]:
    from musiccharts.analytics.config import load_analytics_config
    from musiccharts.analytics.health import refresh_chart_health
    from musiccharts.config import load_chart_configs

    moment = datetime.fromisoformat(as_of) if as_of else datetime.now(UTC)
    charts = [chart for chart in load_chart_configs() if chart.enabled]
    with _connect() as conn:
        healths = refresh_chart_health(conn, charts, load_analytics_config().health, moment)
    return [health.as_xcom() for health in healths]


def export_health(healths: list[dict[str, Any]]) -> list[str]:
    from musiccharts.analytics.exports import export_days

    days = {date.fromisoformat(health["day"]) for health in healths}
    with _connect() as conn:
        return export_days(conn, export_base(), "chart_health", days)


def alert_unhealthy(healths: list[dict[str, Any]]) -> list[str]:
    """Alert through the project notifier for every chart below ``alert_below``; returns their slugs."""
    from musiccharts.analytics.config import load_analytics_config
    from musiccharts_airflow.notifications import Severity, send_alert

    threshold = load_analytics_config().health.alert_below
    below = [health for health in healths if health["score"] < threshold]
    if below:
        lines = [
            f"{h['slug']}: score {h['score']} ({h['band']}), recent completeness "
            f"{h['recent_completeness']:.0%}, {int(h['freshness_ratio'] or 0)} period(s) behind, "
            f"{h['validation_failures']} failing ranking(s), missing {h['details']['missing_recent_periods']}"
            for h in below
        ]
        send_alert(
            f"{len(below)} chart(s) below health score {threshold}",
            "\n".join(lines) + "\n\nBackfill the missing periods or rerun failing ones with `force`.",
            Severity.WARNING,
            fields={h["slug"]: f"{h['score']} ({h['band']})" for h in below},
        )
    return [health["slug"] for health in below]


# --- fraud --------------------------------------------------------------------------------------------------


def score_fraud(entity_type: str) -> dict[str, Any]:
    from musiccharts.analytics.config import load_analytics_config
    from musiccharts.analytics.fraud_store import score_and_store

    with _connect() as conn:
        result = score_and_store(conn, entity_type, load_analytics_config().fraud)
    log.info("fraud scoring of %ss: %s", entity_type, result.as_xcom())
    return {"entity_type": entity_type, **result.as_xcom()}


def export_fraud(day: str) -> list[str]:
    from musiccharts.analytics.exports import fraud_rows, write_partition

    with _connect() as conn:
        rows = fraud_rows(conn)
    paths = write_partition(export_base(), "fraud_flags", date.fromisoformat(day), rows)
    return [str(path) for path in paths]


def plot_top_flags(limit: int = 10) -> list[str]:
    """The audience series of the ``limit`` highest-scored flagged series, with their flags shaded."""
    from psycopg import sql

    from musiccharts.analytics.plots import audience_flags_png

    base = export_base()
    written = []
    with _connect() as conn:
        series = conn.execute(
            """
            SELECT entity_type, entity_id, platform, identifier, max(score) AS best
            FROM audience_fraud_flags GROUP BY 1, 2, 3, 4 ORDER BY best DESC, 1, 2, 3, 4 LIMIT %s
            """,
            (limit,),
        ).fetchall()
        for entity_type, entity_id, platform, identifier, _ in series:
            points = conn.execute(
                sql.SQL(
                    "SELECT date, {value} FROM {table}"
                    " WHERE {column} = %s AND platform = %s AND identifier = %s ORDER BY date"
                ).format(
                    value=sql.SQL(
                        "value" if entity_type == "track" else "coalesce(follower_count, listener_count)"
                    ),
                    table=sql.Identifier(f"{entity_type}_audience"),
                    column=sql.Identifier(f"{entity_type}_id"),
                ),
                (entity_id, platform, identifier),
            ).fetchall()
            flags = conn.execute(
                "SELECT detector, window_start, window_end FROM audience_fraud_flags WHERE entity_type = %s"
                " AND entity_id = %s AND platform = %s AND identifier = %s ORDER BY window_start",
                (entity_type, entity_id, platform, identifier),
            ).fetchall()
            if len(points) < 2:
                continue
            name = f"{entity_type}-{entity_id}-{platform}" + (f"-{identifier}" if identifier else "")
            path = base / "plots" / "fraud" / f"{name}.png"
            audience_flags_png(
                path,
                f"{entity_type} {entity_id} on {platform}",
                [p[0] for p in points],
                [float(p[1]) for p in points],
                flags,
            )
            written.append(str(path))
    return written


# --- performance ------------------------------------------------------------------------------------------


def run_performance(cadence: str, params: dict[str, Any], run_after: datetime) -> dict[str, Any]:
    """Reports of the Params' period, or of the last complete week/month before the run."""
    from musiccharts.analytics.performance import refresh_performance

    start, end = _period(cadence, params, run_after)
    with _connect() as conn:
        ids: dict[str, list[int] | None] = {}
        for kind in ("track", "artist"):
            uuids = [value.lower() for value in params.get(f"{kind}_uuids") or []]
            if not uuids:
                ids[kind] = None
                continue
            found = [row[0] for row in conn.execute(f"SELECT id FROM {kind}s WHERE uuid = ANY(%s)", (uuids,))]
            if len(found) != len(set(uuids)):
                raise ValueError(f"unknown {kind} uuid(s) among {uuids}")
            ids[kind] = found
        result = refresh_performance(
            conn,
            start,
            end,
            track_ids=ids["track"],
            artist_ids=ids["artist"],
            platforms=params.get("platforms") or None,
        )
    log.info("performance %s..%s: %s", start, end, result.as_xcom())
    return result.as_xcom()


def export_performance(run: dict[str, Any]) -> list[str]:
    from musiccharts.analytics.exports import write_partition
    from musiccharts.analytics.performance import performance_rows

    start, end = date.fromisoformat(run["period_start"]), date.fromisoformat(run["period_end"])
    with _connect() as conn:
        rows = performance_rows(conn, start, end)
    # Partitioned by the period's last day; two periods ending the same day share the partition's file.
    base = export_base() / f"period={start.isoformat()}"
    return [str(path) for path in write_partition(base, "performance", end, rows)]


#: Share of failed batches, over the streaming and airplay fetches together, above which the run's fetch
#: summary fails (the reports are computed anyway, over what is stored).
FETCH_FAILURE_THRESHOLD = 0.5

#: Artists per mapped fetch instance, and the most instances one run maps.
STREAMING_BATCH_SIZE = 25
STREAMING_MAX_BATCHES = 200
STREAMING_PLATFORM = "spotify"


def _period(cadence: str, params: Mapping[str, Any], run_after: datetime | None = None) -> tuple[date, date]:
    from musiccharts.analytics.performance import previous_period

    if params.get("period_start") and params.get("period_end"):
        return date.fromisoformat(params["period_start"]), date.fromisoformat(params["period_end"])
    if run_after is None:
        from airflow.sdk import get_current_context

        run_after = get_current_context()["dag_run"].run_after
    return previous_period(cadence, run_after.astimezone(UTC).date())


def streaming_limits():
    from musiccharts_airflow.mapped_batches import BatchLimits

    return BatchLimits(batch_size=STREAMING_BATCH_SIZE, max_batches=STREAMING_MAX_BATCHES)


def _report_asked_for(platform: str, params: Mapping[str, Any]) -> bool:
    """False when the by-hand ``platforms`` Param leaves ``platform`` out: fetching would only spend quota."""
    platforms = params.get("platforms") or []
    if platforms and platform not in platforms:
        log.info("%s not among the selected platforms %s: nothing fetched", platform, platforms)
        return False
    return True


def select_missing_streaming(cadence: str, params: Mapping[str, Any]) -> list[str]:
    """Artists whose streaming audience is missing on the period's last day.
    Empty when the by-hand ``platforms`` Param leaves the streaming platform out (its report would not be
    computed, so the fetch would only spend quota)."""
    from musiccharts.analytics.performance import STREAMING_SUFFIX, artists_missing_streaming

    if not _report_asked_for(STREAMING_PLATFORM + STREAMING_SUFFIX, params):  # its report rows' platform
        return []
    _, end = _period(cadence, params)
    with _connect() as conn:
        return artists_missing_streaming(conn, STREAMING_PLATFORM, end, params.get("artist_uuids") or None)


def fetch_streaming(cadence: str, ids: list[str], params: Mapping[str, Any]) -> dict[str, int]:
    """Fetch (every window, every page) and store the streaming audience of one batch of artists."""
    from musiccharts.analytics.performance import store_artist_streaming
    from musiccharts.soundcharts.errors import SoundchartsNotFound
    from musiccharts_airflow.hooks.soundcharts import SoundchartsHook

    hook = SoundchartsHook()
    start, end = _period(cadence, params)
    written = missing = 0
    with _connect() as conn:
        for artist_uuid in ids:
            try:
                points = hook.get_artist_streaming_audience(artist_uuid, STREAMING_PLATFORM, start, end)
            except SoundchartsNotFound:
                missing += 1  # no streaming profile on the platform: nothing to report, not an error
                continue
            rows = [(point.date.date(), point.value) for point in points if point.value is not None]
            written += store_artist_streaming(conn, artist_uuid, STREAMING_PLATFORM, rows)
    return {"artists": len(ids), "rows_written": written, "not_found": missing}


#: Artists per mapped airplay batch: each artist costs one request (or more pages) per missing day.
AIRPLAY_BATCH_SIZE = 10
AIRPLAY_MAX_BATCHES = 200


def airplay_limits():
    from musiccharts_airflow.mapped_batches import BatchLimits

    return BatchLimits(batch_size=AIRPLAY_BATCH_SIZE, max_batches=AIRPLAY_MAX_BATCHES)


def _airplay_period(cadence: str, params: Mapping[str, Any]) -> tuple[date, date]:
    """The period, cut at yesterday (UTC): today's spins are not counted yet, and would be stored as 0."""
    from datetime import timedelta

    start, end = _period(cadence, params)
    return start, min(end, datetime.now(UTC).date() - timedelta(days=1))


def _airplay_unsettled_from() -> date:
    """First day of the settle window (analytics.yaml ``airplay.settle_days``): fetched on every run."""
    from datetime import timedelta

    from musiccharts.analytics.config import load_analytics_config

    settle_days = load_analytics_config().airplay.settle_days
    return datetime.now(UTC).date() - timedelta(days=settle_days)


def select_missing_airplay(cadence: str, params: Mapping[str, Any]) -> list[str]:
    """Artists with at least one day of the period to fetch: without stored airplay, or not settled yet.
    Empty when the by-hand ``platforms`` Param leaves airplay out (its report would not be computed)."""
    from musiccharts.analytics.performance import AIRPLAY_PLATFORM, artists_missing_airplay

    if not _report_asked_for(AIRPLAY_PLATFORM, params):
        return []
    start, end = _airplay_period(cadence, params)
    with _connect() as conn:
        return sorted(
            artists_missing_airplay(
                conn, start, end, params.get("artist_uuids") or None, _airplay_unsettled_from()
            )
        )


def fetch_airplay(cadence: str, ids: list[str], params: Mapping[str, Any]) -> dict[str, int]:
    """For each artist of the batch and each day it lacks or that has not settled: every page of that day's
    broadcast groups, summed over stations and stored (one request per day: the endpoint only totals a whole
    period). A re-fetched unsettled day's answer replaces the stored value."""
    from musiccharts.analytics.performance import artists_missing_airplay, daily_spins, store_artist_airplay
    from musiccharts.soundcharts.errors import SoundchartsNotFound
    from musiccharts_airflow.hooks.soundcharts import SoundchartsHook

    hook = SoundchartsHook()
    start, end = _airplay_period(cadence, params)
    unsettled_from = _airplay_unsettled_from()
    written = missing = days_fetched = 0
    with _connect() as conn:
        for artist_uuid, days in artists_missing_airplay(conn, start, end, ids, unsettled_from).items():
            spins = []
            try:
                for day in days:
                    groups = hook.get_artist_broadcast_groups(artist_uuid, day, day)
                    spins.append((day, daily_spins([group.play_count for group in groups])))
            except SoundchartsNotFound:
                missing += 1  # unknown to Soundcharts' radio monitoring: nothing to report, not an error
                continue
            days_fetched += len(spins)
            written += store_artist_airplay(conn, artist_uuid, spins)
    return {"artists": len(ids), "days_fetched": days_fetched, "rows_written": written, "not_found": missing}
