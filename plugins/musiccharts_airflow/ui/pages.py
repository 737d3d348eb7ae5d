"""The pages: static HTML documents that load their data from the JSON endpoints in the browser.

A page holds no data itself, but it is still served only to authenticated users, so that an anonymous
visitor gets the same refusal as from the endpoints. Scripts, styles and the charting library are plain
static files of this package (no CDN: the UI works offline).
"""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated

from airflow.api_fastapi.core_api.security import GetUserDep
from fastapi import APIRouter, HTTPException, Path, status
from fastapi.responses import HTMLResponse

router = APIRouter(prefix="/pages", tags=["pages"])

PAGES_DIR = FilePath(__file__).resolve().parent / "templates"
PAGE_NAMES = ("coverage", "chart", "track", "fraud", "analyses")


@router.get("/{name}", response_class=HTMLResponse, summary="One of the MusicCharts pages")
def page(user: GetUserDep, name: Annotated[str, Path(description=", ".join(PAGE_NAMES))]) -> HTMLResponse:
    del user  # authentication is the check
    if name not in PAGE_NAMES:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no page {name!r}")
    return HTMLResponse((PAGES_DIR / f"{name}.html").read_text(encoding="utf-8"))
