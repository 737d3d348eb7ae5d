"""One chart-sync DAG per chart of ``include/config/charts.yaml`` (the shape: ``dag_factories.charts``).

Adding a chart is one YAML line; every chart period is a DAG run.
"""

from __future__ import annotations

# Named here so that the dag-processor pre-imports it once (see dag_factories/charts.py).
import airflow.sdk.definitions.decorators  # noqa: F401
from airflow.sdk import get_parsing_context

from musiccharts.config import load_chart_configs
from musiccharts_airflow.dag_factories.charts import build_chart_sync_dag

# A task process parses this file to run one task of one DAG: build only that DAG there (the
# dag-processor, with no DAG in its parsing context, builds all of them).
_only_dag_id = get_parsing_context().dag_id
for _chart in load_chart_configs():
    if _only_dag_id in (None, _chart.dag_id):
        globals()[_chart.dag_id] = build_chart_sync_dag(_chart)
