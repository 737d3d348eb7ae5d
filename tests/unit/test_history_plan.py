"""The history import's pure parts: which ranges a request means, period arithmetic, chunks, the summary."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from musiccharts.charts.history import (
    DEFAULT_CHUNK_SIZE,
    ChartPlan,
    ImportRequestError,
    chart_periods,
    choose_ranges,
    chunk_label,
    cut_chunks,
    format_summary,
    latest_per_period,
    summarise_import,
)
from musiccharts.config import ChartConfig

DAILY = ChartConfig(
    slug="global-28", platform="spotify", country="GLOBAL", frequency="daily", history_start=date(2026, 1, 1)
)
WEEKLY = ChartConfig(
    slug="global-weekly-28",
    platform="spotify",
    country="GLOBAL",
    frequency="weekly",
    history_start=date(2025, 9, 5),
)
OFF = ChartConfig(
    slug="shazam-fr-daily",
    platform="shazam",
    country="FR",
    frequency="daily",
    history_start=date(2026, 6, 1),
    enabled=False,
)
CHARTS = [DAILY, WEEKLY, OFF]
TODAY = date(2026, 11, 29)


def ranges(**kwargs):
    defaults = {"slugs": [], "first_day": None, "last_day": None, "oldest_stored": {}, "today": TODAY}
    return [(r.chart.slug, r.first_day, r.last_day) for r in choose_ranges(CHARTS, **{**defaults, **kwargs})]


def test_explicit_range_is_clipped_to_history_start_and_today():
    assert ranges(slugs=["global-28"], first_day=date(2025, 1, 1), last_day=date(2027, 1, 1)) == [
        ("global-28", date(2026, 1, 1), TODAY)
    ]


def test_empty_params_mean_enabled_charts_from_history_start_to_their_oldest_stored_period():
    oldest = {"global-28": date(2026, 11, 1), "global-weekly-28": date(2025, 9, 5)}
    # The weekly chart is stored from its history_start on: nothing older to import.
    assert ranges(oldest_stored=oldest) == [("global-28", date(2026, 1, 1), date(2026, 10, 31))]
    # Nothing stored: the whole history. A disabled chart is imported only when named.
    assert ranges(slugs=["shazam-fr-daily"]) == [("shazam-fr-daily", date(2026, 6, 1), TODAY)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"slugs": ["nope"]}, "unknown chart"),
        ({"first_day": date(2026, 2, 1), "last_day": date(2026, 1, 1)}, "after"),
        ({"first_day": date(2026, 2, 1)}, "both"),
    ],
)
def test_bad_requests_are_refused_with_the_reason(kwargs, message):
    with pytest.raises(ImportRequestError, match=message):
        ranges(**kwargs)


def test_periods_start_in_the_range_and_have_ended():
    now = datetime(2026, 11, 29, 6, tzinfo=UTC)
    daily = chart_periods(DAILY, date(2026, 11, 27), date(2026, 11, 30), now)
    assert [(s.date().isoformat(), e.date().isoformat()) for s, e in daily] == [
        ("2026-11-27", "2026-11-28"),
        ("2026-11-28", "2026-11-29"),
    ]
    # Weekly periods start on Fridays: a range opening mid-week starts at the next Friday.
    weekly = chart_periods(WEEKLY, date(2026, 10, 1), date(2026, 10, 31), now)
    assert [s.date().isoformat() for s, _ in weekly] == [
        "2026-10-02",
        "2026-10-09",
        "2026-10-16",
        "2026-10-23",
        "2026-10-30",
    ]


def test_chunks_are_balanced_oldest_first_and_span_charts_with_readable_labels():
    plans = [
        ChartPlan(
            slug="global-28", planned=[datetime(2026, 11, day, 12, tzinfo=UTC) for day in (5, 1, 2, 9, 7)]
        ),
        ChartPlan(slug="us-28", planned=[datetime(2026, 11, day, 12, tzinfo=UTC) for day in (3, 4)]),
    ]
    chunks = cut_chunks(plans, 3)
    # 7 periods, at most 3 a chunk: 3 chunks of 2-3, not 3 + 3 + 1; a chunk may cover two charts.
    assert [chunk_label(chunk) for chunk in chunks] == [
        "global-28 2026-11-01..2026-11-02 (2)",
        "global-28 2026-11-05..2026-11-07 (2)",
        "global-28 2026-11-09, us-28 2026-11-03..2026-11-04 (3)",
    ]
    assert [chunk_label(chunk) for chunk in cut_chunks(plans, 4)] == [
        "global-28 2026-11-01..2026-11-05 (3)",
        "global-28 2026-11-07..2026-11-09, us-28 2026-11-03..2026-11-04 (4)",
    ]
    # Every planned period is in exactly one chunk, as its published datetime.
    planned = sorted(moment.isoformat() for plan in plans for moment in plan.planned)
    assert sorted(d for chunk in chunks for part in chunk["parts"] for d in part["dates"]) == planned
    assert cut_chunks([ChartPlan(slug="global-28")], 3) == []


def test_a_label_over_many_charts_names_the_first_and_the_last():
    plans = [
        ChartPlan(
            slug=f"c{n}-28",
            planned=[datetime(2026, 11, 1, 12, tzinfo=UTC), datetime(2026, 11, 2, 12, tzinfo=UTC)],
        )
        for n in range(6)
    ]
    (chunk,) = cut_chunks(plans, 200)
    assert chunk_label(chunk) == "c0-28 2026-11-01..2026-11-02 + 4 charts + c5-28 2026-11-01..2026-11-02 (12)"


def test_the_dag_default_chunk_size_is_the_domain_default():
    from musiccharts_airflow.dag_factories.chart_history import import_params

    assert import_params()["chunk_size"].value == DEFAULT_CHUNK_SIZE


def _outcome(stored=(), skipped=(), failed=None):
    return {"stored": list(stored), "skipped": list(skipped), "failed": failed or {}}


def test_summary_counts_per_chart_and_a_chunk_without_result_as_failed():
    plan = {
        "charts": {
            "global-28": {"periods": 6, "already_stored": 1, "planned": 4, "unpublished": ["2026-11-06"]},
            "us-28": {"periods": 2, "already_stored": 0, "planned": 2, "unpublished": []},
        },
        "chunks": [
            {
                "parts": [
                    {
                        "chart": "global-28",
                        "dates": ["2026-11-01T12:00:00+00:00", "2026-11-02T12:00:00+00:00"],
                    }
                ]
            },
            {
                "parts": [
                    {
                        "chart": "global-28",
                        "dates": ["2026-11-03T12:00:00+00:00", "2026-11-04T12:00:00+00:00"],
                    },
                    {"chart": "us-28", "dates": ["2026-11-01T12:00:00+00:00", "2026-11-02T12:00:00+00:00"]},
                ]
            },
        ],
    }
    # Only the second chunk left a result (the first task failed as a whole).
    results = [
        {
            "chunk": "global-28 2026-11-03..2026-11-04, us-28 2026-11-01..2026-11-02 (4)",
            "charts": {
                "global-28": _outcome(
                    stored=["2026-11-03"], failed={"2026-11-04": "SoundchartsUnavailable: 503"}
                ),
                "us-28": _outcome(stored=["2026-11-01"], skipped=["2026-11-02"]),
            },
        }
    ]
    summary = summarise_import(plan, results)
    assert summary["charts"]["global-28"] == {"stored": 1, "skipped": 2, "failed": 3}
    assert summary["charts"]["us-28"] == {"stored": 1, "skipped": 1, "failed": 0}
    assert summary["totals"] == {"stored": 2, "skipped": 3, "failed": 3}
    assert [(f["chart"], f["period"], f["reason"]) for f in summary["failed_periods"]] == [
        ("global-28", "2026-11-01", "the chunk's task failed before storing it"),
        ("global-28", "2026-11-02", "the chunk's task failed before storing it"),
        ("global-28", "2026-11-04", "SoundchartsUnavailable: 503"),
    ]


def test_a_failed_chunk_counts_what_it_stored_before_failing_as_stored():
    first, second, third = (
        "2026-11-01T12:00:00+00:00",
        "2026-11-02T12:00:00+00:00",
        "2026-11-03T12:00:00+00:00",
    )
    plan = {
        "charts": {
            "global-28": {"periods": 3, "already_stored": 0, "planned": 3, "unpublished": []},
            "us-28": {"periods": 1, "already_stored": 0, "planned": 1, "unpublished": []},
        },
        "chunks": [
            {
                "parts": [
                    {"chart": "global-28", "dates": [first, second, third]},
                    {"chart": "us-28", "dates": [first]},
                ]
            }
        ],
    }
    # The chunk's task failed after its first load batch (global-28 Nov 1-2) was committed.
    summary = summarise_import(plan, [], {"global-28": {first, second}})

    assert summary["charts"]["global-28"] == {"stored": 2, "skipped": 0, "failed": 1}
    assert summary["charts"]["us-28"] == {"stored": 0, "skipped": 0, "failed": 1}
    assert [(f["chart"], f["period"]) for f in summary["failed_periods"]] == [
        ("global-28", "2026-11-03"),
        ("us-28", "2026-11-01"),
    ]
    assert summary["failed_chunks"] == [
        {
            "chunk": "global-28 2026-11-01..2026-11-03, us-28 2026-11-01 (4)",
            "stored": {"global-28": ["2026-11-01", "2026-11-02"], "us-28": []},
            "not_stored": {"global-28": ["2026-11-03"], "us-28": ["2026-11-01"]},
        }
    ]
    assert "2 period(s) stored before it failed, 2 not stored" in format_summary(summary)


def test_moments_are_matched_to_the_period_holding_them_latest_first():
    periods = [
        (datetime(2026, 11, day, tzinfo=UTC), datetime(2026, 11, day + 1, tzinfo=UTC)) for day in (1, 2, 4)
    ]
    moments = [
        datetime(2026, 11, 2, 9, tzinfo=UTC),
        datetime(2026, 11, 2, 18, tzinfo=UTC),  # the later of two in one period wins
        datetime(2026, 11, 3, 12, tzinfo=UTC),  # in no period (Nov 3 is not asked for)
        datetime(2026, 10, 31, 12, tzinfo=UTC),  # before the first
        datetime(2026, 11, 5, 0, tzinfo=UTC),  # the last period's end is excluded
        datetime(2026, 11, 4, 0, tzinfo=UTC),  # its start is included
    ]
    assert latest_per_period(periods, moments) == {
        1: datetime(2026, 11, 2, 18, tzinfo=UTC),
        2: datetime(2026, 11, 4, 0, tzinfo=UTC),
    }
