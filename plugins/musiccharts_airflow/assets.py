"""Assets through which the domains hand over (never sensors polling tables)."""

from __future__ import annotations

from airflow.sdk import Asset

#: A chart ranking was loaded and passed its quality checks (charts → metadata, analytics).
CHART_RANKINGS_ASSET = Asset(name="chart_rankings", uri="musiccharts://product/chart_rankings")

#: Track metadata was refreshed, possibly with new artists (track metadata → artist metadata).
TRACKS_UPDATED_ASSET = Asset(name="tracks_updated", uri="musiccharts://product/tracks")
