"""Late publication, the publication deadline, refused payloads and the chart load lock, on the strict
simulator and the real product database.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from musiccharts.charts.load import CHART_LOAD_LOCK_NAMESPACE, ChartLoadLockTimeout, load_ranking
from musiccharts.charts.quality import is_period_complete
from musiccharts.charts.sync import PublicationDeadlineMissed, fetch_and_load_period, published_ranking_date
from musiccharts.charts.validation import InvalidRanking
from musiccharts.config import ChartConfig
from musiccharts.db.connection import SessionTimeouts, product_db_session
from musiccharts.soundcharts.client import SoundchartsClient
from musiccharts.soundcharts.models import ChartRanking, ChartRankingPage, parse_payload
from tests.db_snapshot import table_snapshot

pytestmark = pytest.mark.integration

SLUG = "us-28"  # spotify daily, US, 200 entries


def chart(deadline: str) -> ChartConfig:
    return ChartConfig(
        slug=SLUG,
        platform="spotify",
        country="US",
        frequency="daily",
        history_start=date(2026, 11, 1),
        publication_deadline=deadline,
    )


def day(day: date, hour: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.fixture
def build_dag(monkeypatch):
    def build(config: ChartConfig):
        from musiccharts_airflow.dag_factories.charts import build_chart_sync_dag

        monkeypatch.setenv("MUSICCHARTS_RETRY_DELAY_SECONDS", "0")
        monkeypatch.setenv("MUSICCHARTS_PUBLICATION_POKE_SECONDS", "1")
        return build_chart_sync_dag(config)

    return build


@pytest.fixture
def client(sim):
    with SoundchartsClient(sim.base_url, sim.app_id, sim.api_key, max_retries=0) as api:
        yield api


def reschedules_of(dag_id: str, run_id: str, task_id: str) -> int:
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.taskreschedule import TaskReschedule
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        return session.scalar(
            select(func.count())
            .select_from(TaskReschedule)
            .join(TaskInstance, TaskInstance.id == TaskReschedule.ti_id)
            .where(
                TaskInstance.dag_id == dag_id,
                TaskInstance.run_id == run_id,
                TaskInstance.task_id == task_id,
            )
        )


def test_a_late_ranking_waits_in_reschedule_and_loads_once_published(build_dag, airflow_connections, sim):
    period_day = date(2026, 11, 12)
    # The simulator computes a chart's history on its first request, which can pass the test connection's
    # 5 s timeout on a busy machine; a failed fetch would retry the one period task and reset its reschedules.
    sim.catalogue.ranking(SLUG, period_day)
    before_publication = day(period_day, 6)  # the run starts at D+1 00:00; here D's ranking is not out yet
    after_publication = day(period_day + timedelta(days=1), 1)
    # The fake clock moves past the publication after the first look at available-rankings.
    sim.state.set_now(
        lambda: before_publication if sim.state.call_count("available_rankings") < 1 else after_publication
    )
    dag = build_dag(chart("3650d"))

    run = dag.test(logical_date=day(period_day + timedelta(days=1)))

    assert run.state == "success"
    assert reschedules_of(dag.dag_id, run.run_id, "sync_period") >= 1, "the sensor must reschedule"
    sensor = run.get_task_instance("sync_period")
    assert sensor.try_number == 1, "waiting is not a failure: no retry is used up"
    assert sim.state.call_count("available_rankings") == 2
    assert sim.state.call_count("ranking", status=404) == 0
    with psycopg.connect(airflow_connections) as conn:
        stored = conn.execute(
            "SELECT r.ranking_date, count(e.position) FROM rankings r JOIN ranking_entries e"
            " ON e.ranking_id = r.id GROUP BY r.ranking_date"
        ).fetchall()
    assert stored == [(day(period_day, 12), 200)]


def test_past_the_deadline_the_run_fails_naming_chart_period_and_newest_date(
    build_dag, airflow_connections, sim, client
):
    period_day = date(2026, 11, 14)
    sim.state.set_now(day(period_day, 6))  # never published while this test runs
    config = chart("1h")
    dag = build_dag(config)

    run = dag.test(logical_date=day(period_day + timedelta(days=1)))

    assert run.state == "failed"
    sensor = run.get_task_instance("sync_period")
    assert (sensor.state, sensor.try_number) == ("failed", 1), "a missed deadline is not retried"
    assert sim.state.call_count("ranking") == 0, "nothing is fetched before publication"
    with pytest.raises(PublicationDeadlineMissed) as missed:
        published_ranking_date(
            client,
            airflow_connections,
            config,
            day(period_day),
            day(period_day + timedelta(days=1)),
            now=datetime.now(UTC),
        )
    assert str(missed.value) == (
        "chart us-28 period [2026-11-14T00:00:00+00:00, 2026-11-15T00:00:00+00:00): not published by the "
        "deadline 2026-11-15T01:00:00+00:00 (publication_deadline 1:00:00); newest published ranking: "
        "2026-11-13T12:00:00+00:00"
    )
    with psycopg.connect(airflow_connections) as conn:
        assert conn.execute("SELECT count(*) FROM rankings").fetchone()[0] == 0


# --- payloads refused before any write ------------------------------------------------------------------


def _gap(pages: list[dict]) -> list[dict]:
    pages[1]["items"] = [item for item in pages[1]["items"] if item["position"] != 150]
    for page in pages:
        page["page"]["total"] = 199
    return pages


def _repeated_song(pages: list[dict]) -> list[dict]:
    pages[0]["items"][1]["song"] = copy.deepcopy(pages[0]["items"][0]["song"])
    return pages


def _empty(pages: list[dict]) -> list[dict]:
    first = pages[0]
    first["items"] = []
    first["page"].update(total=0, next=None)
    return [first]


def _above_chart_size(pages: list[dict]) -> list[dict]:
    for page in pages:
        page["related"]["chart"]["maxResultsCount"] = 150
    return pages


def _renamed_field(pages: list[dict]) -> list[dict]:
    for page in pages:
        for item in page["items"]:
            item["previousPosition"] = item.pop("oldPosition")
    return pages


def _removed_field(pages: list[dict]) -> list[dict]:
    for page in pages:
        for item in page["items"]:
            del item["song"]["imageUrl"]
    return pages


class MutatingApi:
    """The real client, with each ranking's raw pages changed by ``mutate`` before they are parsed."""

    def __init__(self, client: SoundchartsClient, mutate: Callable[[list[dict]], list[dict]]) -> None:
        self.client, self.mutate = client, mutate

    def iter_available_ranking_dates(self, slug):
        return self.client.iter_available_ranking_dates(slug)

    def get_chart_ranking(self, slug, ranking_date):
        pages = self.mutate(copy.deepcopy(self.client.get_chart_ranking(slug, ranking_date).raw_pages))
        parsed = [parse_payload(ChartRankingPage, page, "ranking") for page in pages]
        return ChartRanking(
            chart=parsed[0].related.chart,
            date=parsed[0].related.date,
            items=[item for page in parsed for item in page.items],
            total=parsed[0].page.total,
            raw_pages=pages,
        )


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        pytest.param(_gap, "positions are not exactly 1..199: missing 150", id="gap"),
        pytest.param(_repeated_song, "songs listed more than once", id="repeated-song"),
        pytest.param(_empty, "the ranking has no entries", id="empty"),
        pytest.param(_above_chart_size, "200 entries exceed the chart's size of 150", id="above-chart-size"),
        pytest.param(_renamed_field, "items[].oldPosition (200x)", id="renamed-field"),
        pytest.param(_removed_field, "items[].song.imageUrl (200x)", id="removed-field"),
    ],
)
def test_an_invalid_ranking_commits_nothing_and_leaves_rows_byte_identical(
    clean_product_db, sim, client, mutate, problem
):
    config = chart("48h")
    start = day(date(2026, 11, 3))
    end = start + timedelta(days=1)
    ranking_date = published_ranking_date(client, clean_product_db, config, start, end, now=datetime.now(UTC))
    fetch_and_load_period(client, clean_product_db, config, start, end, ranking_date)
    before = table_snapshot(clean_product_db)

    with pytest.raises(InvalidRanking) as refused:
        fetch_and_load_period(MutatingApi(client, mutate), clean_product_db, config, start, end, ranking_date)

    assert f"us-28 {ranking_date.isoformat()}: not stored" in str(refused.value)
    assert problem in str(refused.value)
    assert table_snapshot(clean_product_db) == before
    with product_db_session(clean_product_db) as conn:
        assert is_period_complete(conn, SLUG, start, end)


def test_an_invalid_ranking_is_never_stored_nor_complete(clean_product_db, sim, client):
    config = chart("48h")
    start = day(date(2026, 11, 4))
    end = start + timedelta(days=1)
    ranking_date = published_ranking_date(client, clean_product_db, config, start, end, now=datetime.now(UTC))

    with pytest.raises(InvalidRanking, match="the ranking has no entries"):
        fetch_and_load_period(MutatingApi(client, _empty), clean_product_db, config, start, end, ranking_date)

    with product_db_session(clean_product_db) as conn:
        assert conn.execute("SELECT count(*) FROM rankings").fetchone()[0] == 0
        assert not is_period_complete(conn, SLUG, start, end)


# --- time bounds of product-database sessions ---------------------------------------------------------------


def test_sessions_carry_every_time_bound(clean_product_db):
    timeouts = SessionTimeouts(connect=7, statement=11, lock=3, idle_in_transaction=13)
    with product_db_session(clean_product_db, timeouts) as conn:
        shown = {
            name: conn.execute(f"SHOW {name}").fetchone()[0]
            for name in ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout")
        }
        assert conn.info.get_parameters().get("connect_timeout") == "7"
        assert conn.info.get_parameters().get("keepalives") == "1"
    assert shown == {
        "statement_timeout": "11s",
        "lock_timeout": "3s",
        "idle_in_transaction_session_timeout": "13s",
    }


def test_a_held_chart_lock_times_out_with_a_clear_error(clean_product_db, sim, client):
    ranking = client.get_chart_ranking(SLUG, day(date(2026, 11, 5), 12))
    holder = psycopg.connect(clean_product_db)
    try:
        # Another load of the same chart, stuck inside its transaction.
        holder.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (CHART_LOAD_LOCK_NAMESPACE, SLUG))
        with (
            product_db_session(clean_product_db, SessionTimeouts(lock=1)) as conn,
            pytest.raises(ChartLoadLockTimeout, match=r"chart us-28: a lock was not granted within"),
        ):
            load_ranking(
                conn,
                ranking,
                chart_slug=SLUG,
                period_start=day(date(2026, 11, 5)),
                period_end=day(date(2026, 11, 6)),
            )
    finally:
        holder.rollback()
        holder.close()
    with psycopg.connect(clean_product_db) as conn:
        assert conn.execute("SELECT count(*) FROM rankings").fetchone()[0] == 0
