"""The ACRCloud File Scanning callback, served by the Airflow api-server as a plugin FastAPI app.

ACRCloud POSTs the scanned file (``file_id``, ``state``, ``results``) to the container's ``callback_url``
when a scan ends. Set that URL to ``https://<api-server>/acrcloud/callback?token=<token>``, where ``<token>``
is the ``callback_token`` extra of the ``acrcloud_default`` connection: ACRCloud signs nothing, so the secret
in the URL is what tells a real callback from anyone else's request. It travels as the ``token`` query
parameter, not in the path, because the api-server's access log redacts secret-named query parameters but
logs every path as it came.

Every call is recorded in ``acrcloud_callbacks`` (the payload too, except for refused calls). A wrong or
missing token is answered 403; an unknown file id 404; a second callback for a file, or one arriving after
its analysis ended, is recorded and changes nothing (200). The waiting trigger sees an accepted callback at
its next check and ends the wait early. The route is open (ACRCloud cannot log in to Airflow); the token
guards it.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
from typing import Annotated, Any

from airflow.plugins_manager import AirflowPlugin
from fastapi import FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

__all__ = ["AcrCloudCallbackPlugin", "create_callback_app"]

log = logging.getLogger(__name__)

URL_PREFIX = "/acrcloud"
TOKEN_EXTRA = "callback_token"
_TOKEN_CACHE_SECONDS = 60.0


class _Settings:
    """Token and product DSN from Airflow connections, cached briefly (a rotation applies within 60 s)."""

    def __init__(self, acrcloud_conn_id: str, product_conn_id: str) -> None:
        self.acrcloud_conn_id = acrcloud_conn_id
        self.product_conn_id = product_conn_id
        self._lock = threading.Lock()
        self._loaded_at = 0.0
        self._token: str | None = None
        self._dsn: str | None = None

    def get(self) -> tuple[str | None, str]:
        with self._lock:
            if self._dsn is None or time.monotonic() - self._loaded_at > _TOKEN_CACHE_SECONDS:
                from airflow.sdk import BaseHook

                from musiccharts_airflow.product_db import product_dsn

                connection = BaseHook.get_connection(self.acrcloud_conn_id)
                token = (connection.extra_dejson or {}).get(TOKEN_EXTRA)
                self._token = str(token) if token else None
                self._dsn = product_dsn(self.product_conn_id)
                self._loaded_at = time.monotonic()
            return self._token, self._dsn


def _token_matches(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison; no configured token refuses every call."""
    if given is None or expected is None:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def _record(dsn: str, **kwargs: Any):
    from musiccharts.analysis.store import record_callback
    from musiccharts.db.connection import connect

    with connect(dsn) as conn:
        return record_callback(conn, **kwargs)


def create_callback_app(
    acrcloud_conn_id: str = "acrcloud_default", product_conn_id: str = "musiccharts_db"
) -> FastAPI:
    app = FastAPI(title="MusicCharts ACRCloud callback", docs_url=None, redoc_url=None, openapi_url=None)
    settings = _Settings(acrcloud_conn_id, product_conn_id)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ready"}

    @app.post("/callback")
    async def callback(request: Request, token: Annotated[str | None, Query()] = None) -> JSONResponse:
        expected, dsn = await run_in_threadpool(settings.get)
        token_valid = _token_matches(token, expected)
        raw = await request.body()
        payload: Any = None
        error = None
        content_type = request.headers.get("content-type", "")
        try:
            if "application/x-www-form-urlencoded" in content_type or "multipart/form-data" in content_type:
                form = await request.form()
                payload = {key: value for key, value in form.items() if isinstance(value, str)}
                if isinstance(payload.get("results"), str):
                    payload["results"] = json.loads(payload["results"])
            else:
                payload = json.loads(raw or b"null")
        except (ValueError, UnicodeDecodeError) as problem:
            error = f"unreadable body: {type(problem).__name__}"
            payload = {"raw": raw[:2000].decode("utf-8", "replace")}
        client = request.client.host if request.client else None
        forwarded = request.headers.get("x-forwarded-for", "").split(",")[0].strip() or None
        outcome = await run_in_threadpool(
            _record,
            dsn,
            token_valid=token_valid,
            payload=payload,
            source_ip=forwarded or client,
            user_agent=request.headers.get("user-agent"),
            error=error,
        )
        # Never log the token or the URL (it is the secret).
        log.info("ACRCloud callback: %s (HTTP %d)", outcome.outcome, outcome.http_status)
        return JSONResponse({"outcome": outcome.outcome}, status_code=outcome.http_status)

    return app


class AcrCloudCallbackPlugin(AirflowPlugin):
    name = "musiccharts_acrcloud_callback"
    fastapi_apps = [{"app": create_callback_app(), "url_prefix": URL_PREFIX, "name": "ACRCloud callback"}]
