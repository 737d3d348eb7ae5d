"""Typed errors of the Soundcharts client.

Callers decide what to do by type, not by parsing messages: auth errors and an exhausted quota must stop
work at once (no retries anywhere), a missing resource is an expected outcome for one item, and an
unavailable API is worth retrying later. Messages never contain credentials.
"""

from __future__ import annotations

__all__ = [
    "SoundchartsAuthError",
    "SoundchartsError",
    "SoundchartsNotFound",
    "SoundchartsPayloadInvalid",
    "SoundchartsQuotaExhausted",
    "SoundchartsRequestError",
    "SoundchartsResponseError",
    "SoundchartsUnavailable",
]


class SoundchartsError(Exception):
    """Base class of every error raised by the Soundcharts client. ``endpoint`` is the request path."""

    def __init__(self, message: str, *, endpoint: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.status = status


class SoundchartsAuthError(SoundchartsError):
    """401 (bad credentials) or 403 (endpoint not in the plan). Never retried: retrying cannot fix it."""


class SoundchartsNotFound(SoundchartsError):
    """404 for a known kind of resource (``resource`` e.g. "song", ``identifier`` e.g. its uuid)."""

    def __init__(
        self,
        message: str,
        *,
        resource: str,
        identifier: str | None = None,
        endpoint: str | None = None,
    ) -> None:
        super().__init__(message, endpoint=endpoint, status=404)
        self.resource = resource
        self.identifier = identifier


class SoundchartsQuotaExhausted(SoundchartsError):
    """The remaining monthly quota fell below the configured floor, or the API answered 429 "quota"."""

    def __init__(
        self,
        message: str,
        *,
        remaining: int | None = None,
        floor: int | None = None,
        endpoint: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message, endpoint=endpoint, status=status)
        self.remaining = remaining
        self.floor = floor


class SoundchartsResponseError(SoundchartsError):
    """A 2xx response that cannot be used: malformed or truncated JSON, or a payload that fails its model.

    ``fields`` lists the offending field paths when the payload failed validation.
    """

    def __init__(
        self,
        message: str,
        *,
        endpoint: str | None = None,
        fields: list[str] | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message, endpoint=endpoint, status=status)
        self.fields = fields or []


class SoundchartsPayloadInvalid(SoundchartsResponseError):
    """A well-formed JSON payload that does not fit its model (a field missing, renamed or mistyped).

    Unlike a truncated body, asking again gets the same payload: callers fail at once instead of retrying.
    """


class SoundchartsRequestError(SoundchartsError):
    """Another 4xx (400 bad request, 405, 410 ...): our request is wrong, so retrying would not help."""


class SoundchartsUnavailable(SoundchartsError):
    """Retries exhausted on 5xx answers, timeouts or connection errors (or on repeated rate limiting)."""

    def __init__(
        self, message: str, *, attempts: int, endpoint: str | None = None, status: int | None = None
    ) -> None:
        super().__init__(message, endpoint=endpoint, status=status)
        self.attempts = attempts
