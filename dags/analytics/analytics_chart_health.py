"""Chart health per chart and day, daily and after every chart sync; alerts below the threshold."""

from __future__ import annotations

# Naming the decorator module lets the dag-processor pre-import it, which makes TaskFlow free at parse time.
import airflow.sdk.definitions.decorators  # noqa: F401

from musiccharts_airflow.dag_factories.analytics import build_chart_health_dag
from musiccharts_airflow.governance import OWNER, PRODUCT_DB_POOL

CRON = "30 6 * * *"

DOC = f"""\
### Purpose
Scores every enabled chart of `include/config/charts.yaml` for the day: completeness since `history_start`
and over the last 30/12/6 periods, freshness (periods behind), stored vs announced entries, entry-count
consistency and validation failures, into a 0-100 score with the bands of `include/config/analytics.yaml`
(`health`). One row per chart and day in `chart_health`, exported as CSV + Parquet.
`alert_unhealthy_charts` sends one alert through the project notifier (email / webhook) naming every chart
below `alert_below`, its score, missing periods and failing rankings.

### Owner
{OWNER}

### Schedule
`{CRON}` UTC and on every `chart_rankings` Asset event (AssetOrTimeSchedule). `catchup=False`.

### Params
- `as_of` (date-time or empty): compute as of this moment instead of now.

### Upstream / Downstream
Upstream: chart-sync DAGs, product DB (pool `{PRODUCT_DB_POOL}`). Downstream: Asset `chart_health`; files
`chart_health/date=.../`.

### Troubleshooting
- An alert names each chart, its score, missing periods and failing rankings; fix the sync (backfill,
  `force` rerun) and the next run scores it again.
- *AlertDeliveryError* in `alert_unhealthy_charts`: every enabled channel failed; the scores are stored.
"""

dag = build_chart_health_dag(DOC, CRON)
