"""The summary rule of mapped batches: a missing plan fails, and only MORE than the threshold fails."""

from __future__ import annotations

import pytest

from musiccharts_airflow.mapped_batches import PlanMissing, TooManyFailedBatches, count_batches


def plan(*sizes: int) -> list[dict]:
    return [{"ids": [f"id-{index}" for index in range(size)]} for size in sizes]


def test_counts_are_added_up():
    counts = count_batches(
        {"tracks": plan(10, 5, 5)}, [{"loaded": 10, "calls": 1}, {"loaded": 5, "calls": 1}, None], 0.5
    )
    assert counts == {"batches": 3, "succeeded": 2, "failed": 1, "entities": 20, "loaded": 15, "calls": 2}


def test_booleans_and_text_are_not_added():
    assert count_batches({"tracks": plan(1)}, [{"complete": True, "note": "x", "loaded": 1}], 0.0) == {
        "batches": 1,
        "succeeded": 1,
        "failed": 0,
        "entities": 1,
        "loaded": 1,
    }


def test_at_threshold_passes_above_fails():
    assert count_batches({"tracks": plan(*[1] * 10)}, [{}] * 9, 0.1)["failed"] == 1
    with pytest.raises(TooManyFailedBatches, match="2 of 10 batches failed"):
        count_batches({"tracks": plan(*[1] * 10)}, [{}] * 8, 0.1)


def test_threshold_applies_to_all_groups_together():
    plans = {"tracks": plan(1, 1), "artists": plan(1, 1)}
    assert count_batches(plans, [{}, {}, {}], 0.25)["failed"] == 1
    with pytest.raises(TooManyFailedBatches, match="2 of 4"):
        count_batches(plans, [{}, {}], 0.25)


def test_no_batches_is_a_success():
    assert count_batches({"tracks": []}, [], 0.0)["failed"] == 0


def test_a_missing_plan_is_not_zero_batches():
    with pytest.raises(PlanMissing, match="planning failed for artists"):
        count_batches({"tracks": plan(1), "artists": None}, [{}], 1.0)
