"""Batch planning: never more than max_batches, API calls at the minimum, readable labels."""

from __future__ import annotations

import math

import pytest

from musiccharts.catalog.batching import batch_label, batch_size_for, chunked, minimum_calls, plan_batches


def ids(count: int) -> list[str]:
    return [f"id-{index:05d}" for index in range(count)]


def test_small_selection_uses_endpoint_max():
    batches = plan_batches(ids(25), endpoint_max=10, max_batches=1000)
    assert [len(batch["ids"]) for batch in batches] == [10, 10, 5]
    assert [(batch["first"], batch["last"], batch["total"]) for batch in batches] == [
        (1, 10, 25),
        (11, 20, 25),
        (21, 25, 25),
    ]


def test_ten_thousand_tracks_stay_within_max_map_length():
    batches = plan_batches(ids(10_000), endpoint_max=10, max_batches=1000)
    assert len(batches) == 1000
    assert all(len(batch["ids"]) == 10 for batch in batches)


def test_beyond_max_batches_batches_grow_and_calls_stay_minimal():
    selection = ids(25_001)
    batches = plan_batches(selection, endpoint_max=10, max_batches=1000)
    assert len(batches) <= 1000
    assert batch_size_for(25_001, 10, 1000) == 26
    # Every id exactly once, in order.
    assert [value for batch in batches for value in batch["ids"]] == selection
    # Calls inside each batch are chunked to the endpoint maximum: the total is close to the minimum.
    calls = sum(math.ceil(len(batch["ids"]) / 10) for batch in batches)
    assert calls == sum(len(list(chunked(batch["ids"], 10))) for batch in batches)
    assert minimum_calls(25_001, 10) == 2501
    assert calls <= minimum_calls(25_001, 10) + len(batches)


def test_duplicates_are_dropped_and_empty_selection_maps_nothing():
    assert plan_batches(["a", "b", "a"], endpoint_max=10, max_batches=5)[0]["ids"] == ["a", "b"]
    assert plan_batches([], endpoint_max=10, max_batches=5) == []


def test_label_is_readable():
    batch = plan_batches(ids(2345), endpoint_max=100, max_batches=1000)[0]
    assert batch_label(batch, "tracks") == "tracks 1-100 of 2,345"


@pytest.mark.parametrize(("endpoint_max", "max_batches"), [(0, 10), (10, 0)])
def test_invalid_sizes_are_refused(endpoint_max, max_batches):
    with pytest.raises(ValueError, match="must be >= 1"):
        batch_size_for(10, endpoint_max, max_batches)
