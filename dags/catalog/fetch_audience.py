"""Daily audience time series of tracks and artists per platform, incremental, in mapped batches."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

# Naming the decorator module here lets the dag-processor pre-import it (parsing_pre_import_modules only
# sees a DAG file's own airflow.* imports), which makes TaskFlow free at parse time.
import airflow.sdk.definitions.decorators  # noqa: F401
from airflow.sdk import DAG, CronTriggerTimetable, Param

from musiccharts_airflow.assets import AUDIENCE_UPDATED_ASSET
from musiccharts_airflow.governance import SOUNDCHARTS_POOL, Tag, default_task_args
from musiccharts_airflow.mapped_batches import BatchLimits, batched_fetch, summarise_batches
from musiccharts_airflow.notifications import run_failure_notifier
from musiccharts_airflow.params import uuid_list_param

if TYPE_CHECKING:
    from collections.abc import Mapping

    from musiccharts.catalog.config import AudienceConfig
    from musiccharts.catalog.select import EntityKind

DAG_ID = "fetch_audience"
CRON = "0 6 * * *"

DOC = f"""\
### Purpose
Keeps the audience series of every stored track (default platforms spotify, youtube, shazam, airplay) and
artist (spotify, youtube, instagram, tiktok) up to the last crawled day (yesterday); platforms are set in
`include/config/catalog.yaml`. Incremental: each entity x platform fetches only from the day after its last
stored date (a first fetch goes back `first_fetch_days`), in windows of at most 90 days, all pages. Every
plot identifier is its own row (a song with two Spotify ids keeps both) and a value of 0 is stored as 0.
Entities already up to date are not selected, so a second run on the same day maps nothing and calls
nothing. `plan_*` tasks split the entities into batches, `fetch_*_batch` are mapped over them (one
transaction per batch) and `summarise` fails the run only when more than `failure_threshold` of all batches
failed.

### Owner
{default_task_args()["owner"]}

### Schedule
`{CRON}` UTC (CronTriggerTimetable). `catchup=False`: a run always fetches everything missing up to
yesterday, so one run replaces any number of missed ones; replaying missed days would only repeat calls.
`max_active_runs=1`: two runs would fetch the same increments.

### Params
- `until` (date or empty): last day to fetch (empty = yesterday, UTC).
- `track_uuids`, `artist_uuids` (lists of uuids, default empty = every stored track / artist).

### Upstream / Downstream
Upstream: tracks and artists stored by the chart and metadata DAGs; Soundcharts (`soundcharts_default`,
pool `{SOUNDCHARTS_POOL}`). Downstream: Asset `audience_updated` → fraud detection; analytics DAGs read
`track_audience` / `artist_audience`.

### Troubleshooting
- A failed batch instance ("tracks 1-25 of 1,200") can be cleared on its own; loads are idempotent.
- A platform the API has no series for (404) is counted as `not_found`, not an error.
- *TooManyFailedBatches*: read the failed instances' logs (outage, quota, schema drift).
"""

ENTITY_KINDS: tuple[EntityKind, ...] = ("track", "artist")


def audience_config() -> AudienceConfig:
    from musiccharts.catalog.config import load_catalog_config

    return load_catalog_config().audience


def audience_limits() -> BatchLimits:
    config = audience_config()
    return BatchLimits(batch_size=config.entities_per_batch, max_batches=config.max_batches)


def platforms(kind: EntityKind) -> tuple[str, ...]:
    config = audience_config()
    return config.track_platforms if kind == "track" else config.artist_platforms


def select_audience(kind: EntityKind, params: Mapping[str, Any]) -> list[str]:
    """Entities missing at least one platform up to ``until``."""
    from musiccharts.catalog.audience import resolve_until
    from musiccharts.catalog.select import select_audience_entities
    from musiccharts.db.connection import product_db_session
    from musiccharts_airflow.product_db import product_dsn

    with product_db_session(product_dsn()) as conn:
        return select_audience_entities(
            conn,
            kind,
            platforms=platforms(kind),
            until=resolve_until(params.get("until")),
            uuids=params.get(f"{kind}_uuids") or None,
        )


def fetch_audience(kind: EntityKind, uuids: list[str], params: Mapping[str, Any]) -> dict:
    """New dates of every entity x platform of the batch, loaded in one transaction."""
    from musiccharts.catalog.audience import resolve_until
    from musiccharts.catalog.sync import fetch_and_load_audience
    from musiccharts_airflow.hooks.soundcharts import SoundchartsHook
    from musiccharts_airflow.product_db import product_dsn

    config = audience_config()
    return fetch_and_load_audience(
        SoundchartsHook(),
        product_dsn(),
        kind,
        uuids,
        platforms=platforms(kind),
        until=resolve_until(params.get("until")),
        first_fetch_days=config.first_fetch_days,
        max_window_days=config.max_window_days,
    )


with DAG(
    dag_id=DAG_ID,
    description="Incremental track and artist audience series from Soundcharts in mapped batches",
    schedule=CronTriggerTimetable(CRON, timezone="UTC"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_task_args(),
    on_failure_callback=run_failure_notifier,
    tags=[Tag.DOMAIN_CATALOG, Tag.SOURCE_SOUNDCHARTS, Tag.TIER_2],
    params={
        "until": Param(
            None,
            type=["null", "string"],
            format="date",
            pattern=r"^\d{4}-\d{2}-\d{2}$",
            description="Last day to fetch (YYYY-MM-DD). Empty = yesterday (UTC).",
        ),
        "track_uuids": uuid_list_param("Only these tracks (empty = all)."),
        "artist_uuids": uuid_list_param("Only these artists (empty = all)."),
    },
    doc_md=DOC,
) as dag:
    batches = [
        batched_fetch(
            noun=f"{kind}s",
            plan_task_id=f"plan_{kind}_batches",
            fetch_task_id=f"fetch_{kind}_batch",
            select=partial(select_audience, kind),
            fetch=partial(fetch_audience, kind),
            limits=audience_limits,
            plan_doc=f"{kind.title()}s missing at least one platform up to `until`, as batches (ids only).",
            fetch_doc=f"New dates of every {kind} x platform of the batch, loaded in one transaction.",
        )
        for kind in ENTITY_KINDS
    ]
    summarise_batches(
        *batches,
        failure_threshold=lambda: audience_config().failure_threshold,
        outlets=[AUDIENCE_UPDATED_ASSET],
    )
