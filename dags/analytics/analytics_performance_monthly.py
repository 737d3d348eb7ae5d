"""Monthly performance reports per track and artist x platform, and by hand for any period."""

from __future__ import annotations

# Naming the decorator module lets the dag-processor pre-import it, which makes TaskFlow free at parse time.
import airflow.sdk.definitions.decorators  # noqa: F401

from musiccharts_airflow.dag_factories.analytics import build_performance_dag
from musiccharts_airflow.governance import OWNER, PRODUCT_DB_POOL

CRON = "0 7 1 * *"

DOC = f"""\
### Purpose
Performance of every track and artist per platform over the last complete calendar month: start, end,
difference, growth %, average, peak, best chart position and chart days, plus artist roll-ups across tracks
and platforms (`performance_reports`), exported as CSV + Parquet. Figures come from the stored audience
series and rankings; what the period lacks is fetched first: `plan_streaming_batches` finds the artists
without a streaming audience (Spotify monthly listeners) on the period's last day and
`fetch_streaming_batch` is mapped over batches of them (pool `soundcharts_api`, every window and page),
stored as the series `spotify:streaming`. Likewise `plan_airplay_batches` finds the artists with days of
the period (up to yesterday) without radio spins and `fetch_airplay_batch` asks Soundcharts
`broadcast-groups` for each missing day (every page), summing the stations into `artist_airplay`; the
reports list them as platform `airplay`. `compute_reports` runs even when some batches failed.

### Owner
{OWNER}

### Schedule
`{CRON}` UTC (CronTriggerTimetable), `catchup=False`; by hand with Params for any period.

### Params
- `track_uuids`, `artist_uuids` (lists, empty = all), `platforms` (list, empty = all).
- `period_start`, `period_end` (dates, both or neither): the period instead of the last complete
  calendar month.

### Upstream / Downstream
Upstream: `fetch_audience`, chart-sync DAGs, Soundcharts (`soundcharts_default`), product DB (pool
`{PRODUCT_DB_POOL}`). Downstream: Asset `performance_reports`; files `period=.../performance/date=.../`.

### Troubleshooting
- *unknown track/artist uuid*: a uuid in the Params is not stored; check it or run the metadata DAGs first.
- Empty reports: no audience stored in the period; check `fetch_audience`.
"""

dag = build_performance_dag("monthly", CRON, DOC)
