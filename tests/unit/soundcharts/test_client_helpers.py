"""Pure helpers of the Soundcharts client: ranking datetimes and audience windows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from itertools import pairwise

import pytest

from musiccharts.soundcharts.client import SoundchartsClient, format_ranking_datetime
from musiccharts.soundcharts.windows import split_windows


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "latest"),
        (date(2025, 8, 23), "2025-08-23T00:00:00+00:00"),
        (datetime(2025, 8, 23, 12, 0, tzinfo=UTC), "2025-08-23T12:00:00+00:00"),
        (datetime(2025, 8, 23, 12, 0, 5, 123456), "2025-08-23T12:00:05+00:00"),  # naive = UTC
        (datetime(2025, 8, 23, 14, 0, tzinfo=timezone(timedelta(hours=2))), "2025-08-23T12:00:00+00:00"),
    ],
)
def test_format_ranking_datetime(value, expected) -> None:
    assert format_ranking_datetime(value) == expected


def test_windows_split_long_periods_into_90_day_requests() -> None:
    windows = [(w.start, w.end) for w in split_windows(date(2026, 1, 1), date(2026, 12, 31), 90)]
    assert windows[0] == (date(2026, 1, 1), date(2026, 3, 31))  # 90 days, both ends included
    assert all((end - start).days < 90 for start, end in windows)
    # contiguous, no gap and no overlap, covering the whole range
    for (_, previous_end), (next_start, _) in pairwise(windows):
        assert next_start == previous_end + timedelta(days=1)
    assert windows[-1][1] == date(2026, 12, 31)
    assert len(windows) == 5


def test_windows_single_day_and_reversed() -> None:
    one_day = split_windows(date(2026, 1, 1), date(2026, 1, 1), 90)
    assert [(w.start, w.end) for w in one_day] == [(date(2026, 1, 1), date(2026, 1, 1))]
    assert split_windows(date(2026, 1, 2), date(2026, 1, 1), 90) == []
    with pytest.raises(ValueError, match="after"):
        SoundchartsClient("http://127.0.0.1:9", "app", "key").get_song_audience(
            "uuid", "spotify", date(2026, 1, 2), date(2026, 1, 1)
        )


def test_client_repr_and_headers_do_not_leak_into_repr() -> None:
    client = SoundchartsClient("http://127.0.0.1:9", "app", "very-secret-key")
    assert "very-secret-key" not in repr(client)
    assert client.base_url == "http://127.0.0.1:9"


def test_client_rejects_base_url_without_scheme() -> None:
    with pytest.raises(ValueError, match="http"):
        SoundchartsClient("customer.api.soundcharts.com", "app", "key")
