"""Chart trends per ranking entry, refreshed whenever a chart period is loaded."""

from __future__ import annotations

# Naming the decorator module lets the dag-processor pre-import it, which makes TaskFlow free at parse time.
import airflow.sdk.definitions.decorators  # noqa: F401

from musiccharts_airflow.dag_factories.analytics import build_chart_trends_dag
from musiccharts_airflow.governance import OWNER, PRODUCT_DB_POOL

DOC = f"""\
### Purpose
Per entry of every stored ranking: new entry, re-entry, climber/faller with its size, peak position and
date, periods on chart and current streak (from our own stored history), plus exits (view
`chart_trend_exits`) and a summary per ranking (`chart_trend_rankings`). Incremental: only rankings that
are new, reloaded, or follow a period loaded late are recomputed, and only rows that differ are written, so
a rerun writes nothing. Exports CSV + Parquet per ranking day and one bump chart per enabled chart.

### Owner
{OWNER}

### Schedule
On the `chart_rankings` Asset (every loaded chart period), or by hand. `catchup=False`, one run at a time:
each run brings every chart up to date, so missed runs need no replay.

### Params
- `force` (boolean): recompute every ranking (still writing only differences).

### Upstream / Downstream
Upstream: chart-sync DAGs (Asset `chart_rankings`), product DB (pool `{PRODUCT_DB_POOL}`). Downstream:
Asset `chart_trends`; files under `exports.base_url` (`chart_trends/date=.../`, `plots/bump/`).

### Troubleshooting
- Trends look stale after a manual SQL change: trigger with `force`.
- Export failures do not touch the stored trends; clear `export_trends` alone.
"""

dag = build_chart_trends_dag(DOC)
