"""Streaming-fraud detection on the audience series, after every audience update."""

from __future__ import annotations

# Naming the decorator module lets the dag-processor pre-import it, which makes TaskFlow free at parse time.
import airflow.sdk.definitions.decorators  # noqa: F401

from musiccharts_airflow.dag_factories.analytics import build_fraud_dag
from musiccharts_airflow.governance import OWNER, PRODUCT_DB_POOL

DOC = f"""\
### Purpose
Scores every track and artist audience series (daily increments of the cumulative values; missing days
are gaps): bursts that revert (robust z-score against a rolling median/MAD), bot-regular plateaus, and
chart/stream mismatch against the daily worldwide charts. Flags (entity, platform, window, detector, score,
evidence, detector version) replace the previous ones in `audience_fraud_flags` (view `fraud_flag_view`),
are exported as CSV + Parquet, and the best-scored series are drawn with their flags.

### Owner
{OWNER}

### Schedule
On the `audience_updated` Asset (published by `fetch_audience`), or by hand. `catchup=False`.

### Params
- `plots` (integer): how many flagged series to draw.

### Upstream / Downstream
Upstream: `fetch_audience`, product DB (pool `{PRODUCT_DB_POOL}`). Downstream: Asset `fraud_flags`; files
`fraud_flags/date=.../`, `plots/fraud/`.

### Troubleshooting
- Thresholds are in `include/config/analytics.yaml` (`fraud`); bump `detector_version` when changing them.
- The same detectors run outside Airflow:
  `python -m musiccharts.analytics.fraud detect --input points.csv --output flags.csv`.
"""

dag = build_fraud_dag(DOC)
