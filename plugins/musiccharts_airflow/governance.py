"""What every MusicCharts DAG shares: the tag taxonomy, owners, default task arguments, failure alerts.

DAG files import from here so that retries, backoff and alerting are one decision, not one per file.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from enum import StrEnum
from typing import Any

from musiccharts_airflow.notifications import task_failure_notifier

log = logging.getLogger(__name__)

OWNER = "data-platform"

#: Airflow pools declared in airflow_settings.yaml (the governance tests check DAGs use only these).
SOUNDCHARTS_POOL = "soundcharts_api"
ACRCLOUD_POOL = "acrcloud_api"
PRODUCT_DB_POOL = "product_db"


class Tag(StrEnum):
    """The only tags a DAG may carry (checked by tests/dags)."""

    DOMAIN_CHARTS = "domain:charts"
    DOMAIN_CATALOG = "domain:catalog"
    DOMAIN_ACRCLOUD = "domain:acrcloud"
    DOMAIN_ANALYTICS = "domain:analytics"
    DOMAIN_MAINTENANCE = "domain:maintenance"
    SOURCE_SOUNDCHARTS = "source:soundcharts"
    SOURCE_ACRCLOUD = "source:acrcloud"
    TIER_1 = "tier:1"
    TIER_2 = "tier:2"


#: Task failure alert (email and/or webhook, see ``notifications``): pages once for an unmapped task that
#: failed its last try; a failed mapped task instance is left to its batch threshold.
notify_failure = task_failure_notifier


#: The hard limit of one task try, as in the original system: a task that hangs (a stuck call, a lock that
#: never comes) is killed and retried instead of holding its slot forever. Configurable per DAG.
DEFAULT_EXECUTION_TIMEOUT = timedelta(minutes=30)


def default_task_args(
    *,
    retries: int = 3,
    retry_delay: timedelta = timedelta(minutes=1),
    execution_timeout: timedelta = DEFAULT_EXECUTION_TIMEOUT,
) -> dict[str, Any]:
    """Default ``default_args`` for every DAG: owner, retries with exponential backoff, a time limit per
    try (``execution_timeout``, default 30 min), failure alert.

    ``MUSICCHARTS_RETRY_DELAY_SECONDS`` overrides the first retry delay (the end-to-end tests shorten it so
    that recovery scenarios finish in seconds; production keeps the default).
    """
    override = os.environ.get("MUSICCHARTS_RETRY_DELAY_SECONDS")
    if override:
        retry_delay = timedelta(seconds=float(override))
    return {
        "owner": OWNER,
        "retries": retries,
        "retry_delay": retry_delay,
        # 2.0 = the delay doubles on each try (Airflow 3.3 takes the multiplier), capped below.
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=30),
        "execution_timeout": execution_timeout,
        "on_failure_callback": notify_failure,
    }
