"""Units of work of the catalog DAGs: fetch one batch from Soundcharts and load it in one transaction.

``client`` is anything with the :class:`musiccharts.soundcharts.client.SoundchartsClient` methods (the
Airflow ``SoundchartsHook`` delegates them), so the same code runs in tasks, tests and benchmarks.
Each function returns a small dict of counts (XCom-sized).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from musiccharts.catalog import audience as audience_plan
from musiccharts.catalog import load, select
from musiccharts.catalog.batching import chunked
from musiccharts.catalog.useless_calls import forget_useless, remember_useless, resting_calls

log = logging.getLogger(__name__)


def _items(result: Any) -> list[Any]:
    """Model items of a client result: a list, or a collection/page model with ``items``."""
    if result is None:
        return []
    if hasattr(result, "items") and not isinstance(result, dict | list):
        return list(result.items)
    return list(result)


def _connect(dsn: str):
    from musiccharts.db.connection import product_db_session

    return product_db_session(dsn)


def _remember_batch_answer(conn, endpoint: str, uuids: Sequence[str], served: set[str], today: date) -> None:
    """A uuid the batch endpoint left out is put off with a backoff; one it served is asked normally."""
    remember_useless(
        conn,
        endpoint,
        ((value, "", "left_out_of_batch") for value in uuids if value.lower() not in served),
        today=today,
    )
    forget_useless(conn, endpoint, ((value, "") for value in served))


def fetch_and_load_tracks(
    client: Any, dsn: str, uuids: Sequence[str], *, endpoint_max: int, fetched_at: datetime | None = None
) -> dict[str, int]:
    """Fetch the metadata of ``uuids`` (calls chunked to ``endpoint_max``) and load them in one transaction.

    Everything is fetched before anything is written: a failing call leaves the database untouched.
    """
    fetched_at = fetched_at or datetime.now(UTC)
    songs = []
    for chunk in chunked(list(uuids), endpoint_max):
        songs.extend(_items(client.get_songs(chunk)))
    served = {song.uuid.lower() for song in songs}
    not_found = [value for value in uuids if value.lower() not in served]
    with _connect(dsn) as conn:
        result = load.load_track_metadata(conn, songs, fetched_at=fetched_at)
        _remember_batch_answer(conn, "song_batch", uuids, served, fetched_at.date())
    if not_found:
        log.warning("%d track(s) not served by the batch endpoint, e.g. %s", len(not_found), not_found[:3])
    return {
        **result.as_xcom(),
        "requested": len(uuids),
        "not_found": len(not_found),
        "calls": math.ceil(len(uuids) / endpoint_max),
    }


def fetch_and_load_artists(
    client: Any, dsn: str, uuids: Sequence[str], *, endpoint_max: int, fetched_at: datetime | None = None
) -> dict[str, int]:
    """Artist counterpart of :func:`fetch_and_load_tracks` (the artist batch endpoint takes <= 10 uuids)."""
    fetched_at = fetched_at or datetime.now(UTC)
    artists = []
    for chunk in chunked(list(uuids), endpoint_max):
        artists.extend(_items(client.get_artists(chunk)))
    served = {artist.uuid.lower() for artist in artists}
    with _connect(dsn) as conn:
        result = load.load_artist_metadata(conn, artists, fetched_at=fetched_at)
        _remember_batch_answer(conn, "artist_batch", uuids, served, fetched_at.date())
    not_found = sum(1 for value in uuids if value.lower() not in served)
    return {
        **result.as_xcom(),
        "requested": len(uuids),
        "not_found": not_found,
        "calls": math.ceil(len(uuids) / endpoint_max),
    }


def fetch_and_load_audience(
    client: Any,
    dsn: str,
    kind: select.EntityKind,
    uuids: Sequence[str],
    *,
    platforms: Sequence[str],
    until: date,
    first_fetch_days: int,
    max_window_days: int,
    fetched_at: datetime | None = None,
) -> dict[str, int]:
    """Fetch only the new dates of every entity x platform of a batch, then load them in one transaction.

    A platform the entity has no page for (404: e.g. no Shazam identifier) is counted and skipped; other
    errors fail the batch before anything is written.
    """
    from musiccharts.soundcharts.errors import SoundchartsNotFound

    fetched_at = fetched_at or datetime.now(UTC)
    endpoint = f"{kind}_audience"
    with _connect(dsn) as conn:
        last = audience_plan.latest_per_platform(select.last_audience_dates(conn, kind, uuids, platforms))
        resting = resting_calls(conn, endpoint, uuids, today=until)
    plan = audience_plan.plan_entity_windows(
        [value.lower() for value in uuids],
        platforms,
        last,
        until,
        first_fetch_days=first_fetch_days,
        max_window_days=max_window_days,
    )
    # Series that answered 404 or no data lately are not asked again before their retry date.
    skipped = [series for series in plan if series in resting]
    for series in skipped:
        del plan[series]
    points: list[load.AudiencePoint] = []
    windows = missing = 0
    useless: list[tuple[str, str, str]] = []
    useful: list[tuple[str, str]] = []
    for (entity_uuid, platform), entity_windows in plan.items():
        found = 0
        try:
            for window in entity_windows:
                windows += 1
                if kind == "track":
                    items = _items(client.get_song_audience(entity_uuid, platform, window.start, window.end))
                    new = load.audience_points_from_song_items(entity_uuid, platform, items)
                else:
                    items = _items(
                        client.get_artist_audience(entity_uuid, platform, window.start, window.end)
                    )
                    new = load.audience_points_from_artist_items(entity_uuid, platform, items)
                points.extend(new)
                found += len(new)
        except SoundchartsNotFound:
            missing += 1
            useless.append((entity_uuid, platform, "not_found"))
            continue
        if found:
            useful.append((entity_uuid, platform))
        elif not last.get((entity_uuid, platform)):
            # Nothing ever stored and nothing served: a series this entity does not have on the platform.
            useless.append((entity_uuid, platform, "no_data"))
    with _connect(dsn) as conn:
        changed = load.load_audience(conn, kind, points, fetched_at=fetched_at)
        remember_useless(conn, endpoint, useless, today=until)
        forget_useless(conn, endpoint, useful)
    return {
        "entities": len(uuids),
        "series": len(plan),
        "windows": windows,
        "points": len(points),
        "rows_changed": changed,
        "not_found": missing,
        "no_data": sum(1 for *_, reason in useless if reason == "no_data"),
        "put_off": len(skipped),
    }


def refresh_catalogue(
    client: Any,
    dsn: str,
    *,
    countries: Iterable[str],
    platforms: Iterable[str] = (),
    enabled_slugs: Iterable[str] = (),
    seen_at: datetime | None = None,
) -> dict[str, Any]:
    """Platforms, then the chart list of every (platform, country); all upserted in one transaction."""
    seen_at = seen_at or datetime.now(UTC)
    served_platforms = _items(client.get_song_chart_platforms())
    wanted = set(platforms)
    selected = [platform for platform in served_platforms if not wanted or platform.code in wanted]
    charts = []
    for platform in selected:
        for country in countries:
            if country == "GLOBAL":
                # Without countryCode the list may hold every country's charts: keep the worldwide ones.
                served = _items(client.get_charts(platform.code, country_code=None))
                charts.extend(chart for chart in served if not chart.country_code)
            else:
                served = _items(client.get_charts(platform.code, country_code=country))
                charts.extend(chart for chart in served if chart.country_code in (None, "", country))
    with _connect(dsn) as conn:
        result = load.load_catalogue(
            conn, served_platforms, charts, enabled_slugs=enabled_slugs, seen_at=seen_at
        )
    return result.as_xcom()


# --- run summary --------------------------------------------------------------------------------------------


class TooManyFailedBatches(RuntimeError):
    """More than the configured share of a run's batches failed."""


@dataclass(frozen=True)
class BatchSummary:
    planned: int
    succeeded: int
    totals: dict[str, int]

    @property
    def failed(self) -> int:
        return self.planned - self.succeeded

    @property
    def failed_share(self) -> float:
        return self.failed / self.planned if self.planned else 0.0


def summarise_batches(
    planned: int, results: Iterable[dict[str, Any] | None], threshold: float
) -> BatchSummary:
    """Add up the batch results; raise :class:`TooManyFailedBatches` when failed / planned > ``threshold``.

    A failed batch leaves no result, so failures are ``planned - results``. Failing *at* the threshold is
    allowed: the rule is "more than".
    """
    totals: dict[str, int] = {}
    succeeded = 0
    for result in results:
        if result is None:
            continue
        succeeded += 1
        for key, value in result.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                totals[key] = totals.get(key, 0) + int(value)
    summary = BatchSummary(planned=planned, succeeded=succeeded, totals=totals)
    log.info(
        "batches planned=%d succeeded=%d failed=%d (%.1f%%, threshold %.1f%%) totals=%s",
        planned,
        succeeded,
        summary.failed,
        100 * summary.failed_share,
        100 * threshold,
        totals,
    )
    if summary.failed_share > threshold:
        raise TooManyFailedBatches(
            f"{summary.failed} of {planned} batches failed ({summary.failed_share:.1%} > {threshold:.1%})"
        )
    return summary
