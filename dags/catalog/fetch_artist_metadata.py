"""Artist metadata in batches: stale or missing artists → one mapped task per batch → a threshold summary."""

from __future__ import annotations

from datetime import datetime, timedelta

# Naming the decorator module makes TaskFlow free at parse time (see dags/charts/sync_chart_rankings.py).
import airflow.sdk.definitions.decorators  # noqa: F401
from airflow.sdk import DAG, Param, TriggerRule, task

from musiccharts_airflow.assets import TRACKS_UPDATED_ASSET
from musiccharts_airflow.governance import PRODUCT_DB_POOL, SOUNDCHARTS_POOL, Tag, default_task_args

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"

DAG_ID = "fetch_artist_metadata"

DOC = f"""\
### Purpose
Fetches Soundcharts metadata for every artist whose metadata is missing or older than the staleness window
(`include/config/catalog.yaml`, default 30 days) with the artist batch endpoint
`GET /api/v2.9/artist/{{u1,...,u10}}` (at most 10 uuids per call). Artists are created by the track
metadata DAG from each track's artist list; this DAG fills in their full metadata (country, gender, type,
career stage, birth date, biography). `select_stale_artists` makes at most `max_batches` batches,
`fetch_batch` is mapped over them (one transaction per batch) and `summarise` fails the run only when more
than `failure_threshold` of the batches failed.

### Owner
{default_task_args()["owner"]}

### Schedule
On the `tracks_updated` Asset published by `fetch_track_metadata`, or by hand. `catchup=False`: the DAG is
Asset-triggered and each run selects by staleness, so there is no history of periods to replay.
`max_active_runs=1`: two runs would select the same stale artists.

### Params
- `uuids` (list of artist uuids, default empty = all stale artists): only these artists.
- `force` (boolean): refetch even when the metadata is fresh.
- `staleness_days` (integer >= 0, empty = from catalog.yaml).

### Upstream / Downstream
Upstream: `fetch_track_metadata` (Asset `tracks_updated`), Soundcharts (`soundcharts_default`, pool
`{SOUNDCHARTS_POOL}`). Downstream: `fetch_audience` reads the artists daily.

### Troubleshooting
- A failed `fetch_batch` instance ("artists 1-10 of 345") can be cleared on its own; loads are idempotent.
- *TooManyFailedBatches*: more than the threshold of batches failed; read the failed instances' logs.
- Artists the batch endpoint does not serve are counted as `not_found` and retried on the next run.
"""

with DAG(
    dag_id=DAG_ID,
    description="Refresh stale artist metadata from Soundcharts in mapped batches",
    schedule=[TRACKS_UPDATED_ASSET],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_task_args(retries=3, retry_delay=timedelta(minutes=1)),
    tags=[Tag.DOMAIN_CATALOG, Tag.SOURCE_SOUNDCHARTS, Tag.TIER_2],
    params={
        "uuids": Param(
            [],
            type="array",
            items={"type": "string", "format": "uuid", "pattern": UUID_PATTERN},
            description="Only these artist uuids (empty = every stale artist).",
        ),
        "force": Param(False, type="boolean", description="Refetch even if the metadata is fresh."),
        "staleness_days": Param(
            None,
            type=["null", "integer"],
            minimum=0,
            description="Refetch metadata older than this many days (empty = catalog.yaml).",
        ),
    },
    doc_md=DOC,
) as dag:

    @task(task_id="select_stale_artists", pool=PRODUCT_DB_POOL)
    def select_stale_artists(params=None) -> list[dict]:
        """Stale artists as batches (ids only: XCom stays small)."""
        from airflow.sdk.configuration import conf

        from musiccharts.catalog.batching import plan_batches
        from musiccharts.catalog.config import load_catalog_config
        from musiccharts.catalog.runtime import select_stale
        from musiccharts_airflow.product_db import product_dsn

        config = load_catalog_config().artist_metadata
        uuids = select_stale(product_dsn(), "artist", config, params)
        # Never more mapped instances than this deployment's [core] max_map_length allows.
        limit = min(config.max_batches, conf.getint("core", "max_map_length"))
        return plan_batches(uuids, endpoint_max=config.endpoint_max, max_batches=limit)

    @task(
        task_id="fetch_batch",
        pool=SOUNDCHARTS_POOL,
        map_index_template="{{ batch_label }}",
        max_active_tis_per_dagrun=4,
    )
    def fetch_batch(batch: dict) -> dict:
        """One batch: every API call first, then one transaction. Returns counts."""
        from airflow.sdk import get_current_context

        from musiccharts.catalog.batching import batch_label
        from musiccharts.catalog.config import load_catalog_config
        from musiccharts.catalog.sync import fetch_and_load_artists
        from musiccharts_airflow.hooks.soundcharts import SoundchartsHook
        from musiccharts_airflow.product_db import product_dsn

        get_current_context()["batch_label"] = batch_label(batch, "artists")
        config = load_catalog_config().artist_metadata
        return fetch_and_load_artists(
            SoundchartsHook(), product_dsn(), batch["ids"], endpoint_max=config.endpoint_max
        )

    @task(task_id="summarise", trigger_rule=TriggerRule.ALL_DONE)
    def summarise(batches: list[dict], results) -> dict:
        """Fail only past the failure threshold; log and return the counts."""
        from airflow.sdk.exceptions import AirflowFailException

        from musiccharts.catalog.config import load_catalog_config
        from musiccharts.catalog.runtime import summarise_run
        from musiccharts.catalog.sync import TooManyFailedBatches

        try:
            return summarise_run(batches, results, load_catalog_config().artist_metadata.failure_threshold)
        except TooManyFailedBatches as error:
            raise AirflowFailException(str(error)) from None  # retrying the summary cannot help

    planned = select_stale_artists()
    summarise(planned, fetch_batch.expand(batch=planned))
