"""One history chunk fetched by several threads: exactly-once loads, failure isolation, fatal errors.

``import_chunk`` on the real product DB and the simulator (strict: rankings only at published datetimes),
through the domain client, without Airflow.
"""

from __future__ import annotations

import threading
from datetime import date, timedelta

import psycopg
import pytest

from musiccharts.charts.history import complete_moments, import_chunk
from musiccharts.config import ChartConfig
from musiccharts.soundcharts.client import SoundchartsClient
from musiccharts.soundcharts.errors import SoundchartsAuthError

pytestmark = pytest.mark.integration

RANKING = "ranking"
CHARTS = {
    slug: ChartConfig(
        slug=slug, platform="spotify", country=country, frequency="daily", history_start=date(2026, 1, 1)
    )
    for slug, country in (("global-28", "GLOBAL"), ("us-28", "US"))
}
FIRST = date(2026, 11, 1)
DAYS = [FIRST + timedelta(n) for n in range(5)]


class ConcurrencyProbe:
    """Wraps the client: the first ``parties`` ranking fetches wait for each other, so they must be in flight
    together (sequential fetches break the barrier and fail the test), and the most in flight is kept."""

    def __init__(self, api: SoundchartsClient, parties: int) -> None:
        self._api = api
        self._barrier = threading.Barrier(parties, timeout=60)
        self._lock = threading.Lock()
        self._calls = 0
        self._in_flight = 0
        self.most_in_flight = 0
        self.parties = parties

    def get_chart_ranking(self, slug, ranking_date=None):
        with self._lock:
            self._calls += 1
            first_ones = self._calls <= self.parties
            self._in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self._in_flight)
        try:
            if first_ones:
                self._barrier.wait()
            return self._api.get_chart_ranking(slug, ranking_date)
        finally:
            with self._lock:
                self._in_flight -= 1


@pytest.fixture(autouse=True)
def warm_simulator(sim):
    for slug in CHARTS:
        sim.catalogue.ranking(slug, FIRST)


def client(sim, **options) -> SoundchartsClient:
    return SoundchartsClient(sim.base_url, sim.app_id, sim.api_key, timeout=30, backoff_base=0.01, **options)


def published(sim, slug: str, day: date) -> str:
    return sim.catalogue.ranking(slug, day).date.isoformat()


def parts(sim) -> list[dict]:
    return [{"chart": slug, "dates": [published(sim, slug, day) for day in DAYS]} for slug in CHARTS]


def stored(dsn: str, slug: str) -> dict[date, list[tuple]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            """
            SELECT r.ranking_date, e.position, t.uuid
            FROM rankings r JOIN charts c ON c.id = r.chart_id
            JOIN ranking_entries e ON e.ranking_id = r.id JOIN tracks t ON t.id = e.track_id
            WHERE c.slug = %s ORDER BY r.ranking_date, e.position
            """,
            (slug,),
        ).fetchall()
    result: dict[date, list[tuple]] = {}
    for moment, position, uuid in rows:
        result.setdefault(moment.date(), []).append((moment, position, uuid))
    return result


def served(sim, slug: str, day: date) -> list[tuple]:
    snapshot = sim.catalogue.ranking(slug, day)
    return [(snapshot.date, item["position"], item["song"]["uuid"]) for item in snapshot.items]


def first_pages(sim) -> list[tuple[str, str]]:
    return [
        (next(slug for slug in CHARTS if f"/{slug}/" in call.path), call.path.rsplit("/", 1)[1][:10])
        for call in sim.state.calls(RANKING)
        if "offset=100" not in call.query
    ]


def test_concurrent_fetches_store_every_period_once_and_isolate_a_failure(sim, clean_product_db):
    dsn = clean_product_db
    # Stored before: global-28 Nov 2. Broken for good: us-28 Nov 3 (every attempt answers 503).
    import_chunk(
        client(sim), dsn, CHARTS, [{"chart": "global-28", "dates": [published(sim, "global-28", DAYS[1])]}]
    )
    sim.state.reset()
    sim.state.fail(
        RANKING,
        503,
        times=None,
        when=lambda request: "/us-28/" in request.path and f"/{DAYS[2].isoformat()}T" in request.path,
    )
    probe = ConcurrencyProbe(client(sim, max_retries=1), parties=3)

    # Batches of 2 periods: loads interleave with the fetches and cross the change of chart.
    outcome = import_chunk(probe, dsn, CHARTS, parts(sim), fetch_concurrency=3, load_batch=2)

    assert probe.most_in_flight == 3
    assert outcome["global-28"] == {
        "stored": [day.isoformat() for day in DAYS if day != DAYS[1]],
        "skipped": [DAYS[1].isoformat()],
        "failed": {},
    }
    assert outcome["us-28"]["stored"] == [day.isoformat() for day in DAYS if day != DAYS[2]]
    assert list(outcome["us-28"]["failed"]) == [DAYS[2].isoformat()]
    assert "Unavailable" in outcome["us-28"]["failed"][DAYS[2].isoformat()]
    # Each period fetched once (the stored one not at all); the broken one twice (its one retry).
    fetched = first_pages(sim)
    expected = [
        (slug, day.isoformat()) for slug in CHARTS for day in DAYS if (slug, day) != ("global-28", DAYS[1])
    ]
    assert sorted(set(fetched)) == sorted(expected)
    assert len(fetched) == len(expected) + 1
    for slug in CHARTS:
        rows = stored(dsn, slug)
        assert sorted(rows) == [day for day in DAYS if (slug, day) != ("us-28", DAYS[2])]
        for day, ranking in rows.items():
            assert ranking == served(sim, slug, day), (slug, day)

    # A second run: every good period is complete, so only the broken one is asked for again.
    sim.state.clear_faults()
    sim.state.reset()
    again = import_chunk(client(sim), dsn, CHARTS, parts(sim), fetch_concurrency=3, load_batch=2)
    assert first_pages(sim) == [("us-28", DAYS[2].isoformat())]
    assert again["us-28"]["stored"] == [DAYS[2].isoformat()]
    assert len(again["global-28"]["skipped"]) == len(DAYS)


def test_an_error_that_hits_every_period_fails_the_chunk(sim, clean_product_db):
    sim.state.forbid(RANKING)

    with pytest.raises(SoundchartsAuthError):
        import_chunk(client(sim), clean_product_db, CHARTS, parts(sim), fetch_concurrency=3)

    # A 403 is never retried, and no fetch starts once the first refusal came back: only the fetches
    # already in flight then (at most one per thread) reach the API, out of the 10 periods.
    assert 1 <= len(sim.state.calls(RANKING)) <= 3
    assert stored(clean_product_db, "global-28") == {}


def test_a_fatal_error_stores_the_rankings_fetched_before_it(sim, clean_product_db):
    # One fetch at a time, one batch per chart: global-28's 5 periods and us-28's first 2 are fetched (and
    # paid for) before us-28's third is refused; they sit in a batch not full yet when the 403 comes.
    sim.state.fail(
        RANKING,
        403,
        times=None,
        when=lambda request: "/us-28/" in request.path and f"/{DAYS[2].isoformat()}T" in request.path,
    )

    with pytest.raises(SoundchartsAuthError):
        import_chunk(client(sim), clean_product_db, CHARTS, parts(sim), fetch_concurrency=1, load_batch=30)

    assert sorted(stored(clean_product_db, "global-28")) == DAYS
    assert sorted(stored(clean_product_db, "us-28")) == DAYS[:2]
    for day in DAYS[:2]:
        assert stored(clean_product_db, "us-28")[day] == served(sim, "us-28", day)
    assert len(first_pages(sim)) == len(DAYS) + 3  # nothing fetched after the refusal
    # What the run's summary reads for a failed chunk: which of its periods are stored after all.
    gone = {"chart": "gone-28", "dates": ["2026-11-01T12:00:00+00:00"]}
    assert complete_moments(clean_product_db, CHARTS, [*parts(sim), gone]) == {
        "global-28": {published(sim, "global-28", day) for day in DAYS},
        "us-28": {published(sim, "us-28", day) for day in DAYS[:2]},
    }


def test_a_chart_dropped_from_the_config_since_planning_fails_alone_with_a_clear_reason(
    sim, clean_product_db
):
    gone = {"chart": "gone-28", "dates": ["2026-11-01T12:00:00+00:00", "2026-11-02T12:00:00+00:00"]}
    one_each = [{"chart": part["chart"], "dates": part["dates"][:1]} for part in parts(sim)]

    outcome = import_chunk(client(sim), clean_product_db, CHARTS, [one_each[0], gone, one_each[1]])

    assert sorted(outcome["gone-28"]["failed"]) == ["2026-11-01", "2026-11-02"]
    assert (
        "'gone-28' is no longer in include/config/charts.yaml" in outcome["gone-28"]["failed"]["2026-11-01"]
    )
    assert outcome["gone-28"]["stored"] == []
    for slug in CHARTS:
        assert outcome[slug]["stored"] == [DAYS[0].isoformat()]
        assert sorted(stored(clean_product_db, slug)) == [DAYS[0]]
