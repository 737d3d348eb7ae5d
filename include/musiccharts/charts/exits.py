"""Chart exits: a track of ranking P absent from the next ranking N of the same chart exits at N.

The loader (:mod:`musiccharts.charts.load`) brings exits up to date at every ranking it loads and at the
ranking that follows each: those at a new ranking whose previous ranking is in the same batch are derived in
memory (:func:`exits_within_batch`) and COPYed, all others are recomputed set-based from the stored entries
(:data:`RECOMPUTE_EXITS_SQL`). Exits are derived from neighbours by ``ranking_date``, so loading rankings out
of order gives the same result as loading them in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import pairwise
from typing import TYPE_CHECKING, NamedTuple

import psycopg

if TYPE_CHECKING:
    from musiccharts.charts.load import RankingLoad


class StoredRanking(NamedTuple):
    """A row of the loader's ranking upsert."""

    id: int
    ranking_date: datetime
    inserted: bool  # stored for the first time by this load
    changed: bool  # the ranking row itself was inserted or updated
    chart_id: int
    stored_before: datetime | None  # latest ranking date of the chart before it, stored before this load


COPY_EXITS_SQL = (
    "COPY chart_exits (chart_id, track_id, last_ranking_id, exit_ranking_id, last_position, exit_date)"
    " FROM STDIN"
)

# A track of ranking P that is absent from the next ranking N of the same chart (by ranking_date) exits at N.
# Only the exits at a loaded ranking and at the ranking following it can change when it is (re)loaded; those
# are brought to exactly the desired set (stale rows deleted, missing ones inserted, moved ones updated).
# Neighbours are found through the (chart_id, ranking_date) key, one index probe per ranking, and each side
# of a comparison reads one ranking's entries through the primary key.
RECOMPUTE_EXITS_SQL = """
WITH loaded AS MATERIALIZED (
    SELECT r.id, r.chart_id, r.ranking_date FROM rankings r WHERE r.id = ANY (%(ranking_ids)s::bigint[])
), targets AS MATERIALIZED (
    SELECT t.id, t.chart_id, t.ranking_date, previous.id AS previous_id
    FROM (
        SELECT id, chart_id, ranking_date FROM loaded
        UNION
        SELECT following.id, following.chart_id, following.ranking_date
        FROM loaded l
        CROSS JOIN LATERAL (
            SELECT r.id, r.chart_id, r.ranking_date FROM rankings r
            WHERE r.chart_id = l.chart_id AND r.ranking_date > l.ranking_date
            ORDER BY r.ranking_date LIMIT 1
        ) following
    ) t
    LEFT JOIN LATERAL (
        SELECT r.id FROM rankings r
        WHERE r.chart_id = t.chart_id AND r.ranking_date < t.ranking_date
        ORDER BY r.ranking_date DESC LIMIT 1
    ) previous ON true
    WHERE t.id <> ALL (%(computed_ids)s::bigint[])  -- exits the loader derived from its own batch
), tracks_on AS MATERIALIZED (
    -- The tracks (and positions) of every ranking involved, one row per ranking, each read through the
    -- primary key (LATERAL: never a scan of the whole table). Both aggregates see the same rows in the same
    -- order, so the two arrays stay aligned.
    SELECT involved.id AS ranking_id, agg.track_ids, agg.positions
    FROM (SELECT id FROM targets UNION SELECT previous_id FROM targets WHERE previous_id IS NOT NULL) involved
    CROSS JOIN LATERAL (
        SELECT array_agg(e.track_id) AS track_ids, array_agg(e.position) AS positions
        FROM ranking_entries e WHERE e.ranking_id = involved.id
    ) agg
), desired AS MATERIALIZED (
    SELECT t.chart_id, gone.track_id, t.previous_id AS last_id, t.id AS exit_id, gone.position,
           t.ranking_date AS exit_date
    FROM targets t
    JOIN tracks_on before ON before.ranking_id = t.previous_id
    LEFT JOIN tracks_on after ON after.ranking_id = t.id
    CROSS JOIN LATERAL (
        -- at its best position, should the previous ranking list a track twice
        SELECT b.track_id, min(b.position) AS position
        FROM unnest(before.track_ids, before.positions) AS b(track_id, position)
        WHERE b.track_id IN (
            SELECT unnest(before.track_ids) EXCEPT SELECT unnest(coalesce(after.track_ids, '{}'))
        )
        GROUP BY b.track_id
    ) gone
), removed AS (
    DELETE FROM chart_exits x
    WHERE x.exit_ranking_id IN (SELECT id FROM targets)
      AND NOT EXISTS (SELECT FROM desired d WHERE d.exit_id = x.exit_ranking_id AND d.track_id = x.track_id)
    RETURNING x.exit_ranking_id
), written AS (
    INSERT INTO chart_exits (chart_id, track_id, last_ranking_id, exit_ranking_id, last_position, exit_date)
    SELECT chart_id, track_id, last_id, exit_id, position, exit_date FROM desired
    ORDER BY exit_id, track_id
    ON CONFLICT (exit_ranking_id, track_id) DO UPDATE SET
        chart_id = EXCLUDED.chart_id, last_ranking_id = EXCLUDED.last_ranking_id,
        last_position = EXCLUDED.last_position, exit_date = EXCLUDED.exit_date
    WHERE (chart_exits.chart_id, chart_exits.last_ranking_id, chart_exits.last_position,
           chart_exits.exit_date)
        IS DISTINCT FROM
          (EXCLUDED.chart_id, EXCLUDED.last_ranking_id, EXCLUDED.last_position, EXCLUDED.exit_date)
    RETURNING exit_ranking_id
)
SELECT exit_id, sum(removed)::integer, sum(written)::integer
FROM (
    SELECT exit_ranking_id, 1, 0 FROM removed
    UNION ALL
    SELECT exit_ranking_id, 0, 1 FROM written
) changes(exit_id, removed, written)
GROUP BY exit_id
"""


def exits_within_batch(
    loads: Sequence[RankingLoad],
    song_uuids: list[list[str]],
    track_ids: dict[str, int],
    stored: list[StoredRanking],
) -> dict[int, list[tuple]]:
    """The exits at each new ranking whose previous ranking is in the same batch, by the new ranking's id.

    Both sides are in memory, so these need no query: a ranking stored for the first time has no exits yet,
    and its previous ranking is the batch's one before it unless a ranking stored earlier lies between them
    (``stored_before``, the latest date stored before this transaction). Every other exit is recomputed by
    ``RECOMPUTE_EXITS_SQL``, from what is stored.
    """
    order = sorted(range(len(loads)), key=lambda index: loads[index].ranking.date)
    exits: dict[int, list[tuple]] = {}
    for before, after in pairwise(order):
        new = stored[after]
        if not new.inserted or (
            new.stored_before is not None and new.stored_before > loads[before].ranking.date
        ):
            continue
        present = {track_ids[song_uuid] for song_uuid in song_uuids[after]}
        best: dict[int, int] = {}  # track id -> its best position on the previous ranking
        for item, song_uuid in zip(loads[before].ranking.items, song_uuids[before], strict=True):
            track_id = track_ids[song_uuid]
            if track_id not in present and item.position < best.get(track_id, item.position + 1):
                best[track_id] = item.position
        exits[new.id] = [
            (new.chart_id, track_id, stored[before].id, new.id, position, new.ranking_date)
            for track_id, position in sorted(best.items())
        ]
    return exits


def following_ids(conn: psycopg.Connection, ranking_ids: list[int]) -> dict[int, int]:
    """The id of the ranking that follows each given one in its chart (only to attribute exit counts)."""
    rows = conn.execute(
        """
        SELECT l.id, following.id
        FROM rankings l
        CROSS JOIN LATERAL (
            SELECT r.id FROM rankings r
            WHERE r.chart_id = l.chart_id AND r.ranking_date > l.ranking_date
            ORDER BY r.ranking_date LIMIT 1
        ) following
        WHERE l.id = ANY (%s::bigint[])
        """,
        (ranking_ids,),
    ).fetchall()
    return dict(rows)
