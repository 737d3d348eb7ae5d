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
