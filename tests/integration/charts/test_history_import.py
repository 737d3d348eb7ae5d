"""The chart-history import DAG end to end with ``dag.test()``: simulator on loopback + the real product DB.

Holes, reruns, a failing period and the per-period catchup that follows an import. The import asks the API
only for ranking datetimes it read from ``available-rankings`` (checked on the request log), which is what a
strict API accepts.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from tests.db_snapshot import table_snapshot
from tests.paths import DAGS_DIR

pytestmark = pytest.mark.integration

SLUG = "global-28"  # spotify daily, 200 entries = 2 pages; history_start 2026-11-01 in charts.yaml
IMPORT_DAG_ID = "import_chart_history"
RANKING = "ranking"
DATES = "available_rankings"


@pytest.fixture(scope="module")
def chart_dags():
    from airflow.dag_processing.dagbag import DagBag

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MUSICCHARTS_RETRY_DELAY_SECONDS", "0")
        bag = DagBag(dag_folder=str(DAGS_DIR / "charts"))
    assert bag.import_errors == {}
    return bag


@pytest.fixture(autouse=True)
def warm_simulator(sim):
    """The simulator computes a chart's history on its first request: several seconds on a busy machine,
    past the test connection's 5 s timeout. Compute it here, so the imports measure nothing of it."""
    sim.catalogue.ranking(SLUG, date(2026, 11, 1))


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(n) for n in range((last - first).days + 1)]


def run_import(dag, first: date, last: date, **conf):
    return dag.test(
        logical_date=None,
        run_conf={"charts": [SLUG], "from": first.isoformat(), "to": last.isoformat(), **conf},
    )


def stored_days(dsn: str) -> dict[date, list[tuple]]:
    """Stored rankings of the chart: day -> [(ranking_date, position, uuid, metric)] by position."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            """
            SELECT r.ranking_date, e.position, t.uuid, e.metric
            FROM rankings r JOIN charts c ON c.id = r.chart_id
            JOIN ranking_entries e ON e.ranking_id = r.id JOIN tracks t ON t.id = e.track_id
            WHERE c.slug = %s ORDER BY r.ranking_date, e.position
            """,
            (SLUG,),
        ).fetchall()
    result: dict[date, list[tuple]] = {}
    for ranking_date, position, uuid, metric in rows:
        result.setdefault(ranking_date.date(), []).append(
            (ranking_date, position, uuid, float(metric) if metric is not None else None)
        )
    return result


def served(sim, day: date) -> list[tuple]:
    snapshot = sim.catalogue.ranking(SLUG, day)
    return [
        (snapshot.date, item["position"], item["song"]["uuid"], item.get("metric")) for item in snapshot.items
    ]


def ranking_rows(dsn: str) -> dict[date, tuple]:
    """Each stored ranking row in full (id, updated_at...): an import must not touch stored periods."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT r.ranking_date, r.* FROM rankings r JOIN charts c ON c.id = r.chart_id WHERE c.slug = %s",
            (SLUG,),
        ).fetchall()
    return {row[0].date(): row for row in rows}


def requested_days(sim) -> list[date]:
    """Days whose ranking was requested (first pages only), in request order."""
    found = []
    for call in sim.state.calls(RANKING):
        when = call.path.rsplit("/", 1)[1]
        if "offset=100" not in call.query:
            found.append(datetime.fromisoformat(when).date())
    return found


def task_rows(run, task_id: str) -> list[tuple]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(TaskInstance.rendered_map_index, TaskInstance.state)
            .filter(TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.run_id)
            .filter(TaskInstance.task_id == task_id)
            .order_by(TaskInstance.map_index)
            .all()
        )
    return [(row[0], str(row[1])) for row in rows]


def xcom_values(run, task_id: str) -> list:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(XComModel.value)
            .filter(XComModel.dag_id == run.dag_id, XComModel.run_id == run.run_id)
            .filter(XComModel.task_id == task_id, XComModel.key == "return_value")
            .order_by(XComModel.map_index)
            .all()
        )
    return [json.loads(row[0]) if isinstance(row[0], str) else row[0] for row in rows]


def test_import_fills_exactly_the_holes_and_rerun_is_free(chart_dags, airflow_connections, sim):
    dag = chart_dags.get_dag(IMPORT_DAG_ID)
    # Holes: Nov 1-2, 5-7 and 9-10 are missing; Nov 3-4 and 8 are stored before the import.
    assert run_import(dag, date(2026, 11, 3), date(2026, 11, 4)).state == "success"
    assert run_import(dag, date(2026, 11, 8), date(2026, 11, 8)).state == "success"
    before = ranking_rows(airflow_connections)
    assert sorted(before) == [date(2026, 11, 3), date(2026, 11, 4), date(2026, 11, 8)]
    sim.state.reset()

    run = run_import(dag, date(2026, 11, 1), date(2026, 11, 10), chunk_size=3)

    assert run.state == "success"
    holes = [date(2026, 11, d) for d in (1, 2, 5, 6, 7, 9, 10)]
    assert sorted(requested_days(sim)) == holes, "exactly the holes are fetched, each once"
    assert sim.state.call_count(RANKING) == 2 * len(holes)  # two pages each: the minimum
    # The dates the first two imports read from available-rankings are kept: none is read again.
    assert sim.state.call_count(DATES) == 0
    assert sim.state.call_count(status=404) == 0
    # Every ranking is requested at the datetime available-rankings published, never at a guessed one.
    published = {moment.isoformat() for moment in sim.catalogue.ranking_dates(SLUG, datetime.now(UTC))}
    for call in sim.state.calls(RANKING):
        assert datetime.fromisoformat(call.path.rsplit("/", 1)[1]).isoformat() in published
    stored = stored_days(airflow_connections)
    assert sorted(stored) == days(date(2026, 11, 1), date(2026, 11, 10))
    for day, rows in stored.items():
        assert rows == served(sim, day), day
    after = ranking_rows(airflow_connections)
    assert {day: after[day] for day in before} == before, "stored periods are not rewritten"
    # At most 3 periods a chunk, balanced (2 + 2 + 3), readable in the UI; summary per chart.
    assert task_rows(run, "import_chunk") == [
        ("global-28 2026-11-01..2026-11-02 (2)", "success"),
        ("global-28 2026-11-05..2026-11-06 (2)", "success"),
        ("global-28 2026-11-07..2026-11-10 (3)", "success"),
    ]
    summary = xcom_values(run, "summarise")[0]
    assert summary["charts"][SLUG] == {"stored": 7, "skipped": 3, "failed": 0}
    assert task_rows(run, "publish_chart_rankings") == [(None, "success")]

    # Rerun: everything is stored, so no API call at all and no row changes.
    snapshot = table_snapshot(airflow_connections)
    calls = sim.state.call_count()
    rerun = run_import(dag, date(2026, 11, 1), date(2026, 11, 10))
    assert rerun.state == "success"
    assert sim.state.call_count() == calls
    assert table_snapshot(airflow_connections) == snapshot
    assert xcom_values(rerun, "summarise")[0]["charts"][SLUG] == {"stored": 0, "skipped": 10, "failed": 0}
    assert task_rows(rerun, "import_chunk") == [(None, "skipped")]  # nothing to map
    assert task_rows(rerun, "publish_chart_rankings") == [(None, "skipped")]


def test_failed_period_is_reported_and_does_not_block_the_others(chart_dags, airflow_connections, sim):
    dag = chart_dags.get_dag(IMPORT_DAG_ID)
    broken = date(2026, 11, 13)
    # Every attempt at Nov 13 fails (the hook's own retries included); all other periods answer.
    sim.state.fail(RANKING, 503, times=None, when=lambda request: f"/{broken.isoformat()}T" in request.path)

    run = run_import(dag, date(2026, 11, 11), date(2026, 11, 16), chunk_size=10)

    assert run.state == "failed"
    assert task_rows(run, "import_chunk") == [("global-28 2026-11-11..2026-11-16 (6)", "success")]
    assert task_rows(run, "summarise") == [(None, "failed")]
    assert task_rows(run, "publish_chart_rankings") == [(None, "success")]
    chunk = xcom_values(run, "import_chunk")[0]["charts"][SLUG]
    assert list(chunk["failed"]) == [broken.isoformat()]
    assert (
        "503" in chunk["failed"][broken.isoformat()] or "Unavailable" in chunk["failed"][broken.isoformat()]
    )
    stored = stored_days(airflow_connections)
    assert sorted(stored) == [day for day in days(date(2026, 11, 11), date(2026, 11, 16)) if day != broken]
    for day, rows in stored.items():
        assert rows == served(sim, day)

    # Once the API answers again, a rerun fetches only the failed period.
    sim.state.clear_faults()
    calls = sim.state.call_count(RANKING)
    assert run_import(dag, date(2026, 11, 11), date(2026, 11, 16)).state == "success"
    assert sim.state.call_count(RANKING) == calls + 2
    assert sorted(stored_days(airflow_connections)) == days(date(2026, 11, 11), date(2026, 11, 16))


def test_per_period_catchup_after_an_import_makes_no_api_call(chart_dags, airflow_connections, sim):
    importer = chart_dags.get_dag(IMPORT_DAG_ID)
    assert run_import(importer, date(2026, 11, 20), date(2026, 11, 23)).state == "success"
    snapshot = table_snapshot(airflow_connections)
    calls = sim.state.call_count()

    chart_dag = chart_dags.get_dag(f"sync_chart_rankings__{SLUG}")
    for day in days(date(2026, 11, 20), date(2026, 11, 23)):
        # logical_date = end of the period: the data interval [day, day + 1) of a catchup run.
        end = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
        assert chart_dag.test(logical_date=end).state == "success", day

    assert sim.state.call_count() == calls, "every imported period is complete for the per-period DAG"
    assert table_snapshot(airflow_connections) == snapshot


def test_bad_requests_are_refused_with_the_reason(chart_dags, airflow_connections, sim):
    dag = chart_dags.get_dag(IMPORT_DAG_ID)
    run = dag.test(
        logical_date=None, run_conf={"charts": ["no-such-chart"], "from": "2026-11-01", "to": "2026-11-02"}
    )
    assert run.state == "failed"
    assert task_rows(run, "plan_import") == [(None, "failed")]
    run = dag.test(logical_date=None, run_conf={"charts": [SLUG], "from": "2026-11-05", "to": "2026-11-01"})
    assert run.state == "failed"
    assert sim.state.call_count() == 0
    with pytest.raises(Exception, match="from"):
        dag.test(logical_date=None, run_conf={"from": "not-a-date", "to": "2026-11-01"})
