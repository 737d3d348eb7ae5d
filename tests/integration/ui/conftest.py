"""The real api-server app (Airflow's ``create_app``) with the MusicCharts plugin loaded from plugins/.

Requests go through Airflow's own authentication; the auth manager is SimpleAuthManager with per-DAG
grants for one user (``restricted_auth_manager``), the product database is seeded with ``ui_seed``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.ui import ui_seed
from tests.integration.ui.ui_seed import AUTH_MANAGER, token_for


# Package scope, not session: the environment below (charts file, auth manager) must not outlive the UI
# tests, or every later test would read the UI's charts and auth manager.
@pytest.fixture(scope="package")
def ui_environment(tmp_path_factory, product_dsn, airflow_metadata_db) -> Iterator[dict]:
    """Seeded product DB + DAG runs, and the environment the plugin reads (charts file, DB URL)."""
    from musiccharts.db.migrate import truncate_all

    charts_file = ui_seed.write_charts_file(tmp_path_factory.mktemp("ui") / "charts.yaml")
    truncate_all(product_dsn)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MUSICCHARTS_CHARTS_FILE", str(charts_file))
        patch.setenv("MUSICCHARTS_DB_URL", product_dsn)
        patch.setenv("AIRFLOW__CORE__AUTH_MANAGER", AUTH_MANAGER)
        backups = tmp_path_factory.mktemp("backups")
        patch.setenv("MUSICCHARTS_BACKUP_LOCATION", str(backups))
        ids = ui_seed.seed_product_db(product_dsn)
        songs = ui_seed.seed_risk_data(product_dsn)
        backup_name = ui_seed.write_backup_manifest(backups)
        runs = ui_seed.seed_dag_runs()
        ui_seed.seed_risk_runs()
        yield {
            "ids": ids,
            "songs": songs,
            "runs": runs,
            "dsn": product_dsn,
            "charts_file": charts_file,
            "backup_location": backups,
            "backup_name": backup_name,
        }
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(DagRun).filter(DagRun.dag_id.like("sync_chart_rankings__ui-%")).delete()
        # The seeded runs, and the runs the Retry action of the browser tests created.
        session.query(DagRun).filter(
            DagRun.dag_id.in_([*ui_seed.RISK_RUNS, "retry_failed_analyses"])
        ).delete()
    truncate_all(product_dsn)


@pytest.fixture(scope="package")
def api_client(ui_environment):
    """A TestClient on the api-server app as ``airflow api-server`` builds it (plugins included)."""
    from airflow.api_fastapi.app import create_app, purge_cached_app
    from fastapi.testclient import TestClient

    purge_cached_app()
    app = create_app(apps="core")
    with TestClient(app) as client:
        yield client
    purge_cached_app()


@pytest.fixture(scope="package")
def as_viewer(api_client):
    return {"Authorization": f"Bearer {token_for('viewer-user')}"}


@pytest.fixture(scope="package")
def as_charts_viewer(api_client):
    """A user who may read two chart DAGs and nothing else."""
    return {"Authorization": f"Bearer {token_for('charts-viewer')}"}
