"""Which ranking datetime belongs to a chart period, from the API's own list of published rankings.

The ranking endpoint takes "a ranking date", and Soundcharts documents ``available-rankings`` as the way "to
query the correct date" for it: a period's ranking is asked for by exactly the datetime that list gives,
never by a datetime computed from our calendar.

The dates seen are kept in ``chart_ranking_dates`` and the list is read incrementally, newest page first,
only as far as needed: until a date already stored, and back past the period asked for. A catchup of N
periods of one chart therefore reads ``available-rankings`` about once per 100 periods instead of once per
period. ``chart_ranking_date_scans.covered_from`` records how far back the stored list is complete, so
that a period inside the covered range with no stored date is known to have no ranking at all.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import psycopg

log = logging.getLogger(__name__)


class RankingDatesApi(Protocol):
    def iter_available_ranking_dates(self, slug: str) -> Iterator[list[datetime]]: ...


@dataclass(frozen=True)
class PeriodPublication:
    """What is known about the ranking of one chart period.

    ``ranking_date`` is the period's ranking datetime when it is published. ``never_published`` is True when
    the stored list is complete over the period and newer rankings exist: this period was skipped by the
    chart and will not appear later. ``newest_published`` is the newest ranking datetime known.
    """

    ranking_date: datetime | None
    newest_published: datetime | None
    never_published: bool = False
    pages_read: int = 0


_STORED_IN_PERIOD_SQL = """
SELECT max(ranking_date) FROM chart_ranking_dates
WHERE chart_slug = %(slug)s AND ranking_date >= %(start)s AND ranking_date < %(end)s
"""

_STATE_SQL = """
SELECT (SELECT max(ranking_date) FROM chart_ranking_dates WHERE chart_slug = %(slug)s),
       s.covered_from, coalesce(s.history_complete, false)
FROM (SELECT 1) one LEFT JOIN chart_ranking_date_scans s ON s.chart_slug = %(slug)s
"""

_INSERT_DATES_SQL = """
INSERT INTO chart_ranking_dates (chart_slug, ranking_date)
SELECT %(slug)s, unnest(%(dates)s::timestamptz[])
ON CONFLICT DO NOTHING
"""

# covered_from only ever moves back: a concurrent scan of the same chart may have reached further.
_UPSERT_SCAN_SQL = """
INSERT INTO chart_ranking_date_scans AS s (chart_slug, covered_from, history_complete, scanned_at)
VALUES (%(slug)s, %(covered_from)s, %(history_complete)s, now())
ON CONFLICT (chart_slug) DO UPDATE SET
    covered_from = LEAST(s.covered_from, EXCLUDED.covered_from),
    history_complete = s.history_complete OR EXCLUDED.history_complete,
    scanned_at = now()
"""


def _stored_in_period(conn: psycopg.Connection, slug: str, start: datetime, end: datetime) -> datetime | None:
    return conn.execute(_STORED_IN_PERIOD_SQL, {"slug": slug, "start": start, "end": end}).fetchone()[0]


def stored_ranking_dates(
    conn: psycopg.Connection, slug: str, start: datetime, end: datetime
) -> list[datetime]:
    """The published ranking datetimes of ``slug`` in ``[start, end)`` kept so far (no API call): what
    :func:`find_period_ranking` answers first, for a range at once."""
    rows = conn.execute(
        "SELECT ranking_date FROM chart_ranking_dates "
        "WHERE chart_slug = %(slug)s AND ranking_date >= %(start)s AND ranking_date < %(end)s",
        {"slug": slug, "start": start, "end": end},
    ).fetchall()
    return [row[0] for row in rows]


def find_period_ranking(
    api: RankingDatesApi, conn: psycopg.Connection, slug: str, start: datetime, end: datetime
) -> PeriodPublication:
    """The ranking datetime of ``[start, end)`` for chart ``slug``, reading the API only when needed.

    Commits what it learnt (the dates and how far back they are complete) on ``conn``.
    """
    stored = _stored_in_period(conn, slug, start, end)
    newest, covered_from, history_complete = conn.execute(_STATE_SQL, {"slug": slug}).fetchone()
    if stored is not None:
        return PeriodPublication(stored, newest)
    covered = history_complete or (covered_from is not None and covered_from <= start)
    if covered and newest is not None and newest >= end:
        return PeriodPublication(None, newest, never_published=True)

    seen: list[datetime] = []
    pages = 0
    reached_known = newest is None
    history_complete_now = True
    for page in api.iter_available_ranking_dates(slug):
        pages += 1
        seen.extend(page)
        if not reached_known and any(moment <= newest for moment in page):
            reached_known = True
        oldest_seen = min(seen, default=None)
        back_far_enough = (oldest_seen is not None and oldest_seen < start) or (
            reached_known and newest is not None and covered
        )
        if reached_known and back_far_enough:
            history_complete_now = False
            break
    # The pages were read from the newest date on without a hole, so everything from the oldest date seen
    # (or, once the stored dates were reached, from the stored coverage) up to now is stored.
    oldest_seen = min(seen, default=None)
    new_covered_from = oldest_seen
    if newest is not None and reached_known and covered_from is not None:
        new_covered_from = min(filter(None, (oldest_seen, covered_from)))
    with conn.transaction():
        if seen:
            conn.execute(_INSERT_DATES_SQL, {"slug": slug, "dates": sorted(set(seen))})
        conn.execute(
            _UPSERT_SCAN_SQL,
            {"slug": slug, "covered_from": new_covered_from, "history_complete": history_complete_now},
        )
    newest_now = max([moment for moment in (newest, *seen) if moment is not None], default=None)
    found = _stored_in_period(conn, slug, start, end)
    log.info(
        "%s: read %d page(s) of available-rankings, %d date(s); period [%s, %s) -> %s",
        slug,
        pages,
        len(seen),
        start.isoformat(),
        end.isoformat(),
        found.isoformat() if found else "not published",
    )
    never = found is None and newest_now is not None and newest_now >= end and new_covered_from is not None
    never = never and (history_complete_now or new_covered_from <= start)
    return PeriodPublication(found, newest_now, never_published=never, pages_read=pages)
