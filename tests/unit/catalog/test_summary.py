"""The summary rule: the run fails only when MORE than the threshold share of batches failed."""

from __future__ import annotations

import pytest

from musiccharts.catalog.sync import TooManyFailedBatches, summarise_batches


def test_counts_are_added_up():
    summary = summarise_batches(3, [{"entities": 10, "calls": 1}, {"entities": 5, "calls": 1}, None], 0.5)
    assert (summary.planned, summary.succeeded, summary.failed) == (3, 2, 1)
    assert summary.totals == {"entities": 15, "calls": 2}


def test_at_threshold_passes_above_fails():
    assert summarise_batches(10, [{}] * 9, 0.1).failed == 1
    with pytest.raises(TooManyFailedBatches, match="2 of 10 batches failed"):
        summarise_batches(10, [{}] * 8, 0.1)


def test_no_batches_is_a_success():
    assert summarise_batches(0, [], 0.0).failed == 0
