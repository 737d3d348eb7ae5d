"""Airflow hook for the Soundcharts API: a :class:`~musiccharts.soundcharts.client.SoundchartsClient` built
from an Airflow connection, with the cluster-wide rate limiter and Airflow-shaped failures.

Connection ``soundcharts_default`` (conn type ``soundcharts``; ``http`` works too):

- host: base URL with scheme (``https://customer.api.soundcharts.com``, or a simulator's URL);
  a host without scheme gets the connection's schema (default ``https``) and its port;
- login: app id; password: api key (masked in task logs as soon as it is read);
- extras (all optional): ``timeout`` (seconds, or ``[connect, read]``), ``requests_per_minute``,
  ``quota_floor``, ``max_retries``, ``rate_limit_redis_url`` (default: env
  ``MUSICCHARTS_RATE_LIMIT_REDIS_URL``, then the Airflow Variable ``musiccharts_rate_limit_redis_url``;
  none of them means an in-process limiter).

401/403 and quota exhaustion are re-raised as :class:`AirflowFailException` subclasses, so Airflow does not
retry a task that cannot succeed (and does not burn more quota); other errors keep their types, and
transient ones (``SoundchartsUnavailable``) are left to the task's retries. The constructor does no I/O.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowFailException

from musiccharts.soundcharts import models
from musiccharts.soundcharts.client import ClientStats, SoundchartsClient
from musiccharts.soundcharts.errors import SoundchartsAuthError, SoundchartsError, SoundchartsQuotaExhausted
from musiccharts_airflow.rate_limit import build_rate_limiter

try:
    from airflow.sdk.log import mask_secret
except ImportError:  # pragma: no cover - older Task SDKs
    from airflow.sdk.execution_time.secrets_masker import mask_secret

__all__ = [
    "RATE_LIMIT_REDIS_URL_ENV",
    "SoundchartsAuthFailed",
    "SoundchartsHook",
    "SoundchartsQuotaFailed",
]

RATE_LIMIT_REDIS_URL_ENV = "MUSICCHARTS_RATE_LIMIT_REDIS_URL"
#: The Airflow Variable airflow_settings.yaml declares for the same URL (read after the extra and the env).
RATE_LIMIT_REDIS_URL_VARIABLE = "musiccharts_rate_limit_redis_url"
#: Set by every runtime the project ships (``make run``, compose): there, many task processes call the API.
SHARED_LIMIT_REQUIRED_ENV = "MUSICCHARTS_RATE_LIMIT_REQUIRE_SHARED"


def _shared_limit_required() -> bool:
    return os.environ.get(SHARED_LIMIT_REQUIRED_ENV, "").strip().lower() in {"1", "true", "yes"}


DEFAULT_TIMEOUT = (5.0, 30.0)


def _variable(name: str) -> str | None:
    """An Airflow Variable's value, None when unset or empty (never an error: it is an optional setting)."""
    from airflow.sdk import Variable

    try:
        return Variable.get(name, default=None) or None
    except Exception:  # no API server / metadata DB reachable (plain scripts): the Variable is not set
        return None


class SoundchartsAuthFailed(AirflowFailException):
    """Soundcharts refused the credentials (401) or the endpoint is not in the plan (403). No retries."""


class SoundchartsQuotaFailed(AirflowFailException):
    """The Soundcharts quota reached its floor (or is exhausted). No retries: they would burn more quota."""


def _int_extra(extras: dict[str, Any], name: str, default: int | None) -> int | None:
    value = extras.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"connection extra {name!r} must be an integer, got {value!r}") from None


def _timeout_extra(extras: dict[str, Any]) -> float | tuple[float, float]:
    value = extras.get("timeout")
    if value is None or value == "":
        return DEFAULT_TIMEOUT
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return float(value[0]), float(value[1])
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"connection extra 'timeout' must be seconds or [connect, read], got {value!r}"
        ) from None


class SoundchartsHook(BaseHook):
    """Talks to Soundcharts through the connection ``soundcharts_conn_id``.

    ``limiter`` and ``sleep`` may be injected (tests); by default the limiter comes from the connection's
    extras. Hook methods mirror the client's and return its typed models.
    """

    conn_name_attr = "soundcharts_conn_id"
    default_conn_name = "soundcharts_default"
    conn_type = "soundcharts"
    hook_name = "Soundcharts"

    def __init__(
        self,
        soundcharts_conn_id: str = default_conn_name,
        *,
        limiter: Any | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        super().__init__()
        self.soundcharts_conn_id = soundcharts_conn_id
        self._limiter = limiter
        self._sleep = sleep
        self._client: SoundchartsClient | None = None

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {
            "hidden_fields": ["schema", "port"],
            "relabeling": {"host": "Base URL", "login": "App ID", "password": "API key"},
            "placeholders": {
                "host": "https://customer.api.soundcharts.com",
                "extra": '{"requests_per_minute": 600, "quota_floor": 1000, "timeout": [5, 30]}',
            },
        }

    # --- connection ---------------------------------------------------------------------------------

    def get_conn(self) -> SoundchartsClient:
        """The client for this connection, built on first use and reused afterwards."""
        if self._client is None:
            self._client = self._build_client()
        return self._client

    def _build_client(self) -> SoundchartsClient:
        connection = self.get_connection(self.soundcharts_conn_id)
        api_key = connection.password or ""
        if api_key:
            mask_secret(api_key)
        if not connection.host:
            raise AirflowFailException(f"connection {self.soundcharts_conn_id!r} has no host (base URL)")
        if not connection.login or not api_key:
            raise SoundchartsAuthFailed(
                f"connection {self.soundcharts_conn_id!r} needs login (app id) and password (api key)"
            )
        extras = connection.extra_dejson or {}
        limiter = self._limiter
        if limiter is None:
            redis_url = (
                extras.get("rate_limit_redis_url")
                or os.environ.get(RATE_LIMIT_REDIS_URL_ENV)
                or _variable(RATE_LIMIT_REDIS_URL_VARIABLE)
            )
            requests_per_minute = _int_extra(extras, "requests_per_minute", None)
            if requests_per_minute and not redis_url and _shared_limit_required():
                # Every task process would get its own limiter and send up to the full rate.
                raise AirflowFailException(
                    f"no Redis for the shared Soundcharts rate limit ({RATE_LIMIT_REDIS_URL_ENV} or the "
                    f"connection extra rate_limit_redis_url) in a runtime where several processes call the "
                    f"API ({SHARED_LIMIT_REQUIRED_ENV}=true): refusing an in-process limiter"
                )
            limiter = build_rate_limiter("soundcharts", requests_per_minute, redis_url)
        options: dict[str, Any] = {}
        if self._sleep is not None:
            options["sleep"] = self._sleep
        return SoundchartsClient(
            self._base_url(connection),
            connection.login,
            api_key,
            timeout=_timeout_extra(extras),
            limiter=limiter,
            quota_floor=_int_extra(extras, "quota_floor", 0) or 0,
            max_retries=_int_extra(extras, "max_retries", 5) or 0,
            **options,
        )

    @staticmethod
    def _base_url(connection: Any) -> str:
        host = connection.host.strip().rstrip("/")
        if "://" in host:
            return host
        scheme = connection.schema or "https"
        port = f":{connection.port}" if connection.port else ""
        return f"{scheme}://{host}{port}"

    @property
    def stats(self) -> ClientStats:
        """Request counters of the client (requests, retries, rate-limit waits, per endpoint)."""
        return self.get_conn().stats

    @contextmanager
    def _airflow_errors(self) -> Iterator[None]:
        """Turn errors that retries cannot fix into AirflowFailException, keeping the message."""
        try:
            yield
        except SoundchartsAuthError as error:
            raise SoundchartsAuthFailed(str(error)) from error
        except SoundchartsQuotaExhausted as error:
            raise SoundchartsQuotaFailed(str(error)) from error

    def test_connection(self) -> tuple[bool, str]:
        """Call the free team-usage endpoint: proves URL and credentials without spending quota."""
        try:
            with self._airflow_errors():
                usage = self.get_conn().get_team_usage()
        except (SoundchartsError, AirflowFailException, ValueError) as error:
            return False, str(error)
        return True, f"Connection to Soundcharts OK (usage: {usage.model_dump()})"

    # --- API ------------------------------------------------------------------------------------------

    def get_song_chart_platforms(self) -> list[models.Platform]:
        with self._airflow_errors():
            return self.get_conn().get_song_chart_platforms()

    def get_charts(self, platform: str, country_code: str | None = None) -> list[models.ChartInfo]:
        with self._airflow_errors():
            return self.get_conn().get_charts(platform, country_code)

    def get_chart_ranking(
        self, slug: str, ranking_date: datetime | date | None = None
    ) -> models.ChartRanking:
        with self._airflow_errors():
            return self.get_conn().get_chart_ranking(slug, ranking_date)

    def get_available_ranking_dates(self, slug: str) -> list[datetime]:
        with self._airflow_errors():
            return self.get_conn().get_available_ranking_dates(slug)

    def iter_available_ranking_dates(self, slug: str) -> Iterator[list[datetime]]:
        with self._airflow_errors():
            yield from self.get_conn().iter_available_ranking_dates(slug)

    def get_song(self, uuid: str) -> models.SongMetadata:
        with self._airflow_errors():
            return self.get_conn().get_song(uuid)

    def get_songs(self, uuids: Iterable[str]) -> list[models.SongMetadata]:
        with self._airflow_errors():
            return self.get_conn().get_songs(uuids)

    def get_song_identifiers(self, uuid: str, platform: str | None = None) -> list[models.SongIdentifier]:
        with self._airflow_errors():
            return self.get_conn().get_song_identifiers(uuid, platform)

    def get_song_audience(
        self, uuid: str, platform: str, start: date, end: date, identifier: str | None = None
    ) -> list[models.AudiencePoint]:
        with self._airflow_errors():
            return self.get_conn().get_song_audience(uuid, platform, start, end, identifier)

    def get_artist(self, uuid: str) -> models.ArtistMetadata:
        with self._airflow_errors():
            return self.get_conn().get_artist(uuid)

    def get_artists(self, uuids: Iterable[str]) -> list[models.ArtistMetadata]:
        with self._airflow_errors():
            return self.get_conn().get_artists(uuids)

    def get_artist_audience(
        self, uuid: str, platform: str, start: date, end: date
    ) -> list[models.ArtistAudiencePoint]:
        with self._airflow_errors():
            return self.get_conn().get_artist_audience(uuid, platform, start, end)

    def get_artist_streaming_audience(
        self, uuid: str, platform: str, start: date, end: date
    ) -> list[models.ArtistStreamingPoint]:
        with self._airflow_errors():
            return self.get_conn().get_artist_streaming_audience(uuid, platform, start, end)

    def get_artist_broadcast_groups(self, uuid: str, start: date, end: date) -> list[models.BroadcastGroup]:
        """Spins per radio station over ``[start, end]``, every page (``broadcast-groups``)."""
        with self._airflow_errors():
            return self.get_conn().get_artist_broadcast_groups(uuid, start, end)

    def get_team_usage(self) -> models.TeamUsage:
        with self._airflow_errors():
            return self.get_conn().get_team_usage()
