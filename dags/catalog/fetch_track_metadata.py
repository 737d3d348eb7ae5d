"""Track metadata in batches: stale or missing tracks → one mapped task per batch → a threshold summary."""

from __future__ import annotations

# Naming the decorator module here lets the dag-processor pre-import it (parsing_pre_import_modules only
# sees a DAG file's own airflow.* imports), which makes TaskFlow free at parse time.
import airflow.sdk.definitions.decorators  # noqa: F401

from musiccharts_airflow.assets import CHART_RANKINGS_ASSET, TRACKS_UPDATED_ASSET
from musiccharts_airflow.dag_factories.metadata import build_metadata_dag
from musiccharts_airflow.governance import SOUNDCHARTS_POOL, default_task_args

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

dag = build_metadata_dag(
    entity="track", schedule=[CHART_RANKINGS_ASSET], outlets=[TRACKS_UPDATED_ASSET], doc_md=DOC
)
