"""Catchup on the Celery stack: a daily and a weekly chart catch up 8 periods each, metadata follows."""

from __future__ import annotations

import psycopg
import pytest

from musiccharts_stack.e2e import E2EStack, expected_rankings, ranking_row_counts, stored_rankings
from tests.e2e.scenario_charts import DAILY, WEEKLY

pytestmark = pytest.mark.e2e

METADATA_DAG = "fetch_track_metadata"


def test_catchup_of_daily_and_weekly_charts_with_metadata_following(stack: E2EStack) -> None:
    api = stack.api
    api.wait_for_dag(METADATA_DAG)
    ranking_calls_before = stack.simulator.state.call_count("ranking")
    for dag_id in (METADATA_DAG, DAILY.dag_id, WEEKLY.dag_id):
        api.set_paused(dag_id, False)

    for chart in (DAILY, WEEKLY):
        runs = api.wait_for_runs(chart.dag_id, count=chart.periods, timeout=420, check=stack.check_alive)
        assert [run["state"] for run in runs] == ["success"] * chart.periods, runs
        assert len(runs) == chart.periods  # exactly the missing periods, no more
        starts = sorted(run["data_interval_start"][:10] for run in runs)
        assert starts == [day.isoformat() for day in chart.period_starts(stack.today)]

    # Exactly what the simulator serves, once per period (the unique keys would reject a second copy,
    # and the row counts show none slipped in under another date).
    for chart in (DAILY, WEEKLY):
        expected = expected_rankings(stack.simulator.catalogue, chart, stack.today)
        assert stored_rankings(stack.product_dsn, chart.slug) == expected
        assert set(ranking_row_counts(stack.product_dsn, chart.slug).values()) == {1}
    # 200 entries = 2 pages of 100 per period, no retry needed on a healthy simulator.
    pages = sum(2 * chart.periods for chart in (DAILY, WEEKLY))
    assert stack.simulator.state.call_count("ranking") - ranking_calls_before == pages

    # The metadata DAG follows through the chart_rankings Asset until every charted track has metadata.
    catalogue = stack.simulator.catalogue

    def tracks_missing_metadata() -> int:
        with psycopg.connect(stack.product_dsn) as conn:
            return conn.execute("SELECT count(*) FROM tracks WHERE metadata_fetched_at IS NULL").fetchone()[0]

    from musiccharts_stack.processes import wait_until

    wait_until(
        lambda: (
            tracks_missing_metadata() == 0
            and all(run["state"] in ("success", "failed") for run in api.dag_runs(METADATA_DAG))
        ),
        timeout=420,
        interval=3,
        what="track metadata of every charted track",
        check=stack.check_alive,
    )
    metadata_runs = api.dag_runs(METADATA_DAG)
    assert metadata_runs and {run["state"] for run in metadata_runs} == {"success"}
    assert {run["run_type"] for run in metadata_runs} == {"asset_triggered"}
    with psycopg.connect(stack.product_dsn) as conn:
        rows = conn.execute(
            "SELECT uuid, name, isrc, release_date::text FROM tracks ORDER BY uuid"
        ).fetchall()
    assert rows, "no tracks stored"
    for uuid, name, isrc, release_date in rows:
        song = catalogue.song(uuid)
        assert (name, isrc, release_date) == (song["name"], song["isrc"]["value"], song["releaseDate"][:10])
    # Later scenarios load other charts; the metadata DAG stays out of their way.
    api.set_paused(METADATA_DAG, True)
