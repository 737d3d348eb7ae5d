"""Builders of ChartRanking objects for the product-database tests, from the recorded response.

The recorded ranking (``soundcharts_get_song_ranking.json``) is page 1 of a 200-entry chart. Page 2 is
synthesised from it with the same shape (positions 101-200, other songs), so the full-ranking case uses
real payload structure end to end. Small hand-made rankings drive the exit sequences.
"""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from musiccharts.soundcharts.models import ChartRanking, ChartRankingPage, parse_payload
from tests.paths import RECORDED

RECORDED_RANKING = RECORDED / "soundcharts_get_song_ranking.json"
SONG_NAMESPACE = uuid.UUID("6f1c1f9e-3d51-4a39-9a8e-0d5a2f3c7b11")
RANKING_ENDPOINT = "GET /api/v2.14/chart/song/{slug}/ranking/{datetime}"


def song_uuid(number: int) -> str:
    """A deterministic song uuid for synthetic entries."""
    return str(uuid.uuid5(SONG_NAMESPACE, f"song-{number}"))


def recorded_page() -> dict[str, Any]:
    return json.loads(RECORDED_RANKING.read_text())


def synthetic_second_page(first: dict[str, Any]) -> dict[str, Any]:
    """Page 2 of the recorded ranking: same shape, positions 101-200, songs not on page 1."""
    page = copy.deepcopy(first)
    items = []
    for index, template in enumerate(first["items"]):
        item = copy.deepcopy(template)
        position = 101 + index
        item["position"] = position
        item["oldPosition"] = position - 3 if index % 4 else 0
        item["positionEvolution"] = 3 if index % 4 else 0
        item["metric"] = 900_000 - index * 1_000
        item["song"]["uuid"] = song_uuid(position)
        item["song"]["name"] = f"Synthetic song {position}"
        item["song"]["imageUrl"] = f"https://assets.example.test/song/{position}.jpg"
        items.append(item)
    page["items"] = items
    page["page"] = {
        "offset": 100,
        "limit": 100,
        "next": "",
        "previous": "None",
        "total": first["page"]["total"],
    }
    return page


def ranking_from_pages(pages: list[dict[str, Any]]) -> ChartRanking:
    """Merge validated pages into one ChartRanking, as the hook does."""
    parsed = [parse_payload(ChartRankingPage, page, RANKING_ENDPOINT) for page in pages]
    first = parsed[0]
    return ChartRanking(
        chart=first.related.chart,
        date=first.related.date,
        items=[item for page in parsed for item in page.items],
        total=first.page.total if first.page.total is not None else sum(len(p.items) for p in parsed),
        raw_pages=pages,
    )


def small_ranking(
    day: datetime,
    songs: list[int],
    *,
    slug: str = "global-28",
    total: int | None = None,
    positions: list[int] | None = None,
    max_results: int = 200,
) -> ChartRanking:
    """A one-page ranking of ``songs`` (synthetic song numbers) at positions 1..N (or ``positions``)."""
    recorded = recorded_page()
    related = copy.deepcopy(recorded["related"])
    related["chart"]["slug"] = slug
    related["chart"]["maxResultsCount"] = max_results
    related["date"] = day.isoformat()
    positions = positions or list(range(1, len(songs) + 1))
    items = [
        {
            "song": {
                "uuid": song_uuid(song),
                "name": f"Song {song}",
                "creditName": f"Artist {song}",
                "imageUrl": None,
            },
            "position": position,
            "positionEvolution": 0,
            "metric": 1_000_000 - position,
            "entryState": "",
            "entryDate": day.isoformat(),
            "rankDate": day.isoformat(),
            "oldPosition": 0,
            "timeOnChart": 1,
            "timeOnChartUnit": "DOC",
        }
        for song, position in zip(songs, positions, strict=True)
    ]
    page = {
        "related": related,
        "items": items,
        "page": {
            "offset": 0,
            "limit": 100,
            "next": "",
            "previous": "None",
            "total": len(items) if total is None else total,
        },
        "errors": [],
    }
    return ranking_from_pages([page])


def day_period(ranking_date: datetime) -> tuple[datetime, datetime]:
    """The daily data interval [00:00, next 00:00) UTC that contains ``ranking_date``."""
    start = ranking_date.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)
