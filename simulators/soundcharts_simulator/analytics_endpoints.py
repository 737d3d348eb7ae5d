"""Simulator endpoints the analytics need: the artist streaming audience (monthly listeners) and airplay.

``GET /api/v2/artist/{uuid}/streaming/{platform}?startDate=&endDate=&offset=&limit=`` answers in the shape of
the recorded response (``soundcharts_get_artists_streaming_audience.json``): ``related`` (artist, platform,
lastCrawlDate), ``items`` of ``{date, value, cityPlots, countryPlots}`` newest first, paginated like every
collection of the simulator. Values are derived from the catalogue's deterministic artist audience (a
streaming audience is a multiple of the follower count), so repeated calls agree.

``GET /api/v2/artist/{uuid}/broadcast-groups?startDate=&endDate=&offset=&limit=`` answers like the official
"Get radio spin count" reference (BroadcastGroupCollectionResponse: ``related``, ``items`` of ``{playCount,
radio{name, slug, countryCode, countryName, cityName, timeZone, imageUrl}}``, ``page``, ``errors``) and is
strict where the docs are: dates in YYYY-MM-DD (startDate defaults to 30 days before endDate), ``limit`` at
most 100 (a larger one is refused, not clamped), 404 "Artist not found" for an unknown uuid. The docs give no
longest period; the simulator refuses more than ``MAX_AUDIENCE_DAYS`` like its audience endpoints. No
response of this endpoint was recorded: the shape is the documented one.

Kept in its own module and registered by :func:`endpoints` so that the core app stays the one table of routes.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

#: Platforms with a streaming audience in the simulator (the documented ones include these).
STREAMING_PLATFORMS = frozenset({"spotify", "youtube", "deezer", "apple-music"})
_LISTENERS_PER_FOLLOWER = 3


def _artist_streaming(call: Any) -> dict[str, Any]:
    from soundcharts_simulator.app import ApiError, _artist_or_404, _audience_window, _collection

    platform = call.params["platform"]
    artist = _artist_or_404(call, call.params["uuid"])
    if platform not in STREAMING_PLATFORMS:
        raise ApiError(400, "platform", f"Invalid platform {platform!r}")
    start, end = _audience_window(call)
    followers = call.catalogue.artist_audience(artist["uuid"], "spotify", start, end, now=call.now)
    items = [
        {
            "date": point["date"],
            "value": int(point["followerCount"]) * _LISTENERS_PER_FOLLOWER,
            "cityPlots": [],
            "countryPlots": [],
        }
        for point in followers
    ]
    related = {
        "artist": {key: artist[key] for key in ("uuid", "slug", "name", "appUrl", "imageUrl")},
        "platform": platform,
        "lastCrawlDate": f"{call.catalogue.last_crawl_day(call.now).isoformat()}T00:00:00+00:00",
    }
    return _collection(call, items, {"related": related})


_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _strict_day(call: Any, name: str) -> date | None:
    from soundcharts_simulator.app import ApiError

    text = call.arg(name)
    if not text:
        return None
    try:
        if not _DAY.match(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise ApiError(400, name, f"Invalid date for '{name}': expected YYYY-MM-DD, got {text!r}") from None


def _artist_broadcast_groups(call: Any) -> dict[str, Any]:
    from soundcharts_simulator.app import MAX_AUDIENCE_DAYS, MAX_LIMIT, ApiError, _artist_or_404, _collection

    artist = _artist_or_404(call, call.params["uuid"])
    limit = call.arg("limit")
    if limit not in (None, "") and (not limit.isdigit() or not 1 <= int(limit) <= MAX_LIMIT):
        raise ApiError(400, "limit", f"Invalid value for 'limit': {limit!r} (1 to {MAX_LIMIT})")
    end = _strict_day(call, "endDate") or call.catalogue.last_crawl_day(call.now)
    start = _strict_day(call, "startDate") or end - timedelta(days=30)
    if start > end:
        raise ApiError(400, "startDate", "startDate must be before endDate")
    if (end - start).days > MAX_AUDIENCE_DAYS:
        raise ApiError(400, "period", f"The period cannot exceed {MAX_AUDIENCE_DAYS} days")
    items = call.catalogue.artist_broadcast_groups(artist["uuid"], start, end, now=call.now)
    related = {key: artist[key] for key in ("uuid", "slug", "name", "imageUrl")}
    return _collection(call, items, {"related": related})


def endpoints(version_pattern: str) -> list[tuple[str, re.Pattern[str], Any]]:
    """(endpoint name, path pattern, handler) rows for the simulator's route table."""
    return [
        (
            "artist_streaming",
            re.compile(rf"^{version_pattern}/artist/(?P<uuid>[^/,]+)/streaming/(?P<platform>[^/]+)$"),
            _artist_streaming,
        ),
        (
            "artist_broadcast_groups",
            re.compile(rf"^{version_pattern}/artist/(?P<uuid>[^/,]+)/broadcast-groups$"),
            _artist_broadcast_groups,
        ),
    ]
