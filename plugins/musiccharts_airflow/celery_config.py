"""Celery configuration of the MusicCharts workers: Airflow's own, plus the task code imported once.

Airflow 3 runs every task in a process forked from a Celery pool process, and the task then imports what it
needs (psycopg, the pydantic payload models, the loader, the hook). A chart period's tasks are short, so
those imports were a large share of each task. Imported here, they are loaded once when the worker starts
(``[celery] celery_config_options`` is read before the pool forks), and every task process inherits them.
Only imports: no connection, file or thread is opened, so forking stays safe.

Selected with ``AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS=musiccharts_airflow.celery_config.CELERY_CONFIG``.
"""

from __future__ import annotations

import logging

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

log = logging.getLogger(__name__)

#: Airflow's defaults unchanged (prefetch, acks_late, broker options come from the ``[celery]`` section).
CELERY_CONFIG = dict(DEFAULT_CELERY_CONFIG)

#: What a chart task imports at run time; the list is short and explicit on purpose.
PRELOADED_MODULES = (
    "psycopg",
    "musiccharts.charts.sync",
    "musiccharts.charts.history",
    "musiccharts.periods",
    "musiccharts_airflow.hooks.soundcharts",
    "musiccharts_airflow.product_db",
)


def preload_task_modules(modules=PRELOADED_MODULES) -> list[str]:
    """Import ``modules``; one that fails is logged and skipped (a task would then raise it itself)."""
    import importlib

    loaded = []
    for name in modules:
        try:
            importlib.import_module(name)
            loaded.append(name)
        except Exception as error:  # never stop a worker from starting over an optimisation
            log.warning("could not preload %s: %s", name, error)
    return loaded


preload_task_modules()
