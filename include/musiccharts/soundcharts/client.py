"""HTTP client of the Soundcharts API: typed results, pagination, retries, rate limit and quota handling.

No Airflow imports here: the Airflow hook (``musiccharts_airflow.hooks.soundcharts``) builds this client
from a connection. What the first implementation got wrong and this client does instead:

- every request has a timeout (connect, read);
- every collection is read to its last page by following ``page.next`` (its offset/limit);
- 5xx answers, timeouts and connection errors are retried with exponential backoff and jitter;
- 401/403 raise at once, 404 raises a typed :class:`SoundchartsNotFound`;
- a rate-limit 429 ("maximum request count") waits the announced ``x-ratelimit-reset`` and tries again
  without counting as a failure; a quota 429 raises :class:`SoundchartsQuotaExhausted`;
- ``x-quota-remaining`` is read on every response; once it falls below ``quota_floor`` the next call raises
  before anything is sent, so a monthly quota is never burnt by a runaway backfill. A fresh client (every
  Airflow task builds one) first asks the free ``/api/v2/team/usage`` for the remaining quota, so the floor
  holds across the cluster: a task started below it makes no billable call at all;
- payloads are validated into the models of :mod:`musiccharts.soundcharts.models`; a payload that does not
  fit raises :class:`SoundchartsResponseError` naming the endpoint and the field.

Only method, path, status and elapsed time are logged: never headers (the api key) nor bodies.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qs, quote, urlsplit

import requests
from pydantic import BaseModel

from musiccharts.soundcharts import models
from musiccharts.soundcharts.errors import (
    SoundchartsAuthError,
    SoundchartsError,
    SoundchartsNotFound,
    SoundchartsPayloadInvalid,
    SoundchartsQuotaExhausted,
    SoundchartsRequestError,
    SoundchartsResponseError,
    SoundchartsUnavailable,
)
from musiccharts.soundcharts.windows import AUDIENCE_WINDOW_DAYS, split_windows

__all__ = [
    "ARTIST_BATCH_MAX",
    "AUDIENCE_WINDOW_DAYS",
    "PAGE_LIMIT",
    "SONG_BATCH_MAX",
    "ClientStats",
    "RateLimiter",
    "SoundchartsClient",
    "SoundchartsError",
    "format_ranking_datetime",
]

log = logging.getLogger(__name__)

#: The API serves at most 100 items per page.
PAGE_LIMIT = 100
#: Batch endpoints take at most 10 comma-separated uuids.
SONG_BATCH_MAX = 10
ARTIST_BATCH_MAX = 10
#: Guard against a server whose ``page.next`` never ends.
MAX_PAGES = 10_000
#: Quota and rate-limit usage: free (costs no quota), so it is safe to ask before every task's first call.
USAGE_PATH = "/api/v2/team/usage"

M = TypeVar("M", bound=BaseModel)


class RateLimiter(Protocol):
    """What the client needs from a limiter: block until one request may be sent."""

    def acquire(self, timeout: float | None = None) -> None: ...


@dataclass
class ClientStats:
    """Counters of one client. ``requests`` counts every HTTP request sent, retries included."""

    requests: int = 0
    retries: int = 0
    rate_limited_waits: int = 0
    rate_limited_seconds: float = 0.0
    by_endpoint: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "retries": self.retries,
            "rate_limited_waits": self.rate_limited_waits,
            "rate_limited_seconds": round(self.rate_limited_seconds, 3),
            "by_endpoint": dict(self.by_endpoint),
        }


def format_ranking_datetime(ranking_date: datetime | date | None) -> str:
    """The ``{datetime}`` path segment of a ranking: ATOM ``YYYY-MM-DDTHH:MM:SS+00:00``, or ``latest``.

    A date means midnight UTC of that day; a naive datetime is taken as UTC; an aware one is converted.
    """
    if ranking_date is None:
        return "latest"
    if isinstance(ranking_date, datetime):
        moment = ranking_date if ranking_date.tzinfo else ranking_date.replace(tzinfo=UTC)
        moment = moment.astimezone(UTC).replace(microsecond=0)
    else:
        moment = datetime(ranking_date.year, ranking_date.month, ranking_date.day, tzinfo=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _chunks(values: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _unique(values: Iterable[str]) -> list[str]:
    """Drop blanks and duplicates, keeping the first-seen order."""
    seen: dict[str, None] = {}
    for value in values:
        value = value.strip()
        if value and value not in seen:
            seen[value] = None
    return list(seen)


def _error_message(response: requests.Response) -> str:
    """``errors[0].message`` of an error body, else its ``message``, else the start of the raw text."""
    try:
        payload = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(payload, dict):
        errors = payload.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict) and errors[0].get("message"):
            return str(errors[0]["message"])
        if payload.get("message"):
            return str(payload["message"])
    return response.text[:200]


@dataclass(frozen=True)
class _Answered:
    """One attempt got a usable 2xx answer."""

    payload: Any


@dataclass(frozen=True)
class _RateLimited:
    """429 "maximum request count": wait ``seconds`` and send again; not a failure."""

    seconds: float


@dataclass(frozen=True)
class _Transient:
    """5xx, timeout or lost connection: worth another attempt after a backoff."""

    reason: str
    status: int | None = None


_Outcome = _Answered | _RateLimited | _Transient


class SoundchartsClient:
    """Typed client of the Soundcharts API (one ``requests.Session``, headers ``x-app-id``/``x-api-key``).

    ``timeout`` is (connect, read) seconds for every request. ``limiter`` (optional) is asked for a token
    before every HTTP request, retries included. ``quota_floor``: once ``x-quota-remaining`` drops below it,
    further calls raise :class:`SoundchartsQuotaExhausted` without sending anything. ``max_retries`` bounds
    retries of 5xx/timeouts/connection errors (backoff ``backoff_base * 2**n`` capped at ``backoff_max``,
    with jitter). ``max_rate_limit_wait`` bounds the total time one call may spend waiting on 429s.
    ``sleep`` is injectable so tests run without real waits.
    """

    def __init__(
        self,
        base_url: str,
        app_id: str,
        api_key: str,
        *,
        timeout: float | tuple[float, float] = (5, 30),
        limiter: RateLimiter | None = None,
        quota_floor: int = 0,
        max_retries: int = 5,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        max_rate_limit_wait: float = 600.0,
        limiter_timeout: float | None = 600.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.limiter = limiter
        self.quota_floor = quota_floor
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_rate_limit_wait = max_rate_limit_wait
        self.limiter_timeout = limiter_timeout
        self.sleep = sleep
        self.stats = ClientStats()
        #: Last ``x-quota-remaining`` seen (None until a response carried it).
        self.quota_remaining: int | None = None
        self._quota_probed = False
        self._quota_probe_done = False
        # The history import fetches through one client from several threads: one probe for all of them.
        # Re-entrant because the probe's own request passes through the same check.
        self._quota_probe_lock = threading.RLock()
        # Guards stats and quota_remaining, which those threads update at once (`+=` is no atomic step).
        # Separate from the probe's lock: that one is held across the probe's whole request.
        self._stats_lock = threading.Lock()
        #: Send order (``stats.requests`` when sent) of the response ``quota_remaining`` comes from: a
        #: response that overtook an older one keeps its newer figure.
        self._quota_sent_as = 0
        self._session = session or requests.Session()
        self._session.headers.update({"x-app-id": app_id, "x-api-key": api_key, "Accept": "application/json"})

    def __repr__(self) -> str:  # never show the api key
        return f"SoundchartsClient(base_url={self.base_url!r})"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> SoundchartsClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- charts ----------------------------------------------------------------------------------------

    def get_song_chart_platforms(self) -> list[models.Platform]:
        """Every platform that has song charts (``/api/v2/chart/song/platforms``)."""
        return [
            item
            for page in self._pages(models.PlatformListPage, "platforms", "/api/v2/chart/song/platforms")
            for item in page.items
        ]

    def get_charts(self, platform: str, country_code: str | None = None) -> list[models.ChartInfo]:
        """Every song chart of ``platform`` (optionally one country), all pages."""
        params = {"countryCode": country_code} if country_code else {}
        path = f"/api/v2/chart/song/by-platform/{quote(platform, safe='')}"
        return [
            item
            for page in self._pages(
                models.ChartListPage, "chart_list", path, params, resource=("platform", platform)
            )
            for item in page.items
        ]

    def get_chart_ranking(
        self, slug: str, ranking_date: datetime | date | None = None
    ) -> models.ChartRanking:
        """The whole ranking of chart ``slug`` for ``ranking_date`` (None = the latest one), every page.

        ``date`` of the result is the ranking's own date (``related.date``), not the requested one. When
        asking for "latest", the following pages are requested for the date the first page announced, so a
        ranking published while paging cannot mix two rankings. A ranking whose pages disagree on the date,
        or whose item count differs from ``page.total``, raises :class:`SoundchartsResponseError`.
        """
        slug_segment = quote(slug, safe="")
        when = format_ranking_datetime(ranking_date)
        path = f"/api/v2.14/chart/song/{slug_segment}/ranking/{when}"
        first: models.ChartRankingPage | None = None
        items: list[models.RankingItem] = []
        raw_pages: list[dict[str, Any]] = []

        def pin_to_first_date(page: models.ChartRankingPage) -> str:
            # Read the rest of a "latest" ranking at the date page 1 announced.
            pinned = format_ranking_datetime(page.related.date)
            return f"/api/v2.14/chart/song/{slug_segment}/ranking/{pinned}"

        pages = self._pages_with_raw(
            models.ChartRankingPage,
            "ranking",
            path,
            resource=("chart", slug),
            pin_path=pin_to_first_date if when == "latest" else None,
        )
        for page, raw in pages:
            if first is None:
                first = page
            elif page.related.date != first.related.date:
                raise SoundchartsResponseError(
                    f"ranking {slug} changed while paging: page 1 dated {first.related.date.isoformat()}, "
                    f"a later page dated {page.related.date.isoformat()}",
                    endpoint=path,
                    fields=["related.date"],
                )
            items.extend(page.items)
            raw_pages.append(raw)
        assert first is not None  # _pages always yields at least one page
        total = first.page.total if first.page.total is not None else len(items)
        if len(items) != total:
            raise SoundchartsResponseError(
                f"ranking {slug} ({first.related.date.isoformat()}): read {len(items)} entries but "
                f"page.total is {total}",
                endpoint=path,
                fields=["page.total"],
            )
        return models.ChartRanking(
            chart=first.related.chart,
            date=first.related.date,
            items=items,
            total=total,
            raw_pages=raw_pages,
        )

    def get_available_ranking_dates(self, slug: str) -> list[datetime]:
        """Every date a ranking exists for chart ``slug`` (all pages, in the API's order: newest first)."""
        return [moment for page in self.iter_available_ranking_dates(slug) for moment in page]

    def iter_available_ranking_dates(self, slug: str) -> Iterator[list[datetime]]:
        """The ranking dates of chart ``slug`` one page at a time, newest first.

        A page is requested only when the caller asks for it, so a caller that already knows the older
        dates stops after the first page that reaches them.
        """
        path = f"/api/v2/chart/song/{quote(slug, safe='')}/available-rankings"
        for page in self._pages(
            models.RankingDatesPage, "available_rankings", path, resource=("chart", slug)
        ):
            yield list(page.items)

    # --- songs -------------------------------------------------------------------------------------------

    def get_song(self, uuid: str) -> models.SongMetadata:
        """Metadata of one song; :class:`SoundchartsNotFound` (resource "song") when unknown."""
        path = f"/api/v2.25/song/{quote(uuid, safe='')}"
        payload = self._request("song", path, resource=("song", uuid))
        return self._parse(models.SongMetadataResponse, payload, path).object

    def get_songs(self, uuids: Iterable[str]) -> list[models.SongMetadata]:
        """Metadata of many songs through the batch endpoint (10 per call). Unknown uuids are left out."""
        return self._get_batched(
            uuids,
            SONG_BATCH_MAX,
            "/api/v2.25/song/",
            models.SongMetadataCollection,
            "song_batch",
            self.get_song,
        )

    def get_song_identifiers(self, uuid: str, platform: str | None = None) -> list[models.SongIdentifier]:
        """Platform identifiers of a song (optionally one platform's), all pages."""
        path = f"/api/v2/song/{quote(uuid, safe='')}/identifiers"
        params = {"platform": platform} if platform else {}
        return [
            item
            for page in self._pages(
                models.SongIdentifiersPage, "song_identifiers", path, params, resource=("song", uuid)
            )
            for item in page.items
        ]

    def get_song_audience(
        self,
        uuid: str,
        platform: str,
        start: date,
        end: date,
        identifier: str | None = None,
    ) -> list[models.AudiencePoint]:
        """Audience points of a song on ``platform`` from ``start`` to ``end`` (inclusive), newest first.

        Windows longer than 90 days are split into 90-day requests; each is read to its last page.
        """
        path = f"/api/v2/song/{quote(uuid, safe='')}/audience/{quote(platform, safe='')}"
        points: dict[datetime, models.AudiencePoint] = {}
        if start > end:
            raise ValueError(f"start {start} is after end {end}")
        for window in split_windows(start, end, AUDIENCE_WINDOW_DAYS):
            params = {"startDate": window.start.isoformat(), "endDate": window.end.isoformat()}
            if identifier:
                params["identifier"] = identifier
            for page in self._pages(
                models.SongAudiencePage, "song_audience", path, params, resource=("song", uuid)
            ):
                for point in page.items:
                    points.setdefault(point.date, point)
        return sorted(points.values(), key=lambda point: point.date, reverse=True)

    # --- artists -----------------------------------------------------------------------------------------

    def get_artist(self, uuid: str) -> models.ArtistMetadata:
        """Metadata of one artist; :class:`SoundchartsNotFound` (resource "artist") when unknown."""
        path = f"/api/v2.9/artist/{quote(uuid, safe='')}"
        payload = self._request("artist", path, resource=("artist", uuid))
        return self._parse(models.ArtistMetadataResponse, payload, path).object

    def get_artists(self, uuids: Iterable[str]) -> list[models.ArtistMetadata]:
        """Metadata of many artists through the batch endpoint (10 per call). Unknown uuids are left out."""
        return self._get_batched(
            uuids,
            ARTIST_BATCH_MAX,
            "/api/v2.9/artist/",
            models.ArtistMetadataCollection,
            "artist_batch",
            self.get_artist,
        )

    def _get_batched(self, uuids, batch_max, path_prefix, collection_model, endpoint, get_one) -> list:
        """Comma-joined batch calls of at most ``batch_max`` uuids; unknown uuids are left out.

        A chunk of one uuid goes to the single-entity endpoint: the same path answers an object, not a
        collection, for one uuid.
        """
        result = []
        for chunk in _chunks(_unique(uuids), batch_max):
            if len(chunk) == 1:
                with contextlib.suppress(SoundchartsNotFound):
                    result.append(get_one(chunk[0]))
                continue
            path = path_prefix + ",".join(quote(value, safe="") for value in chunk)
            for page in self._pages(collection_model, endpoint, path):
                result.extend(page.items)
        return result

    def get_artist_audience(
        self, uuid: str, platform: str, start: date, end: date
    ) -> list[models.ArtistAudiencePoint]:
        """Audience (followers, subscribers...) of an artist on ``platform``, newest first, 90-day windows."""
        path = f"/api/v2/artist/{quote(uuid, safe='')}/audience/{quote(platform, safe='')}"
        points: dict[datetime, models.ArtistAudiencePoint] = {}
        if start > end:
            raise ValueError(f"start {start} is after end {end}")
        for window in split_windows(start, end, AUDIENCE_WINDOW_DAYS):
            params = {"startDate": window.start.isoformat(), "endDate": window.end.isoformat()}
            for page in self._pages(
                models.ArtistAudiencePage, "artist_audience", path, params, resource=("artist", uuid)
            ):
                for point in page.items:
                    points.setdefault(point.date, point)
        return sorted(points.values(), key=lambda point: point.date, reverse=True)

    # --- account -----------------------------------------------------------------------------------------

    def get_team_usage(self) -> models.TeamUsage:
        """Quota and rate-limit usage (``/api/v2/team/usage``; free: it costs no quota)."""
        path = USAGE_PATH
        payload = self._request("usage", path)
        body = payload.get("object") if isinstance(payload, dict) else None
        return self._parse(models.TeamUsage, body if isinstance(body, dict) else payload, path)

    # --- plumbing ----------------------------------------------------------------------------------------

    def _parse(self, model: type[M], payload: Any, endpoint: str) -> M:
        try:
            return models.parse_payload(model, payload, endpoint)
        except models.PayloadValidationError as error:
            raise SoundchartsPayloadInvalid(str(error), endpoint=endpoint, fields=error.fields) from None

    def _pages(
        self,
        model: type[M],
        endpoint_name: str,
        path: str,
        params: dict[str, str] | None = None,
        resource: tuple[str, str] | None = None,
    ) -> Iterator[M]:
        for page, _raw in self._pages_with_raw(model, endpoint_name, path, params, resource):
            yield page

    def _pages_with_raw(
        self,
        model: type[M],
        endpoint_name: str,
        path: str,
        params: dict[str, str] | None = None,
        resource: tuple[str, str] | None = None,
        pin_path: Callable[[M], str] | None = None,
    ) -> Iterator[tuple[M, dict[str, Any]]]:
        """Every page of a collection, following ``page.next`` until the API reports no more.

        The offset and limit are taken from ``page.next`` and sent to our own path on our own base URL:
        whatever host or path prefix ``next`` names, the api key only ever goes to ``base_url``.
        ``pin_path`` (optional) computes, from the first page, the path of the following pages.
        """
        offset, limit = 0, PAGE_LIMIT
        for page_number in range(MAX_PAGES):
            query = dict(params or {})
            query.update({"offset": str(offset), "limit": str(limit)})
            payload = self._request(endpoint_name, path, query, resource=resource)
            page = self._parse(model, payload, path)
            yield page, payload
            if page_number == 0 and pin_path is not None:
                path = pin_path(page)
            page_info: models.Page | None = getattr(page, "page", None)
            if page_info is None or not page_info.next:
                return
            next_query = parse_qs(urlsplit(page_info.next).query)
            try:
                next_offset = int(next_query["offset"][0])
                limit = int(next_query.get("limit", [str(limit)])[0])
            except (KeyError, ValueError):
                next_offset = offset + len(getattr(page, "items", []))
            if next_offset <= offset:
                raise SoundchartsResponseError(
                    f"page.next does not move forward (offset {offset} -> {next_offset})",
                    endpoint=path,
                    fields=["page.next"],
                )
            offset = next_offset
        raise SoundchartsResponseError(f"more than {MAX_PAGES} pages", endpoint=path, fields=["page.next"])

    def _check_quota_floor(self, path: str) -> None:
        remaining = self.quota_remaining
        if remaining is not None and self.quota_floor > 0 and remaining < self.quota_floor:
            raise SoundchartsQuotaExhausted(
                f"Soundcharts quota floor reached: {remaining} calls remaining, floor is {self.quota_floor}; "
                f"not calling {path}",
                remaining=remaining,
                floor=self.quota_floor,
                endpoint=path,
            )

    def _read_quota(self, response: requests.Response, sent_as: int) -> None:
        """Keep the response's ``x-quota-remaining`` unless a response to a later request was read first."""
        header = response.headers.get("x-quota-remaining")
        if header is None:
            return
        try:
            remaining = int(float(header))
        except ValueError:
            log.warning("ignoring unparsable x-quota-remaining header %r", header[:20])
            return
        with self._stats_lock:
            if sent_as > self._quota_sent_as:
                self.quota_remaining = remaining
                self._quota_sent_as = sent_as

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with equal jitter: half fixed, half random, capped at ``backoff_max``."""
        delay = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
        return delay / 2 + random.uniform(0, delay / 2)

    @staticmethod
    def _rate_limit_reset(response: requests.Response) -> float | None:
        for header in ("x-ratelimit-reset", "Retry-After"):
            value = response.headers.get(header)
            if value is None:
                continue
            try:
                return max(0.0, float(value))
            except ValueError:
                continue
        return None

    def _request(
        self,
        endpoint_name: str,
        path: str,
        params: dict[str, str] | None = None,
        *,
        resource: tuple[str, str] | None = None,
    ) -> Any:
        """GET ``path`` and return its decoded JSON, applying the retry, rate-limit and quota rules.

        Each attempt ends in one of three states: answered (return it), rate limited (wait as announced,
        bounded by ``max_rate_limit_wait`` in all, without using up a retry) or transient (retry after an
        exponential backoff, at most ``max_retries`` times). Everything else raises from the attempt.
        """
        if self.quota_floor > 0 and self.quota_remaining is None and not self._quota_probe_done:
            # Other tasks may have spent the quota since this client was built: learn where it stands from
            # the free usage endpoint (its response carries x-quota-remaining too) before the first call.
            # Threads sharing this client wait for that answer rather than send billable calls blind.
            with self._quota_probe_lock:
                if not self._quota_probed:
                    self._quota_probed = True  # set first: the probe itself goes through this method
                    try:
                        self._request("usage", USAGE_PATH)
                    finally:
                        self._quota_probe_done = True
        self._check_quota_floor(path)
        failures = 0
        rate_limited_for = 0.0
        while True:
            outcome = self._attempt(endpoint_name, path, params, resource)
            if isinstance(outcome, _Answered):
                return outcome.payload
            if isinstance(outcome, _RateLimited):
                if rate_limited_for + outcome.seconds > self.max_rate_limit_wait:
                    raise SoundchartsUnavailable(
                        f"Soundcharts kept rate limiting {path} for {rate_limited_for:.0f} s",
                        attempts=failures + 1,
                        endpoint=path,
                        status=429,
                    )
                log.warning("GET %s rate limited (429); waiting %.1f s as announced", path, outcome.seconds)
                with self._stats_lock:
                    self.stats.rate_limited_waits += 1
                    self.stats.rate_limited_seconds += outcome.seconds
                rate_limited_for += outcome.seconds
                self.sleep(outcome.seconds)
                continue
            failures += 1
            if failures > self.max_retries:
                raise SoundchartsUnavailable(
                    f"Soundcharts unavailable: {path} failed {failures} times, last: {outcome.reason}",
                    attempts=failures,
                    endpoint=path,
                    status=outcome.status,
                )
            delay = self._backoff(failures)
            with self._stats_lock:
                self.stats.retries += 1
            log.warning(
                "GET %s failed (%s); retry %d/%d in %.1f s",
                path,
                outcome.reason,
                failures,
                self.max_retries,
                delay,
            )
            self.sleep(delay)

    def _attempt(
        self,
        endpoint_name: str,
        path: str,
        params: dict[str, str] | None,
        resource: tuple[str, str] | None,
    ) -> _Outcome:
        """Send one request and classify its answer; raise the errors no retry can fix."""
        if self.limiter is not None:
            self.limiter.acquire(timeout=self.limiter_timeout)
        with self._stats_lock:
            self.stats.requests += 1
            self.stats.by_endpoint[endpoint_name] += 1
            sent_as = self.stats.requests
        started = time.perf_counter()
        try:
            response = self._session.get(self.base_url + path, params=params, timeout=self.timeout)
        except (requests.ConnectionError, requests.Timeout) as error:
            elapsed_ms = (time.perf_counter() - started) * 1000
            log.info("GET %s failed after %.0f ms: %s", path, elapsed_ms, type(error).__name__)
            return _Transient(type(error).__name__)
        status = response.status_code
        log.debug("GET %s -> %d in %.0f ms", path, status, (time.perf_counter() - started) * 1000)
        self._read_quota(response, sent_as)
        if 200 <= status < 300:
            try:
                return _Answered(response.json())
            except ValueError as error:
                raise SoundchartsResponseError(
                    f"malformed JSON from {path} ({len(response.content)} bytes): {error}",
                    endpoint=path,
                    fields=["<body>"],
                    status=status,
                ) from None
        message = _error_message(response)
        if status in (401, 403):
            raise SoundchartsAuthError(
                f"Soundcharts refused {path} with HTTP {status}: {message}", endpoint=path, status=status
            )
        if status == 404:
            kind, identifier = resource or ("resource", None)
            raise SoundchartsNotFound(
                f"Soundcharts {kind} not found ({path}): {message}",
                resource=kind,
                identifier=identifier,
                endpoint=path,
            )
        if status == 429:
            if "quota" in message.lower() and "request count" not in message.lower():
                raise SoundchartsQuotaExhausted(
                    f"Soundcharts quota exhausted ({path}): {message}",
                    remaining=self.quota_remaining,
                    floor=self.quota_floor,
                    endpoint=path,
                    status=429,
                )
            reset = self._rate_limit_reset(response)
            return _RateLimited((reset if reset is not None else self._backoff(1)) + random.uniform(0, 0.5))
        if status >= 500:
            return _Transient(f"HTTP {status}: {message}", status)
        raise SoundchartsRequestError(
            f"Soundcharts rejected {path} with HTTP {status}: {message}", endpoint=path, status=status
        )

    # --- analytics additions -------------------------------------------------------------------------------

    def get_artist_streaming_audience(
        self, uuid: str, platform: str, start: date, end: date
    ) -> list[models.ArtistStreamingPoint]:
        """Streaming audience of an artist (e.g. Spotify monthly listeners), newest first, every page.

        ``/api/v2/artist/{uuid}/streaming/{platform}``, asked in windows of at most 90 days like the other
        audience endpoints; a date served twice (window edges) is kept once.
        """
        path = f"/api/v2/artist/{quote(uuid, safe='')}/streaming/{quote(platform, safe='')}"
        if start > end:
            raise ValueError(f"start {start} is after end {end}")
        points: dict[datetime, models.ArtistStreamingPoint] = {}
        for window in split_windows(start, end, AUDIENCE_WINDOW_DAYS):
            params = {"startDate": window.start.isoformat(), "endDate": window.end.isoformat()}
            for page in self._pages(
                models.ArtistStreamingPage, "artist_streaming", path, params, resource=("artist", uuid)
            ):
                for point in page.items:
                    points.setdefault(point.date, point)
        return sorted(points.values(), key=lambda point: point.date, reverse=True)

    def get_artist_broadcast_groups(self, uuid: str, start: date, end: date) -> list[models.BroadcastGroup]:
        """Radio spins of an artist per station over ``[start, end]`` (both included), every page.

        ``/api/v2/artist/{uuid}/broadcast-groups?startDate=&endDate=`` (YYYY-MM-DD): each item is one
        station's total over the whole period, so a daily series needs one request per day.
        """
        if start > end:
            raise ValueError(f"start {start} is after end {end}")
        path = f"/api/v2/artist/{quote(uuid, safe='')}/broadcast-groups"
        params = {"startDate": start.isoformat(), "endDate": end.isoformat()}
        groups: list[models.BroadcastGroup] = []
        model, resource = models.ArtistBroadcastGroupsPage, ("artist", uuid)
        pages = self._pages(model, "artist_broadcast_groups", path, params, resource=resource)
        for page in pages:
            groups.extend(page.items)
        return groups
