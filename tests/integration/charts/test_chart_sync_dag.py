"""The chart-sync DAGs end to end with ``dag.test()``: simulator on loopback + the real product database.

Each chart period is one run; ``dag.test(logical_date=period_end)`` gets the data interval
``[period_start, period_end)`` exactly as a scheduled catchup run would.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from tests.db_snapshot import table_snapshot
from tests.paths import DAGS_DIR

pytestmark = pytest.mark.integration

DAILY_SLUG = "global-28"  # spotify daily, 200 entries
WEEKLY_SLUG = "global-weekly-28"  # spotify weekly, 200 entries
RANKING_ENDPOINT = "ranking"
DATES_ENDPOINT = "available_rankings"


@pytest.fixture(scope="module")
def chart_dags():
    from airflow.dag_processing.dagbag import DagBag

    # Retries stay on (a fault must exhaust them), but without the production minutes between tries.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MUSICCHARTS_RETRY_DELAY_SECONDS", "0")
        patch.setenv("MUSICCHARTS_PUBLICATION_POKE_SECONDS", "1")
        bag = DagBag(dag_folder=str(DAGS_DIR / "charts"))
    assert bag.import_errors == {}
    return bag


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def daily_periods(first: date, count: int) -> list[tuple[datetime, datetime]]:
    return [(day_start(first + timedelta(d)), day_start(first + timedelta(d + 1))) for d in range(count)]


def weekly_periods(first_friday: date, count: int) -> list[tuple[datetime, datetime]]:
    return [
        (day_start(first_friday + timedelta(7 * w)), day_start(first_friday + timedelta(7 * w + 7)))
        for w in range(count)
    ]


def run_period(dag, period: tuple[datetime, datetime], conf: dict | None = None):
    # logical_date = end of the period: Airflow infers the data interval [start, end) from it.
    return dag.test(logical_date=period[1], run_conf=conf)


def stored_ranking(dsn: str, slug: str, period: tuple[datetime, datetime]) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            """
            SELECT r.ranking_date, e.position, t.uuid, e.previous_position, e.metric
            FROM rankings r
            JOIN charts c ON c.id = r.chart_id
            JOIN ranking_entries e ON e.ranking_id = r.id
            JOIN tracks t ON t.id = e.track_id
            WHERE c.slug = %s AND r.ranking_date >= %s AND r.ranking_date < %s
            ORDER BY e.position
            """,
            (slug, *period),
        ).fetchall()


def served_ranking(sim, slug: str, period: tuple[datetime, datetime]) -> list[tuple]:
    # The one ranking published inside the period (the simulator dates each at 12:00 UTC of its first day).
    snapshot = sim.catalogue.ranking(slug, period[0].date())
    assert period[0] <= snapshot.date < period[1]
    return [
        (
            snapshot.date,
            item["position"],
            item["song"]["uuid"],
            item.get("oldPosition") or None,
            item.get("metric"),
        )
        for item in snapshot.items
    ]


def normalise(rows: list[tuple]) -> list[tuple]:
    return [(r[0], r[1], r[2], r[3] or None, float(r[4]) if r[4] is not None else None) for r in rows]


def test_catchup_daily_and_weekly_store_exactly_what_is_served(chart_dags, airflow_connections, sim):
    daily = chart_dags.get_dag(f"sync_chart_rankings__{DAILY_SLUG}")
    weekly = chart_dags.get_dag(f"sync_chart_rankings__{WEEKLY_SLUG}")
    daily_runs = daily_periods(date(2026, 11, 1), 8)
    weekly_runs = weekly_periods(date(2026, 9, 4), 8)
    # The simulator computes a chart's history on first use (about a second): done here, so that no
    # first request runs into the client's read timeout on a busy machine and is retried.
    served_ranking(sim, DAILY_SLUG, daily_runs[0])
    served_ranking(sim, WEEKLY_SLUG, weekly_runs[0])

    for dag, periods, slug in ((daily, daily_runs, DAILY_SLUG), (weekly, weekly_runs, WEEKLY_SLUG)):
        for period in periods:
            run = run_period(dag, period)
            assert run.state == "success", f"{dag.dag_id} {period[0]:%Y-%m-%d}: {run.state}"
            stored = normalise(stored_ranking(airflow_connections, slug, period))
            assert len(stored) == 200, f"{slug} {period[0]:%Y-%m-%d}: {len(stored)} entries stored"
            assert stored == normalise(served_ranking(sim, slug, period))
    # Two pages per 200-entry ranking, each asked for by its exact datetime (the strict simulator answers
    # 404 to any other), and no retries.
    assert sim.state.call_count(RANKING_ENDPOINT) == 2 * (len(daily_runs) + len(weekly_runs))
    assert sim.state.call_count(RANKING_ENDPOINT, status=404) == 0
    # available-rankings is read newest page first, once per chart, back past the first period: one page
    # per 100 published rankings from there to now, not one call per period.
    now = datetime.now(UTC)
    expected_date_pages = sum(
        len([d for d in sim.catalogue.ranking_dates(slug, now) if d >= periods[0][0]]) // 100 + 1
        for periods, slug in ((daily_runs, DAILY_SLUG), (weekly_runs, WEEKLY_SLUG))
    )
    assert sim.state.call_count(DATES_ENDPOINT) == expected_date_pages
    calls = sim.state.call_count()
    print(f"catchup of 8 daily + 8 weekly periods: {calls} calls, {calls / 16:.2f} per period")


def test_rerun_of_complete_period_is_free_and_changes_nothing(chart_dags, airflow_connections, sim):
    dag = chart_dags.get_dag(f"sync_chart_rankings__{DAILY_SLUG}")
    periods = daily_periods(date(2026, 11, 10), 3)
    for period in periods:
        assert run_period(dag, period).state == "success"
    before = table_snapshot(airflow_connections)
    calls_before = sim.state.call_count()

    assert run_period(dag, periods[1]).state == "success"

    assert sim.state.call_count() == calls_before, "a complete period must cost zero API calls"
    assert table_snapshot(airflow_connections) == before


def test_force_refetches_and_converges(chart_dags, airflow_connections, sim):
    dag = chart_dags.get_dag(f"sync_chart_rankings__{DAILY_SLUG}")
    period = daily_periods(date(2026, 11, 20), 1)[0]
    assert run_period(dag, period).state == "success"
    before = table_snapshot(airflow_connections)
    calls_before = sim.state.call_count(RANKING_ENDPOINT)

    assert run_period(dag, period, conf={"force": True}).state == "success"

    assert sim.state.call_count(RANKING_ENDPOINT) == calls_before + 2
    assert table_snapshot(airflow_connections) == before


def test_payload_drift_fails_at_once_and_keeps_the_stored_ranking(chart_dags, airflow_connections, sim):
    dag = chart_dags.get_dag(f"sync_chart_rankings__{DAILY_SLUG}")
    period = daily_periods(date(2026, 11, 21), 1)[0]
    assert run_period(dag, period).state == "success"
    before = table_snapshot(airflow_connections)
    calls_before = sim.state.call_count(RANKING_ENDPOINT)
    sim.state.drift(RANKING_ENDPOINT, times=None, remove=["metric"])  # an optional field disappears

    run = run_period(dag, period, conf={"force": True})

    assert run.state == "failed"
    fetch = run.get_task_instance("sync_period")
    assert (fetch.state, fetch.try_number) == ("failed", 1), "a payload problem must not be retried"
    assert sim.state.call_count(RANKING_ENDPOINT) == calls_before + 2
    assert table_snapshot(airflow_connections) == before


@pytest.mark.parametrize(
    "inject",
    [
        pytest.param(lambda state: state.fail(RANKING_ENDPOINT, 503, times=None), id="5xx-storm"),
        pytest.param(
            lambda state: state.truncate(
                RANKING_ENDPOINT, times=None, when=lambda r: r.query.get("offset") == "100"
            ),
            id="truncated-page-2",
        ),
        pytest.param(
            lambda state: state.drift(RANKING_ENDPOINT, times=None, rename={"position": "rank"}),
            id="schema-drift",
        ),
    ],
)
def test_fault_mid_period_leaves_nothing_and_next_try_fills_it(chart_dags, airflow_connections, sim, inject):
    dag = chart_dags.get_dag(f"sync_chart_rankings__{DAILY_SLUG}")
    period = daily_periods(date(2026, 11, 5), 1)[0]
    inject(sim.state)

    failed = run_period(dag, period)

    assert failed.state == "failed"
    assert stored_ranking(airflow_connections, DAILY_SLUG, period) == []
    with psycopg.connect(airflow_connections) as conn:
        assert conn.execute("SELECT count(*) FROM rankings").fetchone()[0] == 0

    sim.state.clear_faults()
    assert run_period(dag, period).state == "success"
    assert normalise(stored_ranking(airflow_connections, DAILY_SLUG, period)) == normalise(
        served_ranking(sim, DAILY_SLUG, period)
    )


def test_exits_follow_the_served_sequence(chart_dags, airflow_connections, sim):
    dag = chart_dags.get_dag(f"sync_chart_rankings__{DAILY_SLUG}")
    periods = daily_periods(date(2026, 11, 1), 4)
    # Out of order on purpose: exits must not depend on load order.
    for index in (2, 0, 3, 1):
        assert run_period(dag, periods[index]).state == "success"

    expected = set()
    for current, following in itertools.pairwise(periods):
        now = {row[2] for row in served_ranking(sim, DAILY_SLUG, current)}
        nxt = {row[2] for row in served_ranking(sim, DAILY_SLUG, following)}
        expected |= {(uuid, following[0].date()) for uuid in now - nxt}
    assert expected, "the simulator should make some songs leave the chart over 4 days"

    with psycopg.connect(airflow_connections) as conn:
        rows = conn.execute(
            """
            SELECT t.uuid, (r.ranking_date AT TIME ZONE 'UTC')::date
            FROM chart_exits x JOIN tracks t ON t.id = x.track_id JOIN rankings r ON r.id = x.exit_ranking_id
            """
        ).fetchall()
    assert set(rows) == expected


def test_invalid_conf_is_refused_with_the_field_named(chart_dags):
    from airflow.sdk.definitions.param import ParamsDict
    from airflow.sdk.exceptions import ParamValidationError

    dag = chart_dags.get_dag(f"sync_chart_rankings__{DAILY_SLUG}")
    params = ParamsDict(dag.params)
    with pytest.raises(ParamValidationError, match="force"):
        params.update({"force": "yes"})
