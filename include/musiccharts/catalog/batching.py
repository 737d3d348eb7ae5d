"""Split entity ids into batches for dynamic task mapping.

Airflow fails the upstream task when a mapped list is longer than ``[core] max_map_length`` (1024 by
default), so the number of batches is capped: with many ids a batch grows beyond the endpoint's maximum and
the batch task chunks its API calls to that maximum. API calls stay at the minimum, ``ceil(n / endpoint
max)``, whatever the batch size.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import TypedDict


class Batch(TypedDict):
    """One mapped task's work (small enough for XCom: ids and counts only)."""

    ids: list[str]
    first: int  # 1-based position of the first id in the whole selection
    last: int
    total: int


def batch_size_for(count: int, endpoint_max: int, max_batches: int) -> int:
    """``max(endpoint_max, ceil(count / max_batches))``: the smallest size giving <= ``max_batches``."""
    if endpoint_max < 1 or max_batches < 1:
        raise ValueError("endpoint_max and max_batches must be >= 1")
    return max(endpoint_max, math.ceil(count / max_batches)) if count else endpoint_max


def chunked(items: Sequence[str], size: int) -> Iterator[list[str]]:
    """Consecutive slices of ``items`` of at most ``size`` elements."""
    if size < 1:
        raise ValueError("size must be >= 1")
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def plan_batches(ids: Sequence[str], *, endpoint_max: int, max_batches: int) -> list[Batch]:
    """Split ``ids`` (duplicates dropped, order kept) into at most ``max_batches`` batches."""
    unique = list(dict.fromkeys(ids))
    size = batch_size_for(len(unique), endpoint_max, max_batches)
    batches: list[Batch] = []
    for index, chunk in enumerate(chunked(unique, size)):
        first = index * size + 1
        batches.append(Batch(ids=chunk, first=first, last=first + len(chunk) - 1, total=len(unique)))
    return batches


def batch_label(batch: Batch, noun: str) -> str:
    """Readable map index, e.g. ``tracks 1-100 of 2,345``."""
    return f"{noun} {batch['first']:,}-{batch['last']:,} of {batch['total']:,}"


def minimum_calls(count: int, endpoint_max: int) -> int:
    """The fewest batch-endpoint calls that can fetch ``count`` entities."""
    return math.ceil(count / endpoint_max)
