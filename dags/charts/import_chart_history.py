"""Deep chart history at the API's rate: the missing periods of a range, imported in mapped chunks."""

from __future__ import annotations

import airflow.sdk.definitions.decorators  # noqa: F401  (pre-imported by the dag-processor: see sync_chart_rankings)

from musiccharts_airflow.dag_factories.chart_history import build_import_dag
from musiccharts_airflow.governance import SOUNDCHARTS_POOL, default_task_args

DOC = f"""\
### Purpose
Imports many chart periods at the rate the Soundcharts API allows, instead of one DAG run (three tasks) per
period. `plan_import` finds, per chart, the periods of the range that are not stored completely and resolves
each one's ranking datetime from `available-rankings`; `import_chunk` is mapped over chunks of one chart's
periods (map index "global-28 2025-01-01..2025-01-30 (30)"), fetches every page within the pool and the
shared rate limit, and stores the chunk in **one transaction** with the same checks, exits and idempotency
as a per-period run. A period that fails inside a chunk fails alone: the others are stored, and `summarise`
names it and fails the run; the per-period DAG (catchup, backfill or a clear) fetches it later.
`publish_chart_rankings` publishes the `chart_rankings` Asset once when anything was stored.

Stored periods are complete for the per-period DAGs: their catchup runs over the imported range make
**zero API calls**. Rerunning an import makes no API call for what is already stored.

### Owner
{default_task_args()["owner"]}

### Schedule
None: triggered by hand (UI "Trigger" with the form below, REST or CLI). `max_active_runs=1`.

### Params
- `charts` (list of slugs, empty = every enabled chart of `include/config/charts.yaml`).
- `from`, `to` (YYYY-MM-DD, both or neither): periods starting in `[from, to]`, clipped to each chart's
  `history_start` and to ended periods. Both empty: each chart's history from `history_start` up to its
  oldest stored period (charts whose history reaches further back than what is stored).
- `chunk_size` (1-366, default 30): periods per mapped task and per load transaction.

### Upstream / Downstream
Upstream: Soundcharts (`soundcharts_default`, pool `{SOUNDCHARTS_POOL}`, shared rate limit). Downstream:
Asset `chart_rankings` → metadata DAGs; the per-period DAGs `sync_chart_rankings__<slug>` find the periods
complete.

### Troubleshooting
- *summarise failed*: the log lists each failed period with its reason (not published yet, a bad page, a
  mismatch). Nothing of it was stored; its per-period run fetches it (clear that run, or let catchup do it).
- A failed `import_chunk` instance can be cleared on its own: periods stored meanwhile are skipped without
  a call. Credentials or quota errors fail the chunk at once, without retries.
- A bad conf is refused at trigger time (`from` not a date, unknown Param); an unknown chart or `from`
  after `to` fails `plan_import` at once with the reason.
"""

dag = build_import_dag(DOC)
