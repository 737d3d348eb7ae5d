"""The FastAPI app: Identification API v1 (``/v1/identify``) and File Scanning (``/api/fs-containers``).

Identification answers every request with HTTP 200 and a ``status{code,msg,version}`` body, as the real
service does; File Scanning uses HTTP statuses with a ``message`` body. Neither logs credentials.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import time
from datetime import UTC, datetime
from typing import Any

import requests
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import UploadFile

from acrcloud_simulator.engine import identify
from acrcloud_simulator.state import AcrState, Container, ScanFile

__all__ = ["MAX_SAMPLE_BYTES", "create_app", "sign"]

log = logging.getLogger("acrcloud_simulator")

#: The documented limit of an identification sample.
MAX_SAMPLE_BYTES = 5 * 1024 * 1024
IDENTIFY_URI = "/v1/identify"

_STATUS_TEXT = {
    0: "Success",
    1001: "No result",
    3001: "Missing/Invalid Access Key",
    3002: "Invalid Content-Type. Please use multipart/form-data",
    3003: "Limit exceeded",
    3006: "Invalid parameters",
    3014: "Invalid signature",
    3016: "The file is too large. Please cut it into 10-20 seconds",
}


def sign(access_secret: str, access_key: str, data_type: str, signature_version: str, timestamp: str) -> str:
    """The documented v1 signature: Base64(HMAC-SHA1(secret, method/uri/key/type/version/timestamp))."""
    string_to_sign = "\n".join(["POST", IDENTIFY_URI, access_key, data_type, signature_version, timestamp])
    digest = hmac.new(access_secret.encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _status(code: int, **extra: Any) -> JSONResponse:
    return JSONResponse({"status": {"msg": _STATUS_TEXT[code], "code": code, "version": "1.0"}, **extra})


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status)


def create_app(state: AcrState) -> FastAPI:
    app = FastAPI(title="ACRCloud simulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.acr = state

    @app.middleware("http")
    async def log_requests(request: Request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        endpoint = request.scope.get("acr_endpoint", "unknown")
        state.record(request.method, endpoint, response.status_code)
        # Path only: callback tokens and presign signatures live in query strings, which are never logged.
        log.info(
            "%s %s -> %d (%s, %.1f ms)",
            request.method,
            request.url.path,
            response.status_code,
            endpoint,
            (time.perf_counter() - started) * 1000,
        )
        return response

    def endpoint(request: Request, name: str) -> JSONResponse | None:
        request.scope["acr_endpoint"] = name
        if state.take_server_error(name):
            return _error(503, "Service Unavailable")
        return None

    # --- Identification API v1 --------------------------------------------------------------------------

    @app.post(IDENTIFY_URI)
    async def identify_sample(request: Request) -> Response:
        if (failure := endpoint(request, "identify")) is not None:
            return failure
        if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
            return _status(3002)
        form = await request.form()
        access_key = str(form.get("access_key") or "")
        with state.lock:
            secret = state.access_keys.get(access_key)
        if secret is None:
            return _status(3001)
        data_type = str(form.get("data_type") or "")
        signature_version = str(form.get("signature_version") or "")
        timestamp = str(form.get("timestamp") or "")
        signature = str(form.get("signature") or "")
        sample = form.get("sample")
        if data_type not in ("audio", "fingerprint") or signature_version != "1" or not timestamp:
            return _status(3006)
        expected = sign(secret, access_key, data_type, signature_version, timestamp)
        if not hmac.compare_digest(expected, signature):
            return _status(3014)
        if not isinstance(sample, UploadFile):
            return _status(3006)
        with state.lock:
            if state.identify_quota <= 0:
                return _status(3003)
            state.identify_quota -= 1
        content = await sample.read()
        declared = str(form.get("sample_bytes") or len(content))
        if len(content) > MAX_SAMPLE_BYTES or (declared.isdigit() and int(declared) > MAX_SAMPLE_BYTES):
            return _status(3016)
        if data_type == "fingerprint":
            # The simulator cannot read SDK fingerprints: nothing is recognised from them.
            return _status(1001)
        music = await run_in_threadpool(
            identify, content, state.catalogue, list_shapes=state.list_shapes_for_odd_songs
        )
        if not music:
            return _status(1001)
        return _status(
            0,
            metadata={"timestamp_utc": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"), "music": music},
            result_type=0,
        )

    # --- File Scanning: auth and helpers ----------------------------------------------------------------

    def authorised(request: Request) -> bool:
        header = request.headers.get("authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else ""
        with state.lock:
            return bool(token) and any(hmac.compare_digest(token, known) for known in state.bearer_tokens)

    def guard(request: Request, name: str) -> JSONResponse | None:
        failure = endpoint(request, name)
        if failure is not None:
            return failure
        if not authorised(request):
            return _error(401, "Unauthenticated.")
        return None

    def container_or_404(cid: str) -> Container | JSONResponse:
        with state.lock:
            container = state.containers.get(int(cid)) if cid.isdigit() else None
        return container if container is not None else _error(404, "Container not found")

    def files_or_404(container: Container, ids: str) -> list[ScanFile] | JSONResponse:
        wanted = [part for part in ids.split(",") if part]
        with state.lock:
            found = [state.files.get(file_id) for file_id in wanted]
        if not wanted or any(item is None or item.cid != container.id for item in found):
            return _error(404, "File not found")
        return found  # type: ignore[return-value]

    def page_of(items: list[Any], request: Request) -> dict[str, Any]:
        try:
            page = max(1, int(request.query_params.get("page", "1")))
            per_page = min(100, max(1, int(request.query_params.get("per_page", "20"))))
        except ValueError:
            page, per_page = 1, 20
        total = len(items)
        last_page = max(1, -(-total // per_page))
        return {
            "data": items[(page - 1) * per_page : page * per_page],
            "meta": {"current_page": page, "per_page": per_page, "total": total, "last_page": last_page},
        }

    # --- containers -----------------------------------------------------------------------------------

    @app.get("/api/fs-containers")
    async def list_containers(request: Request) -> Response:
        if (failure := guard(request, "containers")) is not None:
            return failure
        region, name = request.query_params.get("region"), request.query_params.get("name")
        with state.lock:
            items = [
                container.to_api()
                for container in state.containers.values()
                if (not region or container.region == region) and (not name or name in container.name)
            ]
        return JSONResponse(page_of(items, request))

    @app.post("/api/fs-containers")
    async def create_container(request: Request) -> Response:
        if (failure := guard(request, "container_create")) is not None:
            return failure
        body = await request.json()
        missing = [key for key in ("name", "region", "engine") if not body.get(key)]
        if missing:
            return _error(422, f"missing fields: {', '.join(missing)}")
        return JSONResponse({"data": state.create_container(body).to_api()}, status_code=201)

    @app.api_route("/api/fs-containers/{cid}", methods=["GET", "PUT", "DELETE"])
    async def one_container(request: Request, cid: str) -> Response:
        if (failure := guard(request, "container")) is not None:
            return failure
        container = container_or_404(cid)
        if isinstance(container, JSONResponse):
            return container
        if request.method == "DELETE":
            with state.lock:
                state.containers.pop(container.id, None)
            return Response(status_code=204)
        if request.method == "PUT":
            body = await request.json()
            with state.lock:
                for key in (
                    "name",
                    "audio_type",
                    "buckets",
                    "engine",
                    "policy",
                    "callback_url",
                    "ai_detection",
                    "music_detection",
                    "deepright",
                ):
                    if key in body:
                        setattr(container, key, body[key])
        return JSONResponse({"data": container.to_api()})

    # --- presigned upload -------------------------------------------------------------------------------

    @app.get("/api/fs-containers/{cid}/presigned-upload")
    async def presigned_upload(request: Request, cid: str) -> Response:
        if (failure := guard(request, "presigned_upload")) is not None:
            return failure
        container = container_or_404(cid)
        if isinstance(container, JSONResponse):
            return container
        filename = request.query_params.get("filename") or "upload"
        content_type = request.query_params.get("content_type") or "application/octet-stream"
        key = f"fs/{container.id}/{secrets.token_hex(8)}/{filename}"
        signature = secrets.token_urlsafe(16)
        with state.lock:
            state.presigned[key] = signature
        url = str(request.base_url).rstrip("/") + f"/_storage/{key}?X-Signature={signature}"
        return JSONResponse(
            {
                "data": {
                    "presigned_url": url,
                    "key": key,
                    "method": "PUT",
                    "headers": {"Content-Type": content_type},
                }
            }
        )

    @app.put("/_storage/{key:path}")
    async def storage_put(request: Request, key: str) -> Response:
        request.scope["acr_endpoint"] = "storage_put"
        with state.lock:
            expected = state.presigned.get(key)
        given = request.query_params.get("X-Signature", "")
        if expected is None or not hmac.compare_digest(expected, given):
            return Response(
                "<Error><Code>AccessDenied</Code></Error>", status_code=403, media_type="application/xml"
            )
        body = await request.body()
        with state.lock:
            state.storage[key] = body
        return Response(status_code=200)

    # --- files ------------------------------------------------------------------------------------------

    @app.get("/api/fs-containers/{cid}/files")
    async def list_files(request: Request, cid: str) -> Response:
        if (failure := guard(request, "files")) is not None:
            return failure
        container = container_or_404(cid)
        if isinstance(container, JSONResponse):
            return container
        with_result = request.query_params.get("with_result") == "1"
        search = request.query_params.get("search")
        wanted_state = request.query_params.get("state")
        with state.lock:
            files = [item for item in state.files.values() if item.cid == container.id]
            for item in files:
                state.settle(item)
            items = [
                item.to_api(with_result)
                for item in files
                if (not search or search in item.name)
                and (wanted_state is None or str(item.state) == wanted_state)
            ]
        return JSONResponse(page_of(items, request))

    @app.post("/api/fs-containers/{cid}/files")
    async def add_file(request: Request, cid: str) -> Response:
        if (failure := guard(request, "file_upload")) is not None:
            return failure
        container = container_or_404(cid)
        if isinstance(container, JSONResponse):
            return container
        content_type = request.headers.get("content-type", "").lower()
        if content_type.startswith("multipart/form-data"):
            form = await request.form()
            upload, data_type = form.get("file"), str(form.get("data_type") or "audio")
            if not isinstance(upload, UploadFile):
                return _error(422, "The file field is required.")
            if data_type not in ("audio", "fingerprint"):
                return _error(422, "data_type must be audio or fingerprint for a file upload")
            audio = await upload.read()
            name = str(form.get("name") or upload.filename or "upload")
            uri = f"{data_type}:{name}"
        else:
            try:
                body = await request.json()
            except ValueError:
                return _error(422, "send multipart/form-data or a JSON body")
            data_type = str(body.get("data_type") or "")
            if data_type == "audio_url":
                url = str(body.get("url") or "")
                if not url.startswith(("http://", "https://")):
                    return _error(422, "url must be an http(s) URL")
                try:
                    fetched = await run_in_threadpool(requests.get, url, timeout=30)
                    fetched.raise_for_status()
                except requests.RequestException as error:
                    return _error(422, f"could not download the url: {type(error).__name__}")
                audio, name, uri = (
                    fetched.content,
                    str(body.get("name") or url.rsplit("/", 1)[-1]),
                    f"audio_url:{url}",
                )
            elif data_type in ("audio", "fingerprint") and body.get("key"):
                with state.lock:
                    audio = state.storage.pop(str(body["key"]), b"")
                if not audio:
                    return _error(422, "no uploaded object under that key")
                name = str(body.get("name") or body.get("filename") or "upload")
                uri = f"{data_type}:{name}"
            else:
                return _error(422, "data_type must be audio_url (with url) or audio/fingerprint (with key)")
        if not audio:
            return _error(422, "The file is empty.")
        scan_file = state.add_file(container, name, uri, data_type, audio)
        return JSONResponse({"data": scan_file.to_api(with_result=False)}, status_code=201)

    @app.api_route("/api/fs-containers/{cid}/files/{ids}", methods=["GET", "DELETE"])
    async def some_files(request: Request, cid: str, ids: str) -> Response:
        if (failure := guard(request, "file" if request.method == "GET" else "file_delete")) is not None:
            return failure
        container = container_or_404(cid)
        if isinstance(container, JSONResponse):
            return container
        found = files_or_404(container, ids)
        if isinstance(found, JSONResponse):
            return found
        with state.lock:
            if request.method == "DELETE":
                for item in found:
                    state.files.pop(item.id, None)
                return Response(status_code=204)
            for item in found:
                state.settle(item)
            # Documented quirk: one file's details come back as a one-element list.
            return JSONResponse({"data": [item.to_api() for item in found]})

    @app.put("/api/fs-containers/{cid}/files/{ids}/rescan")
    async def rescan(request: Request, cid: str, ids: str) -> Response:
        if (failure := guard(request, "rescan")) is not None:
            return failure
        container = container_or_404(cid)
        if isinstance(container, JSONResponse):
            return container
        found = files_or_404(container, ids)
        if isinstance(found, JSONResponse):
            return found
        for item in found:
            state.rescan(item)
        return JSONResponse({"data": [item.to_api(with_result=False) for item in found]})

    return app
