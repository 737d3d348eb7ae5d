"""The JSON endpoints through the api-server's app: content, filters, and refusals."""

from __future__ import annotations

import pytest

from tests.integration.ui import ui_seed
from tests.integration.ui.ui_seed import PREFIX, token_for

pytestmark = pytest.mark.integration


def cells_by_start(chart: dict) -> dict[str, dict]:
    return {cell["start"]: cell for cell in chart["periods"]}


def day(offset: int) -> str:
    return ui_seed.period(offset)[0].date().isoformat()


# --- authentication ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/coverage",
        "/api/charts",
        f"/api/charts/{ui_seed.DAILY}",
        f"/api/tracks/{ui_seed.track_uuid(1)}",
        f"/api/artists/{ui_seed.artist_uuid(1)}",
        "/api/search?q=Song",
        "/pages/coverage",
    ],
)
def test_anonymous_requests_are_refused(api_client, path):
    response = api_client.get(PREFIX + path)
    assert response.status_code == 401, response.text


def test_a_forged_token_is_refused(api_client):
    response = api_client.get(PREFIX + "/api/coverage", headers={"Authorization": "Bearer not-a-jwt"})
    assert response.status_code in (401, 403)


def test_the_ui_cookie_is_accepted(api_client):
    response = api_client.get(PREFIX + "/api/charts", cookies={"_token": token_for("cookie-user")})
    assert response.status_code == 200


# --- coverage ---------------------------------------------------------------------------------------------


def test_coverage_classifies_every_period(api_client, as_viewer, ui_environment):
    response = api_client.get(PREFIX + "/api/coverage", headers=as_viewer)
    assert response.status_code == 200
    charts = {chart["slug"]: chart for chart in response.json()["charts"]}
    assert set(charts) == {ui_seed.DAILY, ui_seed.OTHER, ui_seed.SECRET}
    daily = cells_by_start(charts[ui_seed.DAILY])
    assert {start: cell["status"] for start, cell in daily.items()} == {
        day(-6): "stored",
        day(-5): "stored",
        day(-4): "incomplete",
        day(-3): "failed",
        day(-2): "waiting",
        day(-1): "missing",
    }
    assert daily[day(-4)]["entries"] == 20 and daily[day(-4)]["expected"] == 25
    assert daily[day(-3)]["run_id"] == ui_environment["runs"]["failed"]
    assert daily[day(-2)]["run_state"] == "running"
    assert daily[day(-1)]["run_id"] is None
    assert charts[ui_seed.DAILY]["counts"] == {
        "stored": 2,
        "incomplete": 1,
        "failed": 1,
        "waiting": 1,
        "missing": 1,
    }
    other = cells_by_start(charts[ui_seed.OTHER])
    assert other[day(-1)]["status"] == "stored" and other[day(-2)]["status"] == "missing"


def test_coverage_summary_spells_every_period_and_details_the_others(api_client, as_viewer):
    response = api_client.get(PREFIX + "/api/coverage", params={"detail": "false"}, headers=as_viewer)
    charts = {chart["slug"]: chart for chart in response.json()["charts"]}
    daily = charts[ui_seed.DAILY]
    assert daily["first_period_start"] == day(-6)
    assert daily["statuses"] == "ssifwm"
    # Stored periods are only letters; the others keep their cell (and the failed one its run).
    assert [(cell["start"], cell["status"]) for cell in daily["periods"]] == [
        (day(-4), "incomplete"),
        (day(-3), "failed"),
        (day(-2), "waiting"),
        (day(-1), "missing"),
    ]
    assert daily["periods"][1]["run_state"] == "failed" and daily["periods"][0]["entries"] == 20
    assert charts[ui_seed.OTHER]["statuses"] == "mmmmms"


def test_coverage_filters_by_chart_status_and_window(api_client, as_viewer):
    response = api_client.get(
        PREFIX + "/api/coverage",
        params={"chart": ui_seed.DAILY, "status": ["failed", "missing"], "from": day(-3), "to": day(-1)},
        headers=as_viewer,
    )
    assert response.status_code == 200
    [chart] = response.json()["charts"]
    assert [(cell["start"], cell["status"]) for cell in chart["periods"]] == [
        (day(-3), "failed"),
        (day(-1), "missing"),
    ]


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"chart": "no-such-chart"}, 404),
        ({"status": "lost"}, 422),
        ({"from": "2026-02-30"}, 422),
        ({"from": "2026-03-02", "to": "2026-03-01"}, 422),
        ({"from": "2020-01-01", "to": "2026-01-01"}, 422),
    ],
)
def test_coverage_rejects_bad_filters(api_client, as_viewer, params, status):
    response = api_client.get(PREFIX + "/api/coverage", params=params, headers=as_viewer)
    assert response.status_code == status, response.text


def test_coverage_hides_charts_whose_dag_is_not_readable(api_client, as_charts_viewer):
    body = api_client.get(PREFIX + "/api/coverage", headers=as_charts_viewer).json()
    assert {chart["slug"] for chart in body["charts"]} == {ui_seed.DAILY, ui_seed.OTHER}
    assert body["hidden_charts"] == 1


# --- chart ------------------------------------------------------------------------------------------------


def test_chart_latest_ranking_movements_exits_and_bump(api_client, as_viewer, ui_environment):
    response = api_client.get(PREFIX + f"/api/charts/{ui_seed.DAILY}", headers=as_viewer)
    assert response.status_code == 200
    body = response.json()
    latest = body["latest"]
    assert latest["ranking_id"] == ui_environment["ids"]["incomplete"]
    assert latest["entry_count"] == 20 and latest["expected_entries"] == 25
    entries = latest["entries"]
    assert [entry["position"] for entry in entries] == list(range(1, 21))
    # Song 1 was 2nd the day before and is 1st again; Song 2 went the other way.
    assert (entries[0]["track_name"], entries[0]["movement"], entries[0]["change"]) == ("Song 1", "up", 1)
    assert (entries[1]["track_name"], entries[1]["movement"], entries[1]["change"]) == ("Song 2", "down", -1)
    assert entries[2]["movement"] == "same" and entries[0]["artists"] == "Artist 1"
    assert [exit["track_name"] for exit in latest["exits"]] == [f"Song {n}" for n in range(21, 26)]
    bump = body["bump"]
    assert len(bump["dates"]) == 3 and len(bump["series"]) == 20
    song_1 = next(series for series in bump["series"] if series["track_name"] == "Song 1")
    assert song_1["positions"] == [1, 2, 1]
    health = body["health"]
    assert health["counts"]["stored"] == 2 and health["incomplete_ranking_ids"] == [latest["ranking_id"]]
    assert health["coverage_ratio"] == round(2 / 6, 4)


def test_chart_bump_length_is_a_validated_parameter(api_client, as_viewer):
    ok = api_client.get(
        PREFIX + f"/api/charts/{ui_seed.DAILY}", params={"bump_rankings": 2}, headers=as_viewer
    )
    assert len(ok.json()["bump"]["dates"]) == 2
    bad = api_client.get(
        PREFIX + f"/api/charts/{ui_seed.DAILY}", params={"bump_rankings": 1}, headers=as_viewer
    )
    assert bad.status_code == 422


def test_chart_of_an_unreadable_dag_is_refused(api_client, as_charts_viewer, as_viewer):
    assert (
        api_client.get(PREFIX + f"/api/charts/{ui_seed.SECRET}", headers=as_charts_viewer).status_code == 403
    )
    assert api_client.get(PREFIX + f"/api/charts/{ui_seed.SECRET}", headers=as_viewer).status_code == 200
    listed = api_client.get(PREFIX + "/api/charts", headers=as_charts_viewer).json()
    assert {chart["slug"] for chart in listed} == {ui_seed.DAILY, ui_seed.OTHER}


def test_unknown_chart_is_404(api_client, as_viewer):
    assert api_client.get(PREFIX + "/api/charts/nope", headers=as_viewer).status_code == 404


# --- tracks and artists -----------------------------------------------------------------------------------


def test_track_detail_has_audience_and_chart_history(api_client, as_viewer):
    body = api_client.get(PREFIX + f"/api/tracks/{ui_seed.track_uuid(1)}", headers=as_viewer).json()
    assert body["name"] == "Song 1" and body["metadata"]["isrc"] == "QZ0000000001"
    assert [artist["name"] for artist in body["artists"]] == ["Artist 1"]
    series = {s["platform"]: s for s in body["audience"]}
    assert set(series) == {"spotify", "youtube"}
    assert series["spotify"]["values"] == [1000 + 10 * i for i in range(10)]
    assert series["spotify"]["metric"] == "value"
    history = [(point["chart_slug"], point["position"]) for point in body["chart_history"]]
    assert history == [(ui_seed.DAILY, 1), (ui_seed.DAILY, 2), (ui_seed.DAILY, 1)]


def test_track_parts_of_unreadable_dags_are_hidden(api_client, as_charts_viewer):
    body = api_client.get(PREFIX + f"/api/tracks/{ui_seed.track_uuid(5)}", headers=as_charts_viewer).json()
    assert body["audience"] is None and body["metadata"] is None
    assert sorted(body["hidden"]) == ["audience", "metadata"]
    # Song 5 is on ui-daily (readable) and ui-secret (not): only the readable chart's history is shown.
    assert {point["chart_slug"] for point in body["chart_history"]} == {ui_seed.DAILY}


def test_artist_detail_and_search(api_client, as_viewer):
    body = api_client.get(PREFIX + f"/api/artists/{ui_seed.artist_uuid(3)}", headers=as_viewer).json()
    assert body["name"] == "Artist 3" and [t["name"] for t in body["tracks"]] == ["Song 3"]
    # One series per metric the platform served (likes were not served: no series).
    [series] = body["audience"]
    assert (series["platform"], series["metric"]) == ("instagram", "follower_count")
    assert series["values"] == [505, 504, 503, 502, 501]
    found = api_client.get(PREFIX + "/api/search", params={"q": "song 1"}, headers=as_viewer).json()
    assert {row["name"] for row in found} == {"Song 1", *{f"Song {n}" for n in range(10, 20)}}
    assert api_client.get(PREFIX + "/api/search", params={"q": "x"}, headers=as_viewer).status_code == 422


@pytest.mark.parametrize("path", ["/api/tracks/not-a-uuid", f"/api/tracks/{ui_seed.track_uuid(999)}"])
def test_bad_or_unknown_track(api_client, as_viewer, path):
    assert api_client.get(PREFIX + path, headers=as_viewer).status_code in (404, 422)


# --- read-only and documented ------------------------------------------------------------------------------


def test_requests_run_in_read_only_transactions(api_client, ui_environment):
    from airflow import plugins_manager

    [app] = [a["app"] for a in plugins_manager.get_fastapi_plugins()[0] if a["url_prefix"] == PREFIX]
    import psycopg

    with app.state.product_db.cursor() as cur, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        cur.execute("DELETE FROM rankings")


def test_openapi_documents_every_endpoint(api_client):
    paths = api_client.get(PREFIX + "/openapi.json").json()["paths"]
    assert {"/api/coverage", "/api/charts", "/api/charts/{slug}", "/api/tracks/{uuid}"} <= set(paths)
    assert paths["/api/coverage"]["get"]["description"].startswith("Coverage:")
