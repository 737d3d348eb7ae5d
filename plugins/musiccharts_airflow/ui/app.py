"""The MusicCharts UI app: JSON endpoints and the pages that draw them, mounted by Airflow's api-server.

Everything here is read-only over the product database; the pages' actions (backfill, forced rerun) go
from the browser to Airflow's own REST API with the user's own credentials, after confirmation.
The OpenAPI document of these endpoints is served at ``<prefix>/openapi.json`` (browsable at
``<prefix>/docs``).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.staticfiles import StaticFiles

from musiccharts_airflow.ui import pages
from musiccharts_airflow.ui.api import analyses, charts, coverage, dashboard, fraud, tracks
from musiccharts_airflow.ui.readonly_db import ReadOnlyProductDatabase

URL_PREFIX = "/musiccharts"
STATIC_DIR = Path(__file__).resolve().parent / "static"


def create_app(product_db: ReadOnlyProductDatabase | None = None) -> FastAPI:
    app = FastAPI(
        title="MusicCharts views",
        version="1",
        description=(
            "Read-only views of the MusicCharts product database for the Airflow UI. Every endpoint needs "
            "an Airflow token (the UI's session cookie or `Authorization: Bearer`); the data a DAG writes "
            "is returned only to users who may read that DAG."
        ),
    )
    app.state.product_db = product_db or ReadOnlyProductDatabase()
    app.add_middleware(GZipMiddleware, minimum_size=2048, compresslevel=5)
    for module in (coverage, charts, tracks, fraud, analyses, dashboard, pages):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
