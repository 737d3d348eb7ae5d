"""Simulator endpoints the analytics need: the artist streaming audience (monthly listeners).

``GET /api/v2/artist/{uuid}/streaming/{platform}?startDate=&endDate=&offset=&limit=`` answers in the shape of
the recorded response (``soundcharts_get_artists_streaming_audience.json``): ``related`` (artist, platform,
lastCrawlDate), ``items`` of ``{date, value, cityPlots, countryPlots}`` newest first, paginated like every
collection of the simulator. Values are derived from the catalogue's deterministic artist audience (a
streaming audience is a multiple of the follower count), so repeated calls agree.

Kept in its own module and registered by :func:`endpoints` so that the core app stays the one table of routes.
"""

from __future__ import annotations

import re
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


def endpoints(version_pattern: str) -> list[tuple[str, re.Pattern[str], Any]]:
    """(endpoint name, path pattern, handler) rows for the simulator's route table."""
    return [
        (
            "artist_streaming",
            re.compile(rf"^{version_pattern}/artist/(?P<uuid>[^/,]+)/streaming/(?P<platform>[^/]+)$"),
            _artist_streaming,
        )
    ]
