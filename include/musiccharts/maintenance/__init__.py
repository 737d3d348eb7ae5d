"""Maintenance: verified backups, retention, Airflow metadata and log cleanup, health checks."""
