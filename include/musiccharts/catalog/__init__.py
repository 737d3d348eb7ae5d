"""Catalog domain: track/artist metadata, audience time series and the platform/chart catalogue."""
