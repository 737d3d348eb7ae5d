"""Who may see what: the api-server's own authentication and its auth manager's DAG permissions.

A request without a valid Airflow token (``Authorization: Bearer`` or the UI's ``_token`` cookie) is
refused by ``GetUserDep`` with 401/403, exactly as the REST API refuses it. Product data is then shown only
to users who may read the DAG that writes it: a chart's rankings belong to its sync DAG, audience series
to ``fetch_audience``, and so on. The auth manager decides (Simple, FAB, Keycloak, ...), so per-DAG
permissions set there apply here without a second permission model.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated

from airflow.api_fastapi.core_api.security import GetUserDep
from fastapi import Depends, HTTPException, status

#: The DAGs that write each kind of product data outside the per-chart sync DAGs.
TRACK_METADATA_DAG = "fetch_track_metadata"
ARTIST_METADATA_DAG = "fetch_artist_metadata"
AUDIENCE_DAG = "fetch_audience"
FRAUD_DETECTION_DAG = "analytics_fraud_detection"
ANALYSIS_DAG = "analyze_songs"
RETRY_ANALYSIS_DAG = "retry_failed_analyses"
HEALTH_DAG = "check_system_health"
BACKUP_DAG = "backup_product_database"


def chart_dag_id(slug: str) -> str:
    return f"sync_chart_rankings__{slug}"


def _team_names(dag_ids: list[str]) -> dict[str, str | None]:
    """Team of each DAG (multi-team deployments only; otherwise every DAG has none)."""
    from airflow.configuration import conf

    if not conf.getboolean("core", "multi_team", fallback=False):
        return {}
    from airflow.models.dag import DagModel

    return DagModel.get_dag_id_to_team_name_mapping(dag_ids)


@dataclass(frozen=True)
class Viewer:
    """The authenticated user, with a cached answer to "may this user read these DAGs?"."""

    user: object

    def readable_dag_ids(self, dag_ids: Iterable[str]) -> set[str]:
        from airflow.api_fastapi.app import get_auth_manager

        candidates = sorted(set(dag_ids))
        if not candidates:
            return set()
        teams = _team_names(candidates)
        by_team: dict[str | None, set[str]] = {}
        for dag_id in candidates:
            by_team.setdefault(teams.get(dag_id), set()).add(dag_id)
        readable: set[str] = set()
        manager = get_auth_manager()
        for team_name, team_dag_ids in by_team.items():
            readable |= manager.filter_authorized_dag_ids(
                dag_ids=team_dag_ids, user=self.user, method="GET", team_name=team_name
            )
        return readable

    def may_read_dag(self, dag_id: str) -> bool:
        return dag_id in self.readable_dag_ids([dag_id])

    def require_dag(self, dag_id: str, what: str) -> None:
        """403 unless the user may read ``dag_id`` (the DAG that writes ``what``)."""
        if not self.may_read_dag(dag_id):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"reading {what} needs read access to the DAG {dag_id!r}",
            )


def _viewer(user: GetUserDep) -> Viewer:
    return Viewer(user)


ViewerDep = Annotated[Viewer, Depends(_viewer)]
