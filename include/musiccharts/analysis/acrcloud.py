"""HTTP clients for ACRCloud: Identification API v1 and File Scanning (Console API). No Airflow here.

Identification signs each request as documented: Base64(HMAC-SHA1(access_secret, "POST\\n/v1/identify\\n"
access_key "\\n" data_type "\\n1\\n" timestamp)), sent as a multipart form. It answers HTTP 200 with an error
code in ``status.code``: 3001/3014 (key, signature) raise :class:`AcrAuthError`, 3003 (quota)
:class:`AcrQuotaError`, 3002/3006/3016 :class:`AcrRequestError`; 0 and 1001 ("no result") are answers.

File Scanning authenticates with a Bearer token. 401/403 raise :class:`AcrAuthError`, 404
:class:`AcrNotFound`, other 4xx :class:`AcrRequestError`.

Both retry HTTP 5xx, 429, timeouts and connection errors (and identification's 3000) with exponential
backoff, ``max_retries`` times, then raise :class:`AcrUnavailable`. Every request first takes a slot from
the shared rate limiter. Credentials never appear in messages.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests

__all__ = [
    "AcrAuthError",
    "AcrError",
    "AcrNotFound",
    "AcrQuotaError",
    "AcrRequestError",
    "AcrUnavailable",
    "FileScanningClient",
    "IdentificationClient",
    "RetryPolicy",
    "identify_signature",
]

log = logging.getLogger(__name__)

IDENTIFY_URI = "/v1/identify"


class AcrError(Exception):
    """Any ACRCloud failure."""


class AcrAuthError(AcrError):
    """Credentials refused (identification 3001/3014, console 401/403): retrying cannot help."""


class AcrQuotaError(AcrError):
    """The project's quota is used up (identification 3003)."""


class AcrRequestError(AcrError):
    """The request itself was wrong (bad content type, parameters, sample too large, invalid upload)."""


class AcrNotFound(AcrError):
    """The container or file does not exist."""


class AcrUnavailable(AcrError):
    """5xx, throttling, timeouts or connection errors that outlasted the retries."""


class Limiter(Protocol):
    def acquire(self, timeout: float | None = None) -> float: ...


@dataclass
class RetryPolicy:
    max_retries: int = 4
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    sleep: Callable[[float], None] = time.sleep

    def delay(self, attempt: int) -> float:
        ceiling = min(self.backoff_max, self.backoff_base * 2**attempt)
        return random.uniform(ceiling / 2, ceiling)


@dataclass
class CallStats:
    """Requests sent per endpoint (retries included) and retries, for logs and benchmarks."""

    requests: Counter[str] = field(default_factory=Counter)
    retries: int = 0


def identify_signature(access_secret: str, access_key: str, data_type: str, timestamp: str) -> str:
    string_to_sign = "\n".join(["POST", IDENTIFY_URI, access_key, data_type, "1", timestamp])
    digest = hmac.new(access_secret.encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


class _Http:
    def __init__(
        self,
        base_url: str,
        *,
        timeout: float | tuple[float, float],
        limiter: Limiter | None,
        retry: RetryPolicy | None,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.limiter = limiter
        self.retry = retry or RetryPolicy()
        self.session = session or requests.Session()
        self.stats = CallStats()

    def send(self, name: str, method: str, url: str, **kwargs: Any) -> requests.Response:
        """One logical call: rate-limited, retried on transient failures; returns the final response."""
        attempt = 0
        while True:
            if self.limiter is not None:
                self.limiter.acquire()
            self.stats.requests[name] += 1
            try:
                response = self.session.request(method, url, timeout=self.timeout, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as error:
                problem = f"{type(error).__name__}"
            else:
                if response.status_code < 500 and response.status_code != 429:
                    return response
                problem = f"HTTP {response.status_code}"
            if attempt >= self.retry.max_retries:
                raise AcrUnavailable(f"ACRCloud {name}: {problem} after {attempt + 1} attempts")
            delay = self.retry.delay(attempt)
            log.warning("ACRCloud %s: %s; retry %d in %.1f s", name, problem, attempt + 1, delay)
            self.stats.retries += 1
            attempt += 1
            self.retry.sleep(delay)


class IdentificationClient(_Http):
    """``POST {base_url}/v1/identify`` with a signed multipart form."""

    def __init__(
        self,
        base_url: str,
        access_key: str,
        access_secret: str,
        *,
        timeout: float | tuple[float, float] = (5.0, 30.0),
        limiter: Limiter | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(base_url, timeout=timeout, limiter=limiter, retry=retry)
        self._access_key = access_key
        self._access_secret = access_secret
        self._clock = clock

    def identify(self, sample: bytes, data_type: str = "audio") -> dict[str, Any]:
        """The decoded answer for ``sample`` (status code 0 or 1001); raises on every other code."""
        attempt = 0
        while True:
            timestamp = str(int(self._clock()))
            form = {
                "access_key": self._access_key,
                "data_type": data_type,
                "signature_version": "1",
                "timestamp": timestamp,
                "signature": identify_signature(self._access_secret, self._access_key, data_type, timestamp),
                "sample_bytes": str(len(sample)),
            }
            response = self.send(
                "identify",
                "POST",
                self.base_url + IDENTIFY_URI,
                data=form,
                files={"sample": ("sample", sample, "application/octet-stream")},
            )
            if response.status_code != 200:
                raise AcrRequestError(f"ACRCloud identify: unexpected HTTP {response.status_code}")
            try:
                body = response.json()
                code = int(body["status"]["code"])
                message = str(body["status"].get("msg", ""))
            except (ValueError, KeyError, TypeError) as error:
                raise AcrRequestError("ACRCloud identify: the answer is not a status JSON") from error
            if code in (0, 1001):
                return body
            if code in (3001, 3014):
                raise AcrAuthError(f"ACRCloud identify refused the credentials: {code} {message}")
            if code == 3003:
                raise AcrQuotaError(f"ACRCloud identify: {code} {message}")
            if code == 3000 and attempt < self.retry.max_retries:
                self.retry.sleep(self.retry.delay(attempt))
                self.stats.retries += 1
                attempt += 1
                continue
            if code == 3000:
                raise AcrUnavailable(f"ACRCloud identify: {code} {message}")
            raise AcrRequestError(f"ACRCloud identify: {code} {message}")


class FileScanningClient(_Http):
    """File Scanning on one container: ``{base_url}/api/fs-containers/{container_id}/...`` (Bearer auth)."""

    def __init__(
        self,
        base_url: str,
        token: str,
        container_id: int,
        *,
        timeout: float | tuple[float, float] = (5.0, 120.0),
        limiter: Limiter | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        super().__init__(base_url, timeout=timeout, limiter=limiter, retry=retry)
        self.container_id = int(container_id)
        self.session.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json"})

    @property
    def files_url(self) -> str:
        return f"{self.base_url}/api/fs-containers/{self.container_id}/files"

    def _json(self, name: str, response: requests.Response) -> Any:
        if response.status_code in (401, 403):
            raise AcrAuthError(f"ACRCloud {name}: HTTP {response.status_code} (token refused)")
        if response.status_code == 404:
            raise AcrNotFound(f"ACRCloud {name}: not found")
        if response.status_code >= 400:
            try:
                detail = response.json().get("message") or response.json().get("error")
            except ValueError:
                detail = response.text[:200]
            raise AcrRequestError(f"ACRCloud {name}: HTTP {response.status_code}: {detail}")
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as error:
            raise AcrRequestError(f"ACRCloud {name}: the answer is not JSON") from error

    def get_container(self) -> dict[str, Any]:
        url = f"{self.base_url}/api/fs-containers/{self.container_id}"
        return self._json("container", self.send("container", "GET", url))["data"]

    def upload_file(
        self, audio: bytes, name: str, content_type: str = "application/octet-stream"
    ) -> dict[str, Any]:
        """Upload audio bytes (multipart); returns the new file object (``state`` 0)."""
        response = self.send(
            "upload",
            "POST",
            self.files_url,
            data={"data_type": "audio", "name": name},
            files={"file": (name, audio, content_type)},
        )
        return _one(self._json("upload", response)["data"])

    def upload_url(self, url: str, name: str) -> dict[str, Any]:
        """Let ACRCloud download the audio from ``url``."""
        body = {"data_type": "audio_url", "url": url, "name": name}
        return _one(self._json("upload", self.send("upload", "POST", self.files_url, json=body))["data"])

    def upload_presigned(self, audio: bytes, name: str, content_type: str) -> dict[str, Any]:
        """Large files: ask for a presigned URL, PUT the bytes there, then register the key."""
        presign_url = f"{self.base_url}/api/fs-containers/{self.container_id}/presigned-upload"
        presigned = self._json(
            "presigned_upload",
            self.send(
                "presigned_upload",
                "GET",
                presign_url,
                params={"filename": name, "content_type": content_type},
            ),
        )["data"]
        put = requests.request(
            presigned.get("method", "PUT"),
            presigned["presigned_url"],
            data=audio,
            headers=presigned.get("headers") or {},
            timeout=self.timeout,
        )
        self.stats.requests["storage_put"] += 1
        if put.status_code >= 300:
            raise AcrRequestError(f"ACRCloud presigned upload: storage answered HTTP {put.status_code}")
        body = {"data_type": "audio", "key": presigned["key"], "filename": name, "name": name}
        return _one(self._json("upload", self.send("upload", "POST", self.files_url, json=body))["data"])

    def get_file(self, file_id: str) -> dict[str, Any]:
        """One file with its results (the API sends ``data`` as a one-element list)."""
        return _one(self._json("file", self.send("file", "GET", f"{self.files_url}/{file_id}"))["data"])

    def find_file_by_name(self, name: str) -> dict[str, Any] | None:
        """The file uploaded under exactly ``name``, if any (finds an upload whose answer was lost)."""
        page = 1
        while True:
            body = self._json(
                "files",
                self.send(
                    "files",
                    "GET",
                    self.files_url,
                    params={"search": name, "page": page, "per_page": 100, "with_result": 0},
                ),
            )
            items = body.get("data") or []
            for item in items:
                if item.get("name") == name:
                    return item
            last_page = (body.get("meta") or {}).get("last_page")
            if not items or len(items) < 100 or (last_page is not None and page >= int(last_page)):
                return None
            page += 1

    def rescan(self, file_id: str) -> None:
        self._json("rescan", self.send("rescan", "PUT", f"{self.files_url}/{file_id}/rescan"))

    def delete(self, file_ids: list[str]) -> None:
        self._json("delete", self.send("delete", "DELETE", f"{self.files_url}/{','.join(file_ids)}"))


def _one(data: Any) -> dict[str, Any]:
    if isinstance(data, list):
        if not data:
            raise AcrNotFound("ACRCloud answered an empty file list")
        return data[0]
    if isinstance(data, dict):
        return data
    raise AcrRequestError("ACRCloud answered an unexpected file shape")
