"""Airflow hooks for ACRCloud: File Scanning (``acrcloud_default``), Identification (``acrcloud_identify``).

Connections (credentials come from nowhere else):

- ``acrcloud_default`` (File Scanning, Console API): host = base URL (``https://api-eu-west-1.acrcloud.com``
  or a simulator's), password = the Console API Bearer token; extras: ``container_id`` (required),
  ``callback_token`` (the secret the container's callback URL carries), and the common ones below.
- ``acrcloud_identify`` (Identification v1): host = the project's identify host
  (``https://identify-eu-west-1.acrcloud.com``), login = access key, password = access secret.

Common extras: ``timeout`` (seconds or ``[connect, read]``), ``requests_per_minute`` (shared limiter per API,
cluster-wide through Redis when ``rate_limit_redis_url`` or ``MUSICCHARTS_RATE_LIMIT_REDIS_URL`` is set),
``max_retries``, ``backoff_base``, ``backoff_max`` (5xx / 429 / timeouts retried with backoff).

Refused credentials and an exhausted quota become :class:`AirflowFailException` subclasses: Airflow does not
retry what cannot succeed. The constructors do no I/O.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowFailException
from airflow.sdk.log import mask_secret

from musiccharts.analysis.acrcloud import (
    AcrAuthError,
    AcrQuotaError,
    FileScanningClient,
    IdentificationClient,
    RetryPolicy,
)
from musiccharts_airflow.rate_limit import build_rate_limiter

__all__ = [
    "AcrCloudAuthFailed",
    "AcrCloudFileScanningHook",
    "AcrCloudIdentificationHook",
    "AcrCloudQuotaFailed",
    "file_scanning_client_from_connection",
]

RATE_LIMIT_REDIS_URL_ENV = "MUSICCHARTS_RATE_LIMIT_REDIS_URL"


class AcrCloudAuthFailed(AirflowFailException):
    """ACRCloud refused the credentials (Bearer token, access key or signature). No retries."""


class AcrCloudQuotaFailed(AirflowFailException):
    """The ACRCloud project's quota is exhausted. No retries: they would only be refused again."""


def _number(extras: dict[str, Any], name: str, default: float | None) -> float | None:
    value = extras.get(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"connection extra {name!r} must be a number, got {value!r}") from None


def _timeout(extras: dict[str, Any], default: tuple[float, float]) -> float | tuple[float, float]:
    value = extras.get("timeout")
    if value is None or value == "":
        return default
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return float(value[0]), float(value[1])
    return float(value)


def _base_url(connection: Any, conn_id: str) -> str:
    host = (connection.host or "").strip().rstrip("/")
    if not host:
        raise AirflowFailException(f"connection {conn_id!r} has no host (base URL)")
    if "://" in host:
        return host
    port = f":{connection.port}" if connection.port else ""
    return f"{connection.schema or 'https'}://{host}{port}"


def _retry(extras: dict[str, Any], sleep: Callable[[float], None] | None) -> RetryPolicy:
    policy = RetryPolicy(
        max_retries=int(_number(extras, "max_retries", 4) or 0),
        backoff_base=_number(extras, "backoff_base", 1.0) or 0.0,
        backoff_max=_number(extras, "backoff_max", 30.0) or 0.0,
    )
    if sleep is not None:
        policy.sleep = sleep
    return policy


def _limiter(api: str, extras: dict[str, Any]) -> Any:
    rate = _number(extras, "requests_per_minute", None)
    redis_url = extras.get("rate_limit_redis_url") or os.environ.get(RATE_LIMIT_REDIS_URL_ENV) or None
    return build_rate_limiter(api, int(rate) if rate else None, redis_url)


def file_scanning_client_from_connection(
    connection: Any, conn_id: str, *, limiter: Any | None = None, sleep: Callable[[float], None] | None = None
) -> FileScanningClient:
    """A File Scanning client for a connection object (the triggerer fetches connections asynchronously)."""
    token = connection.password or ""
    if not token:
        raise AcrCloudAuthFailed(f"connection {conn_id!r} needs the Console API token as password")
    mask_secret(token)
    extras = connection.extra_dejson or {}
    container_id = extras.get("container_id")
    if container_id in (None, ""):
        raise AirflowFailException(f"connection {conn_id!r} needs extra 'container_id'")
    return FileScanningClient(
        _base_url(connection, conn_id),
        token,
        int(container_id),
        timeout=_timeout(extras, (5.0, 120.0)),
        limiter=limiter if limiter is not None else _limiter("acrcloud_console", extras),
        retry=_retry(extras, sleep),
    )


@contextmanager
def _airflow_errors():
    try:
        yield
    except AcrAuthError as error:
        raise AcrCloudAuthFailed(str(error)) from error
    except AcrQuotaError as error:
        raise AcrCloudQuotaFailed(str(error)) from error


class AcrCloudFileScanningHook(BaseHook):
    """File Scanning on the container named by the connection."""

    conn_name_attr = "acrcloud_conn_id"
    default_conn_name = "acrcloud_default"
    conn_type = "http"
    hook_name = "ACRCloud File Scanning"

    def __init__(
        self,
        acrcloud_conn_id: str = default_conn_name,
        *,
        limiter: Any | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        super().__init__()
        self.acrcloud_conn_id = acrcloud_conn_id
        self._limiter = limiter
        self._sleep = sleep
        self._client: FileScanningClient | None = None
        self._extras: dict[str, Any] = {}

    def get_conn(self) -> FileScanningClient:
        if self._client is None:
            connection = self.get_connection(self.acrcloud_conn_id)
            self._extras = connection.extra_dejson or {}
            self._client = file_scanning_client_from_connection(
                connection, self.acrcloud_conn_id, limiter=self._limiter, sleep=self._sleep
            )
        return self._client

    @property
    def container_id(self) -> int:
        return self.get_conn().container_id

    def upload(self, audio: bytes, name: str, content_type: str, *, presigned: bool) -> dict[str, Any]:
        with _airflow_errors():
            client = self.get_conn()
            if presigned:
                return client.upload_presigned(audio, name, content_type)
            return client.upload_file(audio, name, content_type)

    def upload_url(self, url: str, name: str) -> dict[str, Any]:
        with _airflow_errors():
            return self.get_conn().upload_url(url, name)

    def get_file(self, file_id: str) -> dict[str, Any]:
        with _airflow_errors():
            return self.get_conn().get_file(file_id)

    def find_file_by_name(self, name: str) -> dict[str, Any] | None:
        with _airflow_errors():
            return self.get_conn().find_file_by_name(name)

    def rescan(self, file_id: str) -> None:
        with _airflow_errors():
            self.get_conn().rescan(file_id)

    def test_connection(self) -> tuple[bool, str]:
        try:
            with _airflow_errors():
                container = self.get_conn().get_container()
        except Exception as error:
            return False, str(error)
        return True, f"container {container.get('id')} ({container.get('region')}) reachable"


class AcrCloudIdentificationHook(BaseHook):
    """Identification v1 with the project's access key and secret."""

    conn_name_attr = "acrcloud_identify_conn_id"
    default_conn_name = "acrcloud_identify"
    conn_type = "http"
    hook_name = "ACRCloud Identification"

    def __init__(
        self,
        acrcloud_identify_conn_id: str = default_conn_name,
        *,
        limiter: Any | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        super().__init__()
        self.acrcloud_identify_conn_id = acrcloud_identify_conn_id
        self._limiter = limiter
        self._sleep = sleep
        self._client: IdentificationClient | None = None

    def get_conn(self) -> IdentificationClient:
        if self._client is None:
            connection = self.get_connection(self.acrcloud_identify_conn_id)
            secret = connection.password or ""
            if not connection.login or not secret:
                raise AcrCloudAuthFailed(
                    f"connection {self.acrcloud_identify_conn_id!r} needs login (access key)"
                    " and password (secret)"
                )
            mask_secret(secret)
            extras = connection.extra_dejson or {}
            self._client = IdentificationClient(
                _base_url(connection, self.acrcloud_identify_conn_id),
                connection.login,
                secret,
                timeout=_timeout(extras, (5.0, 30.0)),
                limiter=self._limiter if self._limiter is not None else _limiter("acrcloud_identify", extras),
                retry=_retry(extras, self._sleep),
            )
        return self._client

    def identify(self, sample: bytes) -> dict[str, Any]:
        with _airflow_errors():
            return self.get_conn().identify(sample, "audio")
