"""Track metadata in batches: stale or missing tracks → one mapped task per batch → a threshold summary."""

from __future__ import annotations

from datetime import datetime, timedelta

# Naming the decorator module makes TaskFlow free at parse time (see dags/charts/sync_chart_rankings.py).
import airflow.sdk.definitions.decorators  # noqa: F401
from airflow.sdk import DAG, Param, TriggerRule, task

from musiccharts_airflow.assets import CHART_RANKINGS_ASSET, TRACKS_UPDATED_ASSET
from musiccharts_airflow.governance import PRODUCT_DB_POOL, SOUNDCHARTS_POOL, Tag, default_task_args

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"

DAG_ID = "fetch_track_metadata"

DOC = f"""\
### Purpose
Fetches Soundcharts metadata for every track whose metadata is missing or older than the staleness window
(`include/config/catalog.yaml`, default 30 days) with the batch endpoint `GET /api/v2.25/song/{{u1,u2,...}}`.
`select_stale_tracks` splits the tracks into at most `max_batches` batches (never more than Airflow's
`max_map_length`: 10,000 stale tracks make 1,000 mapped instances of 10); `fetch_batch` is mapped over them
and upserts tracks (ISRC value, label, release date, duration, explicit, genres root/sub, composers,
producers, audio features), their artists and track-artist links in **one transaction per batch**.
`summarise` fails the run only when more than `failure_threshold` of the batches failed, logs the counts and
publishes the `tracks_updated` Asset.

### Owner
{default_task_args()["owner"]}

### Schedule
On the `chart_rankings` Asset (every loaded chart period), or by hand. `catchup=False`: the DAG is
Asset-triggered and each run selects by staleness, so there is no history of periods to replay.
`max_active_runs=1`: two runs would select the same stale tracks.

### Params
- `uuids` (list of track uuids, default empty = all stale tracks): only these tracks.
- `force` (boolean): refetch even when the metadata is fresh.
- `staleness_days` (integer >= 0, empty = from catalog.yaml).

### Upstream / Downstream
Upstream: chart-sync DAGs (Asset `chart_rankings`), Soundcharts (`soundcharts_default`, pool
`{SOUNDCHARTS_POOL}`). Downstream: Asset `tracks_updated` → `fetch_artist_metadata`.

### Troubleshooting
- A failed `fetch_batch` instance (map index named "tracks 1-10 of 2,345") can be cleared on its own; the
  load is idempotent.
- *TooManyFailedBatches*: more than the threshold of batches failed; see the failed instances' logs (API
  outage, quota, schema drift naming endpoint and field).
- Tracks the batch endpoint does not serve are counted as `not_found` and retried on the next run.
"""

with DAG(
    dag_id=DAG_ID,
    description="Refresh stale track metadata from Soundcharts in mapped batches",
    schedule=[CHART_RANKINGS_ASSET],
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
            description="Only these track uuids (empty = every stale track).",
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

    @task(task_id="select_stale_tracks", pool=PRODUCT_DB_POOL)
    def select_stale_tracks(params=None) -> list[dict]:
        """Stale tracks as batches (ids only: XCom stays small)."""
        from airflow.sdk.configuration import conf

        from musiccharts.catalog.batching import plan_batches
        from musiccharts.catalog.config import load_catalog_config
        from musiccharts.catalog.runtime import select_stale
        from musiccharts_airflow.product_db import product_dsn

        config = load_catalog_config().track_metadata
        uuids = select_stale(product_dsn(), "track", config, params)
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
        from musiccharts.catalog.sync import fetch_and_load_tracks
        from musiccharts_airflow.hooks.soundcharts import SoundchartsHook
        from musiccharts_airflow.product_db import product_dsn

        get_current_context()["batch_label"] = batch_label(batch, "tracks")
        config = load_catalog_config().track_metadata
        return fetch_and_load_tracks(
            SoundchartsHook(), product_dsn(), batch["ids"], endpoint_max=config.endpoint_max
        )

    @task(task_id="summarise", trigger_rule=TriggerRule.ALL_DONE, outlets=[TRACKS_UPDATED_ASSET])
    def summarise(batches: list[dict], results) -> dict:
        """Fail only past the failure threshold; log and return the counts."""
        from airflow.sdk.exceptions import AirflowFailException

        from musiccharts.catalog.config import load_catalog_config
        from musiccharts.catalog.runtime import summarise_run
        from musiccharts.catalog.sync import TooManyFailedBatches

        try:
            return summarise_run(batches, results, load_catalog_config().track_metadata.failure_threshold)
        except TooManyFailedBatches as error:
            raise AirflowFailException(str(error)) from None  # retrying the summary cannot help

    planned = select_stale_tracks()
    summarise(planned, fetch_batch.expand(batch=planned))
