"""Assets through which the domains hand over (never sensors polling tables).

Name-only Assets on purpose: a URI with a scheme makes every DAG parse discover the providers' URI
normalisers (~5 ms per file), and these hand-overs are internal to the product, not external datasets.
"""

from __future__ import annotations

from airflow.sdk import Asset

#: A chart ranking was loaded and passed its quality checks (charts → metadata, analytics).
CHART_RANKINGS_ASSET = Asset("chart_rankings")

#: Track metadata was refreshed, possibly with new artists (track metadata → artist metadata).
TRACKS_UPDATED_ASSET = Asset("tracks_updated")

#: Audience series of tracks or artists were extended (audience fetch → fraud detection, performance).
AUDIENCE_UPDATED_ASSET = Asset("audience_updated")

#: Chart trends were brought up to date (analytics → exports, downstream consumers).
CHART_TRENDS_ASSET = Asset("chart_trends")

#: Chart health was recomputed for the day.
CHART_HEALTH_ASSET = Asset("chart_health")

#: Streaming-fraud flags were recomputed.
FRAUD_FLAGS_ASSET = Asset("fraud_flags")

#: Performance reports were recomputed.
PERFORMANCE_REPORTS_ASSET = Asset("performance_reports")
