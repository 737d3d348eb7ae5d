"""Registers the MusicCharts views with Airflow's UI: one FastAPI app, its pages in the navigation, the
coverage page as a tab on every DAG (it explains itself on DAGs that are not chart DAGs), and a card on the
dashboard.

Airflow imports this file by path; nothing else may import it, or the plugin would register twice.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from musiccharts_airflow.ui.app import URL_PREFIX, create_app

# Relative to the UI's base URL (no leading slash), so the views also work when Airflow is served under a
# sub-path behind a proxy.
_PAGES = URL_PREFIX.lstrip("/") + "/pages"
_ICON = URL_PREFIX.lstrip("/") + "/static/icons/chart.svg"
_ICON_DARK = URL_PREFIX.lstrip("/") + "/static/icons/chart-dark.svg"


def _nav(name: str, page: str) -> dict:
    return {
        "name": name,
        "href": f"{_PAGES}/{page}",
        "url_route": f"musiccharts-{page}",
        "destination": "nav",
        "category": "MusicCharts",
        "icon": _ICON,
        "icon_dark_mode": _ICON_DARK,
    }


class MusicChartsUiPlugin(AirflowPlugin):
    name = "musiccharts_ui"
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "MusicCharts views"}]
    external_views = [
        _nav("Chart coverage", "coverage"),
        _nav("Charts", "chart"),
        _nav("Tracks and artists", "track"),
        _nav("Fraud and risk", "fraud"),
        _nav("Song analyses", "analyses"),
        {
            "name": "Chart coverage",
            "href": f"{_PAGES}/coverage?dag_id={{DAG_ID}}",
            "url_route": "musiccharts-dag-coverage",
            "destination": "dag",
            "icon": _ICON,
            "icon_dark_mode": _ICON_DARK,
        },
    ]
    # A React component on the dashboard. Airflow imports the module, then renders the function it leaves
    # in ``globalThis.AirflowPlugin`` with its own React (exposed as ``globalThis.React``): no build step.
    react_apps = [
        {
            "name": "MusicCharts today",
            "bundle_url": URL_PREFIX.lstrip("/") + "/static/js/dashboard-card.js",
            "destination": "dashboard",
        }
    ]
