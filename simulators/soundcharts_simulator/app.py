"""FastAPI app serving the synthetic catalogue: real Soundcharts shapes, auth, quota, rate limit, faults.

One catch-all route dispatches on compiled path patterns rather than one FastAPI route per endpoint: every
endpoint exists under any version segment (``/api/v2/...``, ``/api/v2.14/...``), and auth, quota, the rate
limit, fault injection and the request log must wrap every call the same way, errors included.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from soundcharts_simulator.analytics_endpoints import endpoints as analytics_endpoints
from soundcharts_simulator.catalogue import (
    ARTIST_AUDIENCE_PLATFORMS,
    PLATFORM_NAMES,
    SONG_AUDIENCE_PLATFORMS,
    Catalogue,
    UnknownEntityError,
    parse_ranking_datetime,
)
from soundcharts_simulator.state import RequestInfo, RequestRecord, SimulatorState

__all__ = ["ENDPOINTS", "ApiError", "create_app"]

log = logging.getLogger("soundcharts_simulator")

MAX_LIMIT = 100
MAX_AUDIENCE_DAYS = 90
_VERSION = r"/api/v2(?:\.\d+)?"


class ApiError(Exception):
    """An error answer: ``{"errors": [{"key", "code", "message"}]}`` with HTTP ``status``."""

    def __init__(self, status: int, key: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.key, self.message = status, key, message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"errors": [{"key": self.key, "code": self.status, "message": self.message}]}


@dataclass
class _Call:
    """Everything a handler needs about one request."""

    catalogue: Catalogue
    state: SimulatorState
    raw_path: str
    query: list[tuple[str, str]]
    params: dict[str, str]
    now: datetime

    def arg(self, name: str) -> str | None:
        for key, value in self.query:
            if key == name:
                return value
        return None


# --- paging ---------------------------------------------------------------------------------------------


def _int_arg(call: _Call, name: str, default: int, minimum: int) -> int:
    text = call.arg(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise ApiError(400, name, f"Invalid value for '{name}': {text!r} is not an integer") from None
    if value < minimum:
        raise ApiError(400, name, f"Invalid value for '{name}': must be >= {minimum}")
    return value


def _link(call: _Call, offset: int, limit: int) -> str:
    """Relative link to another page: same path (version included) and query, new offset (and limit)."""
    pairs, seen = [], set()
    for key, value in call.query:
        if key == "offset":
            value = str(offset)
        elif key == "limit":
            value = str(limit)
        seen.add(key)
        pairs.append((key, value))
    if "offset" not in seen:
        pairs.append(("offset", str(offset)))
    if "limit" not in seen:
        pairs.append(("limit", str(limit)))
    return f"{call.raw_path}?{urlencode(pairs, safe=':,')}"


def _collection(call: _Call, items: list[Any], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Page ``items`` by ``offset``/``limit`` into the collection envelope."""
    offset = _int_arg(call, "offset", 0, 0)
    limit = min(_int_arg(call, "limit", MAX_LIMIT, 1), MAX_LIMIT)
    total = len(items)
    next_link = _link(call, offset + limit, limit) if offset + limit < total else None
    previous_link = _link(call, max(0, offset - limit), limit) if offset > 0 else None
    payload: dict[str, Any] = dict(extra or {})
    payload["items"] = items[offset : offset + limit]
    payload["page"] = {
        "offset": offset,
        "limit": limit,
        "next": next_link,
        "previous": previous_link,
        "total": total,
    }
    payload["errors"] = []
    return payload


def _day_arg(call: _Call, name: str) -> date | None:
    text = call.arg(name)
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise ApiError(400, name, f"Invalid date for '{name}': expected YYYY-MM-DD, got {text!r}") from None


def _audience_window(call: _Call) -> tuple[date, date]:
    end = _day_arg(call, "endDate") or call.catalogue.last_crawl_day(call.now)
    start = _day_arg(call, "startDate") or end - timedelta(days=30)
    if start > end:
        raise ApiError(400, "startDate", "startDate must be before endDate")
    if (end - start).days > MAX_AUDIENCE_DAYS:
        raise ApiError(400, "period", f"The period cannot exceed {MAX_AUDIENCE_DAYS} days")
    return start, end


# --- handlers ---------------------------------------------------------------------------------------------


def _platforms(call: _Call) -> dict[str, Any]:
    return _collection(call, call.catalogue.platforms())


def _chart_list(call: _Call) -> dict[str, Any]:
    platform = call.params["platform"]
    if platform not in PLATFORM_NAMES:
        raise ApiError(404, "platform", "Platform not found")
    country = call.arg("countryCode") or None
    charts = call.catalogue.charts(platform=platform, country_code=country)
    return _collection(call, [chart.to_api() for chart in charts])


def _chart_or_404(call: _Call):
    try:
        return call.catalogue.chart(call.params["slug"])
    except UnknownEntityError:
        raise ApiError(404, "chart", "Chart not found") from None


def _ranking(call: _Call) -> dict[str, Any]:
    """``{datetime}`` must be a published ranking's own datetime (the official docs send clients to
    ``available-rankings`` "to query the correct date"); any other datetime is 404. With the lenient knob
    the latest ranking dated on or before the given day is served instead (the old, forgiving behaviour)."""
    chart = _chart_or_404(call)
    when = call.params["when"]
    latest = chart.latest_period(call.now)
    if when == "latest":
        period = latest
    else:
        try:
            moment = parse_ranking_datetime(when)
        except ValueError:
            raise ApiError(400, "datetime", f"Invalid datetime {when!r}: expected ATOM format") from None
        if call.state.lenient_ranking_dates:
            period = min(chart.period_on_or_before(moment.date()), latest)
        else:
            dated = chart.period_dated(moment)
            period = dated if dated is not None and dated <= latest else -1
    if period < 0:
        raise ApiError(404, "ranking", "Ranking not found")
    snapshot = call.catalogue.ranking_at_period(chart.slug, period)
    return _collection(call, snapshot.items, {"related": snapshot.related})


def _available_rankings(call: _Call) -> dict[str, Any]:
    chart = _chart_or_404(call)
    dates = [moment.isoformat() for moment in call.catalogue.ranking_dates(chart.slug, call.now)]
    return _collection(call, dates, {"related": {"chart": chart.to_api()}})


def _song_or_404(call: _Call, song_uuid: str) -> dict[str, Any]:
    if call.state.is_missing(song_uuid):
        raise ApiError(404, "song", "Song not found")
    try:
        return call.catalogue.song(song_uuid)
    except UnknownEntityError:
        raise ApiError(404, "song", "Song not found") from None


def _song_reference(song: dict[str, Any]) -> dict[str, Any]:
    return {key: song[key] for key in ("uuid", "name", "creditName", "imageUrl")}


def _uuid_list(call: _Call, maximum: int, kind: str) -> list[str]:
    uuids = [value.strip() for value in call.params["uuids"].split(",") if value.strip()]
    if len(uuids) > maximum:
        raise ApiError(400, kind, f"Too many {kind} ids: {len(uuids)} given, at most {maximum} per request")
    return uuids


def _song(call: _Call) -> dict[str, Any]:
    return {"type": "song", "object": _song_or_404(call, call.params["uuids"]), "errors": []}


def _song_batch(call: _Call) -> dict[str, Any]:
    items = []
    for song_uuid in _uuid_list(call, call.state.max_song_batch, "song"):
        try:
            items.append(_song_or_404(call, song_uuid))
        except ApiError:
            continue  # unknown ids are left out of a batch answer
    return _collection(call, items)


def _song_identifiers(call: _Call) -> dict[str, Any]:
    song = _song_or_404(call, call.params["uuid"])
    items = call.catalogue.song_identifiers(song["uuid"])
    platform = call.arg("platform")
    if platform:
        items = [item for item in items if item["platformCode"] == platform]
    if (call.arg("onlyDefault") or "").lower() in ("1", "true", "yes"):
        items = [item for item in items if item["default"]]
    return _collection(call, items, {"related": _song_reference(song)})


def _song_audience(call: _Call) -> dict[str, Any]:
    platform = call.params["platform"]
    song = _song_or_404(call, call.params["uuid"])
    if platform not in SONG_AUDIENCE_PLATFORMS:
        raise ApiError(400, "platform", f"Invalid platform {platform!r}")
    start, end = _audience_window(call)
    items = call.catalogue.song_audience(
        song["uuid"], platform, start, end, call.arg("identifier"), now=call.now
    )
    return _collection(call, items, {"related": _song_reference(song)})


def _artist_or_404(call: _Call, artist_uuid: str) -> dict[str, Any]:
    if call.state.is_missing(artist_uuid):
        raise ApiError(404, "artist", "Artist not found")
    try:
        return call.catalogue.artist(artist_uuid)
    except UnknownEntityError:
        raise ApiError(404, "artist", "Artist not found") from None


def _artist(call: _Call) -> dict[str, Any]:
    return {"type": "artist", "object": _artist_or_404(call, call.params["uuids"]), "errors": []}


def _artist_batch(call: _Call) -> dict[str, Any]:
    items = []
    for artist_uuid in _uuid_list(call, call.state.max_artist_batch, "artist"):
        try:
            items.append(_artist_or_404(call, artist_uuid))
        except ApiError:
            continue
    return _collection(call, items)


def _artist_audience(call: _Call) -> dict[str, Any]:
    platform = call.params["platform"]
    artist = _artist_or_404(call, call.params["uuid"])
    if platform not in ARTIST_AUDIENCE_PLATFORMS:
        raise ApiError(400, "platform", f"Invalid platform {platform!r}")
    start, end = _audience_window(call)
    items = call.catalogue.artist_audience(artist["uuid"], platform, start, end, now=call.now)
    related = {
        "artist": {key: artist[key] for key in ("uuid", "slug", "name", "appUrl", "imageUrl")},
        "platform": platform,
        "lastCrawlDate": f"{call.catalogue.last_crawl_day(call.now).isoformat()}T00:00:00+00:00",
    }
    return _collection(call, items, {"related": related})


def _usage(call: _Call) -> dict[str, Any]:
    return {"type": "usage", "object": call.state.snapshot(), "errors": []}


Handler = Callable[[_Call], dict[str, Any]]

#: (endpoint name, path pattern, handler). Order matters: specific sub-resources before bare uuids.
ENDPOINTS: list[tuple[str, re.Pattern[str], Handler]] = [
    ("platforms", re.compile(rf"^{_VERSION}/chart/song/platforms$"), _platforms),
    ("chart_list", re.compile(rf"^{_VERSION}/chart/song/by-platform/(?P<platform>[^/]+)$"), _chart_list),
    ("ranking", re.compile(rf"^{_VERSION}/chart/song/(?P<slug>[^/]+)/ranking/(?P<when>[^/]+)$"), _ranking),
    (
        "available_rankings",
        re.compile(rf"^{_VERSION}/chart/song/(?P<slug>[^/]+)/available-rankings$"),
        _available_rankings,
    ),
    ("song_identifiers", re.compile(rf"^{_VERSION}/song/(?P<uuid>[^/,]+)/identifiers$"), _song_identifiers),
    (
        "song_audience",
        re.compile(rf"^{_VERSION}/song/(?P<uuid>[^/,]+)/audience/(?P<platform>[^/]+)$"),
        _song_audience,
    ),
    ("song_batch", re.compile(rf"^{_VERSION}/song/(?P<uuids>[^/]*,[^/]*)$"), _song_batch),
    ("song", re.compile(rf"^{_VERSION}/song/(?P<uuids>[^/,]+)$"), _song),
    (
        "artist_audience",
        re.compile(rf"^{_VERSION}/artist/(?P<uuid>[^/,]+)/audience/(?P<platform>[^/]+)$"),
        _artist_audience,
    ),
    ("artist_batch", re.compile(rf"^{_VERSION}/artist/(?P<uuids>[^/]*,[^/]*)$"), _artist_batch),
    ("artist", re.compile(rf"^{_VERSION}/artist/(?P<uuids>[^/,]+)$"), _artist),
    ("usage", re.compile(rf"^{_VERSION}/team/usage$"), _usage),
]
ENDPOINTS += analytics_endpoints(_VERSION)  # artist streaming audience (monthly listeners)
#: Endpoints that cost no quota and are not rate limited (Soundcharts documents usage as free).
FREE_ENDPOINTS = frozenset({"usage"})


def _route(path: str) -> tuple[str, Handler | None, dict[str, str]]:
    for name, pattern, handler in ENDPOINTS:
        match = pattern.match(path)
        if match:
            return name, handler, match.groupdict()
    return "unknown", None, {}


def _apply_drift(value: Any, rename: dict[str, str], remove: tuple[str, ...]) -> Any:
    if isinstance(value, dict):
        return {
            rename.get(key, key): _apply_drift(item, rename, remove)
            for key, item in value.items()
            if key not in remove
        }
    if isinstance(value, list):
        return [_apply_drift(item, rename, remove) for item in value]
    return value


def _json_bytes(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def create_app(state: SimulatorState, catalogue: Catalogue | None = None) -> FastAPI:
    """The Soundcharts simulator app. ``state`` is shared with the caller (tests turn its knobs live)."""
    catalogue = catalogue or Catalogue()
    app = FastAPI(title="Soundcharts simulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.simulator = state
    app.state.catalogue = catalogue

    def respond(status: int, payload: Any, headers: dict[str, str] | None = None, body: bytes | None = None):
        all_headers = {"x-quota-remaining": str(max(0, state.quota_remaining))}
        all_headers.update(headers or {})
        content = body if body is not None else _json_bytes(payload)
        return Response(
            content=content, status_code=status, headers=all_headers, media_type="application/json"
        )

    @app.api_route("/{full_path:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    async def handle(request: Request) -> Response:
        started = time.perf_counter()
        path = request.url.path
        raw_path = request.scope.get("raw_path", path.encode()).decode("latin-1").split("?", 1)[0]
        query = list(request.query_params.multi_items())
        endpoint, handler, params = _route(path)
        reserved = False
        response: Response | None = None
        try:
            if not state.check_credentials(request.headers.get("x-app-id"), request.headers.get("x-api-key")):
                raise ApiError(401, "authentication", "You are not logged in: invalid x-app-id or x-api-key")
            if handler is None:
                raise ApiError(404, "route", f"No route found for {request.method} {path}")
            if request.method != "GET":
                raise ApiError(405, "method", f"Method {request.method} not allowed")
            free = endpoint in FREE_ENDPOINTS
            if not free:
                if not state.reserve_quota():
                    raise ApiError(429, "quota", "Maximum quota reached for the current term")
                reserved = True
                reset_in = state.acquire_rate_slot()
                if reset_in is not None:
                    raise ApiError(
                        429,
                        "rate_limit",
                        "You have reached the maximum request count per minute, retry later",
                        headers={"x-ratelimit-reset": str(reset_in)},
                    )
            info = RequestInfo(request.method, path, dict(query), endpoint, params)
            fault = state.take_fault(info, ("status", "slow"))
            if fault is not None and fault.kind == "slow":
                await asyncio.sleep(fault.seconds)
            elif fault is not None:
                message = fault.message or f"Injected fault: HTTP {fault.status}"
                raise ApiError(fault.status, "server" if fault.status >= 500 else "fault", message)
            call = _Call(catalogue, state, raw_path, query, params, state.now())
            payload = await run_in_threadpool(handler, call)
            shape_fault = state.take_fault(info, ("truncate", "drift"))
            if shape_fault is not None and shape_fault.kind == "drift":
                payload = _apply_drift(payload, shape_fault.rename, shape_fault.remove)
            body = _json_bytes(payload)
            if shape_fault is not None and shape_fault.kind == "truncate":
                body = body[: max(1, min(len(body) - 1, int(len(body) * shape_fault.fraction)))]
            reserved = False  # the call returned data: it counts against the quota
            response = respond(200, None, body=body)
        except ApiError as error:
            if reserved:
                state.refund_quota()  # a request that returned no data is not counted
                reserved = False
            response = respond(error.status, error.body(), error.headers)
        except Exception:
            log.exception("simulator error on %s %s", request.method, path)
            if reserved:
                state.refund_quota()
            response = respond(500, ApiError(500, "server", "Internal server error").body())
        duration_ms = (time.perf_counter() - started) * 1000
        query_text = request.url.query
        state.record(
            RequestRecord(
                request.method,
                path,
                query_text,
                response.status_code,
                datetime.now(UTC),
                endpoint,
                duration_ms,
            )
        )
        # Headers (and so the api key) are never logged.
        log.info(
            "%s %s%s -> %d [%s] %.1f ms",
            request.method,
            path,
            f"?{query_text}" if query_text else "",
            response.status_code,
            endpoint,
            duration_ms,
        )
        return response

    return app
