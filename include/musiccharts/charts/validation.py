"""Checks a fetched ranking must pass before anything of it is written.

A ranking is stored only whole and sound: an empty ranking, a gap or a repeated position, a song listed
twice, more entries than the chart holds, or fewer than the API announced is refused here, before the
transaction opens, so a bad payload never replaces a good stored ranking. The same invariants are checked
again on the stored rows after the load (``quality.check_ranking_quality``) as a guard.
"""

from __future__ import annotations

from collections import Counter

from musiccharts.soundcharts.models import ChartRanking

_MAX_LISTED = 10  # values listed in one problem message; the count is always given in full

# The keys the documented v2.14 ranking payload always carries (a value may be null, the key is there; the
# recorded responses carry every one). A key that disappears or is renamed would otherwise read as null and
# quietly replace a stored value, so its absence refuses the ranking, naming the field.
DOCUMENTED_ITEM_FIELDS = (
    "song",
    "position",
    "positionEvolution",
    "metric",
    "entryState",
    "entryDate",
    "rankDate",
    "oldPosition",
    "timeOnChart",
    "timeOnChartUnit",
)
DOCUMENTED_SONG_FIELDS = ("uuid", "name", "creditName", "imageUrl")
DOCUMENTED_CHART_FIELDS = (
    "name",
    "slug",
    "platform",
    "frequency",
    "countryCode",
    "maxResultsCount",
    "webUrl",
)


class InvalidRanking(ValueError):
    """A fetched ranking breaks an invariant; the message names the chart, the date and every problem.

    Retrying cannot fix it (the API serves the same payload again): callers fail at once.
    """


def listing(values: list) -> str:
    shown = ", ".join(str(value) for value in values[:_MAX_LISTED])
    return shown + (f", ... ({len(values)} in all)" if len(values) > _MAX_LISTED else "")


def missing_fields(raw_pages: list) -> dict[str, int]:
    """Documented keys absent from the raw pages: field path -> how many objects lack it."""
    missing: Counter[str] = Counter()
    for page in raw_pages:
        if not isinstance(page, dict):
            continue
        related = page.get("related")
        chart = related.get("chart") if isinstance(related, dict) else None
        if isinstance(chart, dict):
            missing.update(f"related.chart.{key}" for key in DOCUMENTED_CHART_FIELDS if key not in chart)
        for item in page.get("items") or ():
            if not isinstance(item, dict):
                continue
            missing.update(f"items[].{key}" for key in DOCUMENTED_ITEM_FIELDS if key not in item)
            song = item.get("song")
            if isinstance(song, dict):
                missing.update(f"items[].song.{key}" for key in DOCUMENTED_SONG_FIELDS if key not in song)
    return dict(missing)


def ranking_problems(ranking: ChartRanking, max_entries: int | None = None) -> list[str]:
    """Every invariant a ranking breaks, one sentence each; empty when it may be stored.

    ``max_entries`` is the chart's size (``maxResultsCount``); the ranking's own chart object is used
    when it is not given.
    """
    size = max_entries if max_entries is not None else ranking.chart.max_results_count
    count = len(ranking.items)
    problems: list[str] = []
    absent = missing_fields(ranking.raw_pages)
    if absent:
        problems.append(
            "documented fields missing from the payload (renamed or removed?): "
            + ", ".join(f"{field} ({times}x)" for field, times in sorted(absent.items()))
        )
    if count == 0:
        return [*problems, "the ranking has no entries"]
    if count != ranking.total:
        problems.append(f"{count} entries read, the API announced {ranking.total}")
    if size is not None and count > size:
        problems.append(f"{count} entries exceed the chart's size of {size}")
    positions = Counter(item.position for item in ranking.items)
    repeated = sorted(position for position, times in positions.items() if times > 1)
    if repeated:
        problems.append(f"duplicate positions {listing(repeated)}")
    missing = sorted(set(range(1, count + 1)) - set(positions))
    if missing:
        problems.append(f"positions are not exactly 1..{count}: missing {listing(missing)}")
    outside = sorted(position for position in positions if position < 1 or position > count)
    if outside:
        problems.append(f"positions outside 1..{count}: {listing(outside)}")
    songs = Counter(item.song.uuid.lower() for item in ranking.items)
    twice = [song for song, times in songs.items() if times > 1]
    if twice:
        problems.append(f"songs listed more than once: {listing(sorted(twice))}")
    return problems


def validate_ranking(ranking: ChartRanking, max_entries: int | None = None) -> None:
    """Raise :class:`InvalidRanking` naming every problem of ``ranking`` (see :func:`ranking_problems`)."""
    problems = ranking_problems(ranking, max_entries)
    if problems:
        raise InvalidRanking(
            f"{ranking.chart.slug} {ranking.date.isoformat()}: not stored, " + "; ".join(problems)
        )
