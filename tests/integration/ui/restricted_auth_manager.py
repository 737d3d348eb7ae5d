"""Airflow's SimpleAuthManager plus per-DAG grants, to test that the views honour the auth manager.

SimpleAuthManager grants by role only (every viewer reads every DAG); deployments restrict DAGs per user
with FAB, Keycloak or multi-team. This subclass keeps its users, tokens and roles and answers "may this
user read this DAG?" from ``DAG_GRANTS``, so the tests see a user without access to some DAGs exactly as
the api-server would present one.
"""

from __future__ import annotations

from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

#: user name -> DAG ids that user may read; users not listed keep SimpleAuthManager's role rules.
DAG_GRANTS: dict[str, frozenset[str]] = {
    "charts-viewer": frozenset({"sync_chart_rankings__ui-daily", "sync_chart_rankings__ui-other"}),
    "fraud-viewer": frozenset({"analytics_fraud_detection"}),
}


class RestrictedSimpleAuthManager(SimpleAuthManager):
    def is_authorized_dag(self, *, method, user, access_entity=None, details=None) -> bool:
        grants = DAG_GRANTS.get(user.username)
        if grants is not None and (details is None or details.id not in grants):
            return False
        return super().is_authorized_dag(
            method=method, user=user, access_entity=access_entity, details=details
        )
