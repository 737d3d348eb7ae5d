"""Daily audience time series of tracks and artists per platform, incremental, in mapped batches."""

from __future__ import annotations

from datetime import datetime, timedelta

# Naming the decorator module makes TaskFlow free at parse time (see dags/charts/sync_chart_rankings.py).
import airflow.sdk.definitions.decorators  # noqa: F401
from airflow.sdk import DAG, CronTriggerTimetable, Param, TriggerRule, task

from musiccharts_airflow.assets import AUDIENCE_UPDATED_ASSET
from musiccharts_airflow.governance import PRODUCT_DB_POOL, SOUNDCHARTS_POOL, Tag, default_task_args

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

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_UUID_LIST = {"type": "array", "items": {"type": "string", "format": "uuid", "pattern": UUID_PATTERN}}

with DAG(
    dag_id=DAG_ID,
    description="Incremental track and artist audience series from Soundcharts in mapped batches",
    schedule=CronTriggerTimetable(CRON, timezone="UTC"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_task_args(retries=3, retry_delay=timedelta(minutes=1)),
    tags=[Tag.DOMAIN_CATALOG, Tag.SOURCE_SOUNDCHARTS, Tag.TIER_2],
    params={
        "until": Param(
            None,
            type=["null", "string"],
            format="date",
            pattern=r"^\d{4}-\d{2}-\d{2}$",
            description="Last day to fetch (YYYY-MM-DD). Empty = yesterday (UTC).",
        ),
        "track_uuids": Param([], **_UUID_LIST, description="Only these tracks (empty = all)."),
        "artist_uuids": Param([], **_UUID_LIST, description="Only these artists (empty = all)."),
    },
    doc_md=DOC,
) as dag:

    def _plan(kind: str, params: dict) -> list[dict]:
        import psycopg
        from airflow.sdk.configuration import conf

        from musiccharts.catalog.audience import resolve_until
        from musiccharts.catalog.batching import plan_batches
        from musiccharts.catalog.config import load_catalog_config
        from musiccharts.catalog.select import select_audience_entities
        from musiccharts_airflow.product_db import product_dsn

        config = load_catalog_config().audience
        platforms = config.track_platforms if kind == "track" else config.artist_platforms
        with psycopg.connect(product_dsn()) as conn:
            uuids = select_audience_entities(
                conn,
                kind,
                platforms=platforms,
                until=resolve_until(params.get("until")),
                uuids=params.get(f"{kind}_uuids") or None,
            )
        # Never more mapped instances than this deployment's [core] max_map_length allows.
        limit = min(config.max_batches, conf.getint("core", "max_map_length"))
        return plan_batches(uuids, endpoint_max=config.entities_per_batch, max_batches=limit)

    def _fetch(kind: str, batch: dict, params: dict) -> dict:
        from airflow.sdk import get_current_context

        from musiccharts.catalog.audience import resolve_until
        from musiccharts.catalog.batching import batch_label
        from musiccharts.catalog.config import load_catalog_config
        from musiccharts.catalog.sync import fetch_and_load_audience
        from musiccharts_airflow.hooks.soundcharts import SoundchartsHook
        from musiccharts_airflow.product_db import product_dsn

        get_current_context()["batch_label"] = batch_label(batch, f"{kind}s")
        config = load_catalog_config().audience
        return fetch_and_load_audience(
            SoundchartsHook(),
            product_dsn(),
            kind,
            batch["ids"],
            platforms=config.track_platforms if kind == "track" else config.artist_platforms,
            until=resolve_until(params.get("until")),
            first_fetch_days=config.first_fetch_days,
            max_window_days=config.max_window_days,
        )

    @task(task_id="plan_track_batches", pool=PRODUCT_DB_POOL)
    def plan_track_batches(params=None) -> list[dict]:
        """Tracks missing at least one platform up to ``until``, as batches (ids only)."""
        return _plan("track", params)

    @task(task_id="plan_artist_batches", pool=PRODUCT_DB_POOL)
    def plan_artist_batches(params=None) -> list[dict]:
        """Artists missing at least one platform up to ``until``, as batches (ids only)."""
        return _plan("artist", params)

    @task(
        task_id="fetch_track_batch",
        pool=SOUNDCHARTS_POOL,
        map_index_template="{{ batch_label }}",
        max_active_tis_per_dagrun=4,
    )
    def fetch_track_batch(batch: dict, params=None) -> dict:
        """New dates of every track x platform of the batch, loaded in one transaction."""
        return _fetch("track", batch, params)

    @task(
        task_id="fetch_artist_batch",
        pool=SOUNDCHARTS_POOL,
        map_index_template="{{ batch_label }}",
        max_active_tis_per_dagrun=4,
    )
    def fetch_artist_batch(batch: dict, params=None) -> dict:
        """New dates of every artist x platform of the batch, loaded in one transaction."""
        return _fetch("artist", batch, params)

    @task(task_id="summarise", trigger_rule=TriggerRule.ALL_DONE, outlets=[AUDIENCE_UPDATED_ASSET])
    def summarise(track_batches: list[dict], track_results, artist_batches: list[dict], artist_results):
        """Fail only when more than the threshold of all batches failed; log and return the counts."""
        from airflow.sdk.exceptions import AirflowFailException

        from musiccharts.catalog.config import load_catalog_config
        from musiccharts.catalog.runtime import summarise_run
        from musiccharts.catalog.sync import TooManyFailedBatches

        threshold = load_catalog_config().audience.failure_threshold
        try:
            return summarise_run(
                list(track_batches or []) + list(artist_batches or []),
                list(track_results or []) + list(artist_results or []),
                threshold,
            )
        except TooManyFailedBatches as error:
            raise AirflowFailException(str(error)) from None  # retrying the summary cannot help

    track_plan = plan_track_batches()
    artist_plan = plan_artist_batches()
    summarise(
        track_plan,
        fetch_track_batch.expand(batch=track_plan),
        artist_plan,
        fetch_artist_batch.expand(batch=artist_plan),
    )
