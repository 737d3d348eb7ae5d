"""Deferrable triggers (run on the triggerer; importable from ``plugins/``)."""
