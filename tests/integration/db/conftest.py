"""Fixtures of the product-database tests: the recorded ranking, whole or page 1 only."""

from __future__ import annotations

import pytest

from musiccharts.soundcharts.models import ChartRanking
from tests.integration.db.rankings import ranking_from_pages, recorded_page, synthetic_second_page


@pytest.fixture
def full_ranking() -> ChartRanking:
    """The recorded page 1 plus the synthetic page 2: 200 entries, total 200."""
    first = recorded_page()
    return ranking_from_pages([first, synthetic_second_page(first)])


@pytest.fixture
def first_page_only() -> ChartRanking:
    """What the original system stored: page 1 only (100 of the announced 200 entries)."""
    return ranking_from_pages([recorded_page()])
