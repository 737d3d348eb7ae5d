"""Artist metadata in batches: stale or missing artists → one mapped task per batch → a threshold summary."""

from __future__ import annotations

# Naming the decorator module here lets the dag-processor pre-import it (parsing_pre_import_modules only
# sees a DAG file's own airflow.* imports), which makes TaskFlow free at parse time.
import airflow.sdk.definitions.decorators  # noqa: F401

from musiccharts_airflow.assets import TRACKS_UPDATED_ASSET
from musiccharts_airflow.dag_factories.metadata import build_metadata_dag
from musiccharts_airflow.governance import SOUNDCHARTS_POOL, default_task_args

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

dag = build_metadata_dag(entity="artist", schedule=[TRACKS_UPDATED_ASSET], doc_md=DOC)
