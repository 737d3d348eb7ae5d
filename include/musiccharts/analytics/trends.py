"""Chart trends per ranking entry, computed set-based from the stored rankings, kept up to date incrementally.

For every entry of every stored ranking, ``chart_trend_entries`` holds:

- ``movement``: ``new`` (first stored ranking of this chart with the track), ``re-entry`` (on the chart
  before, but not on the previous stored ranking), ``climber`` / ``faller`` with ``movement_size`` positions,
  or ``unchanged``;
- ``peak_position`` and ``peak_date`` (the first ranking at which that peak was reached), up to this ranking;
- ``periods_on_chart`` (stored rankings of the chart with the track, up to this one) and ``current_streak``
  (consecutive stored rankings ending with this one), counted from our own history, not the API's
  ``timeOnChart``;

exits are the loader's ``chart_exits`` joined with the trend of the track's last entry (view
``chart_trend_exits``), and ``chart_trend_rankings`` summarises each ranking (new entries, re-entries,
climbers, fallers, exits). "Consecutive" and "previous" refer to the chart's stored rankings in
``ranking_date`` order: a period that is not stored yet is not an exit, and once it is loaded the later
rankings are recomputed against it.

Incremental rule. ``chart_trend_rankings`` remembers, per ranking, the version it was computed from
(``rankings.fetched_at``, which moves only with a real change) and its predecessor. A ranking is *dirty* when
it has no summary, its version moved, or its predecessor changed (a period loaded late before it, a deleted
neighbour). Every trend figure of a ranking depends only on the rankings up to it, so for each chart the
rankings from its earliest dirty one onwards are recomputed, and nothing else; the window functions read only
the history of the tracks on those rankings (and on the ranking before them). The computed rows of each
ranking are reduced to a digest (count + XOR of row hashes) and compared with the one stored with the
ranking: only rankings whose rows differ are rewritten (their rows deleted and inserted again, set-based),
so a new ranking at the end of a chart writes only its own rows and a rerun, even forced, writes nothing.
Comparing one digest per ranking instead of joining every stored row is what keeps a full recompute close
to the cost of the window pass itself (``bench/bench_trends.py``).

Pure: takes a psycopg connection, imports nothing from Airflow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import psycopg

# Namespace of the transaction-level advisory lock that serialises trend refreshes of one chart (second
# key: the chart id). Chart loads are not blocked: each ranking's summary records the version read at the
# start (``_trend_sequence``), so a ranking reloaded while the refresh runs is dirty again next time.
TREND_LOCK_NAMESPACE = 0x6D63_7472  # "mctr"

#: Memory per sort/hash of the refresh transaction (SET LOCAL: ends with it).
WORK_MEM = "256MB"

_SEQUENCE_SQL = """
CREATE TEMP TABLE _trend_sequence ON COMMIT DROP AS
SELECT r.id AS ranking_id, r.chart_id, r.ranking_date, r.fetched_at,
       row_number() OVER w AS sequence_number,
       lag(r.id) OVER w AS previous_ranking_id
FROM rankings r
WHERE %(chart_ids)s::bigint[] IS NULL OR r.chart_id = ANY(%(chart_ids)s::bigint[])
WINDOW w AS (PARTITION BY r.chart_id ORDER BY r.ranking_date)
"""

# Per chart, the sequence number of the first ranking to recompute (all of them when forced).
_START_SQL = """
CREATE TEMP TABLE _trend_start ON COMMIT DROP AS
SELECT s.chart_id, min(s.sequence_number) AS start_number
FROM _trend_sequence s
LEFT JOIN chart_trend_rankings t ON t.ranking_id = s.ranking_id
WHERE %(force)s
   OR t.ranking_id IS NULL
   OR t.source_fetched_at IS DISTINCT FROM s.fetched_at
   OR t.previous_ranking_id IS DISTINCT FROM s.previous_ranking_id
   OR t.sequence_number IS DISTINCT FROM s.sequence_number
GROUP BY s.chart_id
"""

# The tracks whose history is needed: those on a recomputed ranking or on the ranking just before the first
# one (a track that left there is an exit at it). Not built when every chart restarts at its first ranking.
_TRACKS_SQL = """
CREATE TEMP TABLE _trend_tracks ON COMMIT DROP AS
SELECT DISTINCT s.chart_id, e.track_id
FROM _trend_sequence s
JOIN _trend_start st ON st.chart_id = s.chart_id AND s.sequence_number >= st.start_number - 1
JOIN ranking_entries e ON e.ranking_id = s.ranking_id
"""

# Every chart restarts at its first ranking (every chart of _trend_sequence is dirty from its start).
_ENTRIES_ALL = """
    SELECT s.chart_id, s.sequence_number, s.ranking_id, e.position, e.track_id
    FROM ranking_entries e
    JOIN _trend_sequence s ON s.ranking_id = e.ranking_id
"""

_ENTRIES_OF_TRACKS = """
    SELECT s.chart_id, s.sequence_number, s.ranking_id, e.position, e.track_id
    FROM _trend_tracks tt
    JOIN ranking_entries e ON e.track_id = tt.track_id
    JOIN _trend_sequence s ON s.ranking_id = e.ranking_id AND s.chart_id = tt.chart_id
"""

# The window figures of every entry of the recomputed rankings. Two window levels over ONE sort order
# (chart, track, sequence): the second level reuses the first one's ordering, so PostgreSQL sorts once.
# ``peak_key`` packs the best position and the sequence number where it was first reached (20 bits each):
# one running min() gives both. Kept to integers on purpose: this runs over every entry of a full recompute.
_WINDOWED_SQL = """
SELECT v.*,
       max(CASE WHEN v.previous_number IS DISTINCT FROM v.sequence_number - 1 THEN v.sequence_number END)
           OVER (PARTITION BY v.chart_id, v.track_id ORDER BY v.sequence_number
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS run_start
FROM (
    SELECT x.chart_id, x.sequence_number, x.ranking_id, x.position, x.track_id,
           lag(x.sequence_number) OVER h AS previous_number,
           lag(x.position) OVER h AS previous_position,
           row_number() OVER h AS periods_on_chart,
           min((x.position::bigint << 20) | x.sequence_number) OVER h AS peak_key
    FROM ({entries}) x
    WINDOW h AS (PARTITION BY x.chart_id, x.track_id ORDER BY x.sequence_number
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
) v
"""

# Only rankings from each chart's first dirty one (all of them when every chart restarts at its first).
_FROM_START = " JOIN _trend_start st ON st.chart_id = w.chart_id AND w.sequence_number >= st.start_number"

# Per recomputed ranking: a digest of its rows (count + XOR of row hashes), so that a ranking is compared
# with what is stored through one number instead of a join with every stored row. This pass runs over every
# entry of a full recompute, so it is ONE window level over one sort (chart, track, sequence) with ROWS frames
# (no peer checks) and one hash call per row: a stored row is fully determined by the track, its position,
# its previous position, the peak key and the set of earlier sequence numbers of the track on the chart,
# which ``history`` (running XOR of their hashes) stands for. That set gives the previous number, the periods
# on chart and the streak's start, so they need no second window level here (only the insert of changed rows
# computes them).
_DIGESTS_SQL = """
CREATE TEMP TABLE _trend_digests ON COMMIT DROP AS
SELECT w.ranking_id, count(*)::integer AS entries,
       bit_xor(hashint8extended(
           (w.peak_key << 20) | coalesce(w.previous_position, 0),
           w.history # w.track_id # (w.position::bigint << 40)
       )) AS digest
FROM (
    SELECT x.chart_id, x.sequence_number, x.ranking_id, x.position, x.track_id,
           lag(x.position) OVER h AS previous_position,
           min((x.position::bigint << 20) | x.sequence_number) OVER h AS peak_key,
           bit_xor(hashint8(x.sequence_number)) OVER h AS history
    FROM ({entries}) x
    WINDOW h AS (PARTITION BY x.chart_id, x.track_id ORDER BY x.sequence_number
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
) w{from_start}
GROUP BY w.ranking_id
"""

# Movement counts of the rewritten rankings, from their new rows (the others keep their stored counts).
_COUNTS_SQL = """
CREATE TEMP TABLE _trend_counts ON COMMIT DROP AS
SELECT e.ranking_id,
       count(*) FILTER (WHERE e.movement = 'new')::integer AS new_entries,
       count(*) FILTER (WHERE e.movement = 're-entry')::integer AS re_entries,
       count(*) FILTER (WHERE e.movement = 'climber')::integer AS climbers,
       count(*) FILTER (WHERE e.movement = 'faller')::integer AS fallers,
       count(*) FILTER (WHERE e.movement = 'unchanged')::integer AS unchanged
FROM chart_trend_entries e JOIN _trend_changed c ON c.ranking_id = e.ranking_id
GROUP BY e.ranking_id
"""

# Recomputed rankings whose rows differ from the stored ones (or have none stored yet).
_CHANGED_SQL = """
CREATE TEMP TABLE _trend_changed ON COMMIT DROP AS
SELECT s.ranking_id
FROM _trend_sequence s
JOIN _trend_start st ON st.chart_id = s.chart_id AND s.sequence_number >= st.start_number
LEFT JOIN _trend_digests d ON d.ranking_id = s.ranking_id
LEFT JOIN chart_trend_rankings t ON t.ranking_id = s.ranking_id
WHERE t.ranking_id IS NULL
   OR (t.entries, t.entries_digest) IS DISTINCT FROM (coalesce(d.entries, 0), d.digest)
"""

_DELETE_CHANGED_SQL = """
DELETE FROM chart_trend_entries t USING _trend_changed c WHERE t.ranking_id = c.ranking_id
"""

_INSERT_CHANGED_SQL = """
INSERT INTO chart_trend_entries (
    ranking_id, position, chart_id, track_id, ranking_date, movement, movement_size, previous_position,
    peak_position, peak_date, periods_on_chart, current_streak)
SELECT w.ranking_id, w.position, w.chart_id, w.track_id, s.ranking_date,
       CASE WHEN w.previous_number IS NULL THEN 'new'
            WHEN w.previous_number < w.sequence_number - 1 THEN 're-entry'
            WHEN w.previous_position > w.position THEN 'climber'
            WHEN w.previous_position < w.position THEN 'faller'
            ELSE 'unchanged' END,
       CASE WHEN w.previous_number = w.sequence_number - 1 THEN abs(w.previous_position - w.position)
            ELSE 0 END,
       CASE WHEN w.previous_number = w.sequence_number - 1 THEN w.previous_position END,
       (w.peak_key >> 20)::integer,
       peak.ranking_date,
       w.periods_on_chart::integer,
       (w.sequence_number - w.run_start + 1)::integer
FROM ({windowed}) w
JOIN _trend_changed c ON c.ranking_id = w.ranking_id
JOIN _trend_sequence s ON s.ranking_id = w.ranking_id
JOIN _trend_sequence peak ON peak.chart_id = w.chart_id AND peak.sequence_number = (w.peak_key & 1048575)
"""

_UPSERT_SUMMARIES_SQL = """
INSERT INTO chart_trend_rankings AS t (
    ranking_id, chart_id, ranking_date, sequence_number, previous_ranking_id, source_fetched_at, entries,
    entries_digest, new_entries, re_entries, climbers, fallers, unchanged, exits)
SELECT s.ranking_id, s.chart_id, s.ranking_date, s.sequence_number, s.previous_ranking_id, s.fetched_at,
       coalesce(d.entries, 0), d.digest,
       CASE WHEN ch.ranking_id IS NULL THEN old.new_entries ELSE coalesce(c.new_entries, 0) END,
       CASE WHEN ch.ranking_id IS NULL THEN old.re_entries ELSE coalesce(c.re_entries, 0) END,
       CASE WHEN ch.ranking_id IS NULL THEN old.climbers ELSE coalesce(c.climbers, 0) END,
       CASE WHEN ch.ranking_id IS NULL THEN old.fallers ELSE coalesce(c.fallers, 0) END,
       CASE WHEN ch.ranking_id IS NULL THEN old.unchanged ELSE coalesce(c.unchanged, 0) END,
       (SELECT count(*) FROM chart_exits x WHERE x.exit_ranking_id = s.ranking_id)
FROM _trend_sequence s
JOIN _trend_start st ON st.chart_id = s.chart_id AND s.sequence_number >= st.start_number
LEFT JOIN _trend_digests d ON d.ranking_id = s.ranking_id
LEFT JOIN _trend_changed ch ON ch.ranking_id = s.ranking_id
LEFT JOIN _trend_counts c ON c.ranking_id = s.ranking_id
LEFT JOIN chart_trend_rankings old ON old.ranking_id = s.ranking_id
ON CONFLICT (ranking_id) DO UPDATE SET
    chart_id = EXCLUDED.chart_id, ranking_date = EXCLUDED.ranking_date,
    sequence_number = EXCLUDED.sequence_number, previous_ranking_id = EXCLUDED.previous_ranking_id,
    source_fetched_at = EXCLUDED.source_fetched_at, entries = EXCLUDED.entries,
    entries_digest = EXCLUDED.entries_digest, new_entries = EXCLUDED.new_entries,
    re_entries = EXCLUDED.re_entries, climbers = EXCLUDED.climbers, fallers = EXCLUDED.fallers,
    unchanged = EXCLUDED.unchanged, exits = EXCLUDED.exits, computed_at = now()
WHERE (t.chart_id, t.ranking_date, t.sequence_number, t.previous_ranking_id, t.source_fetched_at, t.entries,
       t.entries_digest, t.new_entries, t.re_entries, t.climbers, t.fallers, t.unchanged, t.exits)
    IS DISTINCT FROM
      (EXCLUDED.chart_id, EXCLUDED.ranking_date, EXCLUDED.sequence_number, EXCLUDED.previous_ranking_id,
       EXCLUDED.source_fetched_at, EXCLUDED.entries, EXCLUDED.entries_digest, EXCLUDED.new_entries,
       EXCLUDED.re_entries, EXCLUDED.climbers, EXCLUDED.fallers, EXCLUDED.unchanged, EXCLUDED.exits)
"""


@dataclass(frozen=True)
class TrendRefresh:
    """What one refresh did: charts and rankings recomputed, rows written."""

    charts: int
    rankings_recomputed: int  # rankings whose figures were computed
    rankings_rewritten: int  # ... of which the stored rows differed (deleted and written again)
    entries_written: int
    entries_deleted: int
    summaries_written: int
    ranking_days: tuple[str, ...] = ()  # UTC dates (ISO) of the recomputed rankings

    def as_xcom(self) -> dict[str, Any]:
        values = asdict(self)
        values["ranking_days"] = list(self.ranking_days)
        return values


def refresh_chart_trends(
    conn: psycopg.Connection, chart_ids: Sequence[int] | None = None, *, force: bool = False
) -> TrendRefresh:
    """Bring the trends of ``chart_ids`` (every chart when None) up to date, in one transaction.

    ``force`` recomputes every ranking of those charts (still writing only rows that differ).
    """
    ids = sorted(set(chart_ids)) if chart_ids is not None else None
    params = {"chart_ids": ids, "force": force}
    with conn.transaction(), conn.cursor() as cur:
        # The window statements are estimated expensive; JIT compilation costs more than it saves here.
        cur.execute("SET LOCAL jit = off")
        # The window sort of a full recompute (1.46M entries ~ 100 MB) spills to disk at the default 4 MB.
        cur.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
        cur.execute(_SEQUENCE_SQL, params)
        cur.execute(_START_SQL, params)
        starts = cur.execute("SELECT chart_id, start_number FROM _trend_start ORDER BY chart_id").fetchall()
        if not starts:
            return TrendRefresh(0, 0, 0, 0, 0, 0)
        for chart_id, _ in starts:
            cur.execute("SELECT pg_advisory_xact_lock(%s, %s::integer)", (TREND_LOCK_NAMESPACE, chart_id))
        cur.execute("ANALYZE _trend_sequence")
        cur.execute("ANALYZE _trend_start")
        charts_row = cur.execute("SELECT count(DISTINCT chart_id) FROM _trend_sequence").fetchone()
        charts_stored = charts_row[0] if charts_row else 0
        # Every stored chart restarts at its first ranking: read every entry, no track filter.
        from_first = len(starts) == charts_stored and all(start == 1 for _, start in starts)
        if from_first:
            entries_sql = _ENTRIES_ALL
        else:
            cur.execute(_TRACKS_SQL)
            cur.execute("ANALYZE _trend_tracks")
            entries_sql = _ENTRIES_OF_TRACKS
        days = cur.execute(
            "SELECT (s.ranking_date AT TIME ZONE 'UTC')::date FROM _trend_sequence s JOIN _trend_start st"
            " ON st.chart_id = s.chart_id AND s.sequence_number >= st.start_number"
        ).fetchall()
        recomputed = len(days)
        windowed = _WINDOWED_SQL.format(entries=entries_sql)
        cur.execute(_DIGESTS_SQL.format(entries=entries_sql, from_start="" if from_first else _FROM_START))
        cur.execute(_CHANGED_SQL)
        changed = cur.rowcount
        deleted = written = 0
        if changed:
            cur.execute(_DELETE_CHANGED_SQL)
            deleted = cur.rowcount
            cur.execute(_INSERT_CHANGED_SQL.format(windowed=windowed))
            written = cur.rowcount
        cur.execute(_COUNTS_SQL)
        cur.execute(_UPSERT_SUMMARIES_SQL)
        summaries = cur.rowcount
    ranking_days = tuple(sorted({day.isoformat() for (day,) in days}))
    return TrendRefresh(len(starts), recomputed, changed, written, deleted, summaries, ranking_days)
