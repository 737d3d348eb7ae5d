"""Set-based loading of chart rankings into the product database.

:func:`load_rankings` stores one or more complete rankings (all pages of a chart date each) of one chart in
ONE transaction; :func:`load_ranking`, what a DAG run calls for its period, is the same path with one ranking.

1. a per-chart advisory lock is taken, so that loads of neighbouring rankings of the same chart never compute
   exits from each other's half state; the platform and the chart are upserted (from ``ranking.chart``);
2. the songs are upserted into ``tracks`` (uuid, name, credit name, image; metadata fields untouched) and
   their ids come back, each row held with ``FOR KEY SHARE`` until commit, as a foreign key check would;
3. the ranking rows are upserted on their natural key (chart, ranking date = ``related.date``);
4. the entries of a ranking stored for the first time are COPYed straight into ``ranking_entries``; those of
   a ranking already stored are COPYed into a temporary table and replaced set-based: positions no longer
   present are deleted, rows that differ are upserted, identical rows are not touched at all;
5. exits are brought up to date at every loaded ranking and at the ranking that follows each of them: those
   at a new ranking whose previous ranking is in the same batch are derived in memory and COPYed (nothing
   is stored at a new ranking yet), all others are recomputed set-based from the stored entries
   (:mod:`musiccharts.charts.exits`).

Every ranking is validated whole before the transaction opens (:mod:`musiccharts.charts.validation`): an
empty ranking, a gap, a repeated position or song, more entries than the chart holds, or a documented field
missing from the payload is refused and nothing is written. A value the API stops sending (null) never
replaces a stored chart or track value, and track names the metadata DAG wrote are never overwritten, even
by a load that runs at the same time.

Steps 1-3 travel as one pipeline (one network round trip), step 5's statement with step 4's replacement.
Every write is conditional on a real difference, so loading the same ranking twice changes no row (the tables
stay byte-identical, ``updated_at`` included), and because exits are derived from neighbours by
``ranking_date``, loading rankings out of order gives the same result as loading them in order.

``ranking_entries`` and ``chart_exits`` have no row-level foreign keys (migration 0002 says why: they cost
more than the raw COPY of the rows); this loader is their writer, resolves every id inside the transaction
and holds the rows they point to, statement-level triggers keep deletes of rankings (cascade) and tracks
(restrict) consistent, and ``quality.check_ranking_quality`` verifies every stored ranking's references.

Measured by ``bench/bench_ranking_load.py`` (100,000 entries): one ``load_rankings`` call runs at ~0.55x the
rate of a raw COPY of the same rows into a bare table; one ``load_ranking`` per ranking, as DAG runs do, at
~0.4x a raw COPY that also commits once per ranking.

Bugs of the original system that must not come back (origin-inventory §1.3, §4.4): all entries are stored,
not only the first page; the ranking date is the response's ``related.date``, not the requested date;
entries are never deleted and re-inserted row by row; the stream count (``metric``) is a column.

The API is pure: it receives a psycopg connection and imports nothing from Airflow.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import msgspec
import psycopg
from psycopg.types.json import Jsonb

from musiccharts.charts.exits import (
    COPY_EXITS_SQL,
    RECOMPUTE_EXITS_SQL,
    StoredRanking,
    exits_within_batch,
    following_ids,
)
from musiccharts.charts.quality import _require_aware, check_ranking_quality, is_period_complete
from musiccharts.charts.validation import validate_ranking
from musiccharts.soundcharts.models import ChartRanking

# Kept importable from here: callers of the batch path read the checks next to it.
__all__ = [
    "CHART_LOAD_LOCK_NAMESPACE",
    "ChartLoadLockTimeout",
    "LoadResult",
    "RankingLoad",
    "check_ranking_quality",
    "is_period_complete",
    "load_ranking",
    "load_rankings",
]

# Namespace (first key) of the transaction-level advisory lock that serialises loads of one chart. The second
# key is hashtext(slug): the lock is taken before the chart row may exist, and a collision between two slugs
# only serialises two unrelated loads.
CHART_LOAD_LOCK_NAMESPACE = 0x6D63_6C64  # "mcld"

# msgspec (installed with Airflow) encodes JSON several times faster than json.dumps; the stored jsonb is the
# same value.
_encode_json = msgspec.json.Encoder().encode

_LOCK_CHART_SQL = "SELECT pg_advisory_xact_lock(%(lock_namespace)s, hashtext(%(slug)s))"

# The statements below are estimated expensive on a large load (the planner cannot see that each one touches
# a few rankings' rows through an index), which makes PostgreSQL JIT-compile them: measured, ~0.3 s of
# compilation for a 0.1 s statement. SET LOCAL ends with the transaction.
_NO_JIT_SQL = "SET LOCAL jit = off"

# The platform is created by its code when unknown (the catalogue DAG later fills its display name and is
# never overwritten here). It is its own statement so that the chart upsert, in the next one, sees a platform
# that a concurrent transaction has just committed (READ COMMITTED: a fresh snapshot per statement).
_INSERT_PLATFORM_SQL = """
INSERT INTO platforms (slug, name) VALUES (%(platform)s, %(platform)s) ON CONFLICT (slug) DO NOTHING
"""

# A chart first seen through a ranking is being synced, hence sync_enabled; on conflict only the descriptive
# columns follow the API, while sync_enabled, first_seen_at and raw stay owned by the catalogue refresh.
_UPSERT_CHART_SQL = """
INSERT INTO charts (slug, platform_id, name, country_code, frequency, max_entries, web_url, metric_type,
                    sync_enabled, raw)
SELECT %(slug)s, p.id, %(chart_name)s, %(country_code)s, %(frequency)s, %(max_entries)s, %(web_url)s,
       %(metric_type)s, true, %(chart_raw)s
FROM platforms p WHERE p.slug = %(platform)s
ON CONFLICT (slug) DO UPDATE SET
    platform_id = EXCLUDED.platform_id, name = EXCLUDED.name, country_code = EXCLUDED.country_code,
    frequency = EXCLUDED.frequency, max_entries = coalesce(EXCLUDED.max_entries, charts.max_entries),
    web_url = coalesce(EXCLUDED.web_url, charts.web_url),
    metric_type = coalesce(EXCLUDED.metric_type, charts.metric_type)
WHERE (charts.platform_id, charts.name, charts.country_code, charts.frequency, charts.max_entries,
       charts.web_url, charts.metric_type)
    IS DISTINCT FROM
      (EXCLUDED.platform_id, EXCLUDED.name, EXCLUDED.country_code, EXCLUDED.frequency,
       coalesce(EXCLUDED.max_entries, charts.max_entries), coalesce(EXCLUDED.web_url, charts.web_url),
       coalesce(EXCLUDED.metric_type, charts.metric_type))
"""

# New tracks are inserted; known ones are updated only when a value differs, and a null never replaces a
# stored value. The metadata DAG owns name/credit/image once it has fetched a track (metadata_fetched_at
# set): rankings then never overwrite them, which also keeps the two loaders from flipping a value back and
# forth. The UPDATE tests metadata_fetched_at again on the row it writes: should the metadata DAG commit
# between this statement's snapshot and its write, READ COMMITTED re-evaluates the condition on the newest
# row version, so the metadata names win. Unchanged tracks are not written (no new row version); FOR KEY
# SHARE keeps every returned track from being deleted before commit.
# A uuid that a concurrent transaction inserted first comes back from neither branch: the caller looks it up
# again in a later statement, which sees that transaction's commit.
_UPSERT_TRACKS_SQL = """
WITH songs AS MATERIALIZED (
    SELECT x.song_uuid, x.song_name, x.credit_name, x.image_url, known.id AS track_id,
           known.metadata_fetched_at IS NULL
               AND (known.name, known.credit_name, known.image_url)
                   IS DISTINCT FROM (x.song_name, coalesce(x.credit_name, known.credit_name),
                                     coalesce(x.image_url, known.image_url)) AS changed
    FROM jsonb_to_recordset(%(songs)s::jsonb)
        AS x(song_uuid text, song_name text, credit_name text, image_url text)
    -- LATERAL ... LIMIT 1 pins an index lookup per song, whatever the (often stale) statistics suggest:
    -- a hash join would read the whole tracks table on every load.
    LEFT JOIN LATERAL (
        SELECT t.id, t.name, t.credit_name, t.image_url, t.metadata_fetched_at
        FROM tracks t WHERE t.uuid = x.song_uuid LIMIT 1 FOR KEY SHARE
    ) known ON true
), inserted AS (
    INSERT INTO tracks (uuid, name, credit_name, image_url)
    SELECT song_uuid, song_name, credit_name, image_url FROM songs WHERE track_id IS NULL
    ORDER BY song_uuid
    ON CONFLICT (uuid) DO NOTHING
    RETURNING uuid, id
), updated AS (
    UPDATE tracks t SET name = s.song_name, credit_name = coalesce(s.credit_name, t.credit_name),
                        image_url = coalesce(s.image_url, t.image_url)
    FROM songs s
    WHERE t.id = s.track_id AND s.changed AND t.metadata_fetched_at IS NULL
      AND t.id = ANY (ARRAY(SELECT track_id FROM songs WHERE changed))
    RETURNING 1
)
SELECT song_uuid, track_id, false AS inserted FROM songs WHERE track_id IS NOT NULL
UNION ALL
SELECT uuid, id, true FROM inserted
"""

_LOOKUP_TRACKS_SQL = "SELECT uuid, id, false FROM tracks WHERE uuid = ANY (%(uuids)s::text[]) FOR KEY SHARE"

# fetched_at says when the stored content was last written: it moves only together with a real change (here,
# or in the entries replacement below). ``xmax = 0`` tells a row this statement inserted from one it updated.
_UPSERT_RANKINGS_SQL = """
WITH chart AS (
    SELECT id FROM charts WHERE slug = %(slug)s
), input AS (
    SELECT x.* FROM jsonb_to_recordset(%(rankings)s::jsonb) AS x(
        ranking_date timestamptz, period_start timestamptz, period_end timestamptz, expected_entries integer,
        entry_count integer, raw_pages jsonb
    )
), upserted AS (
    INSERT INTO rankings (chart_id, ranking_date, period_start, period_end, expected_entries, entry_count,
                          raw_pages)
    SELECT chart.id, x.ranking_date, x.period_start, x.period_end, x.expected_entries, x.entry_count,
           x.raw_pages
    FROM input x, chart
    ORDER BY x.ranking_date
    ON CONFLICT (chart_id, ranking_date) DO UPDATE SET
        period_start = EXCLUDED.period_start, period_end = EXCLUDED.period_end,
        expected_entries = EXCLUDED.expected_entries, entry_count = EXCLUDED.entry_count,
        raw_pages = EXCLUDED.raw_pages, fetched_at = now()
    WHERE (rankings.period_start, rankings.period_end, rankings.expected_entries, rankings.entry_count,
           rankings.raw_pages)
        IS DISTINCT FROM
          (EXCLUDED.period_start, EXCLUDED.period_end, EXCLUDED.expected_entries, EXCLUDED.entry_count,
           EXCLUDED.raw_pages)
    RETURNING id, ranking_date, xmax = 0 AS inserted
), stored AS (
    SELECT id, ranking_date, inserted, true AS changed FROM upserted
    UNION ALL
    SELECT known.id, known.ranking_date, false, false
    FROM input x
    CROSS JOIN LATERAL (
        -- One probe of the (chart_id, ranking_date) key per ranking: LIMIT 1 (the key is unique anyway)
        -- keeps the planner from flattening this into a hash join over every ranking of every chart.
        SELECT r.id, r.ranking_date FROM rankings r
        WHERE r.chart_id = (SELECT id FROM chart) AND r.ranking_date = x.ranking_date
        LIMIT 1
    ) known
    WHERE known.id NOT IN (SELECT id FROM upserted)
)
-- The date of the ranking before each one among those stored before this statement (rankings this statement
-- inserts are not visible to it): the loader uses it to tell which neighbours are in its own batch.
SELECT s.id, s.ranking_date, s.inserted, s.changed, (SELECT id FROM chart) AS chart_id,
       (SELECT max(r.ranking_date) FROM rankings r
        WHERE r.chart_id = (SELECT id FROM chart) AND r.ranking_date < s.ranking_date) AS stored_before
FROM stored s
"""

# Order of the values of every entry row written, by COPY or from the temporary table.
_ENTRY_COLUMNS = (
    "ranking_id",
    "position",
    "track_id",
    "previous_position",
    "position_evolution",
    "metric",
    "time_on_chart",
    "time_on_chart_unit",
    "entry_state",
    "entry_date",
    "rank_date",
    "raw",
)
_ENTRY_VALUE_COLUMNS = _ENTRY_COLUMNS[2:]  # everything but the key (ranking_id, position)

_COPY_ENTRIES_SQL = f"COPY ranking_entries ({', '.join(_ENTRY_COLUMNS)}) FROM STDIN"

_REPLACEMENT_TABLE = "_ranking_entries_replacement"

# Lives as long as the session (ON COMMIT DELETE ROWS empties it at every commit): not creating and dropping
# a table per load keeps the catalogue quiet. The DELETE covers a second load inside one caller-held
# transaction (savepoints, no commit between).
_PREPARE_REPLACEMENT_SQL = f"""
CREATE TEMP TABLE IF NOT EXISTS {_REPLACEMENT_TABLE} (
    ranking_id bigint NOT NULL,
    position integer NOT NULL,
    track_id bigint NOT NULL,
    previous_position integer,
    position_evolution integer,
    metric numeric,
    time_on_chart integer,
    time_on_chart_unit text,
    entry_state text,
    entry_date timestamptz,
    rank_date timestamptz,
    raw jsonb,
    PRIMARY KEY (ranking_id, position)
) ON COMMIT DELETE ROWS;
DELETE FROM {_REPLACEMENT_TABLE}
"""

_COPY_REPLACEMENT_SQL = f"COPY {_REPLACEMENT_TABLE} ({', '.join(_ENTRY_COLUMNS)}) FROM STDIN"


def _same_entry(left: str, right: str) -> str:
    return (
        f"({', '.join(f'{left}.{column}' for column in _ENTRY_VALUE_COLUMNS)})"
        f" IS NOT DISTINCT FROM ({', '.join(f'{right}.{column}' for column in _ENTRY_VALUE_COLUMNS)})"
    )


# The entries of rankings already stored are brought to exactly the new set: positions no longer present are
# deleted, rows that differ are inserted or updated (the two sets are disjoint), identical rows are left
# alone (not even locked). A ranking whose entries changed while its own row did not gets its fetched_at
# moved (now() is the transaction's start, so a ranking the upsert already touched is not updated twice).
_REPLACE_ENTRIES_SQL = f"""
WITH deleted AS (
    DELETE FROM ranking_entries e
    WHERE e.ranking_id = ANY (%(ranking_ids)s::bigint[])
      AND NOT EXISTS (
          SELECT FROM {_REPLACEMENT_TABLE} x WHERE x.ranking_id = e.ranking_id AND x.position = e.position
      )
    RETURNING e.ranking_id
), written AS (
    INSERT INTO ranking_entries ({", ".join(_ENTRY_COLUMNS)})
    SELECT {", ".join(f"x.{column}" for column in _ENTRY_COLUMNS)}
    FROM {_REPLACEMENT_TABLE} x
    WHERE NOT EXISTS (
        -- The ANY() keeps the planner on the primary key: the temporary table has no statistics, and an
        -- anti-join estimated from them would hash the whole entries table.
        SELECT FROM ranking_entries e
        WHERE e.ranking_id = ANY (%(ranking_ids)s::bigint[])
          AND e.ranking_id = x.ranking_id AND e.position = x.position AND {_same_entry("e", "x")}
    )
    ORDER BY x.ranking_id, x.position
    ON CONFLICT (ranking_id, position) DO UPDATE SET
        {", ".join(f"{column} = EXCLUDED.{column}" for column in _ENTRY_VALUE_COLUMNS)}
    RETURNING ranking_id
), touched AS (
    UPDATE rankings r SET fetched_at = now()
    WHERE r.id = ANY (%(ranking_ids)s::bigint[])
      AND r.id IN (SELECT ranking_id FROM written UNION SELECT ranking_id FROM deleted)
      AND r.fetched_at IS DISTINCT FROM now()
    RETURNING r.id
)
SELECT r.id,
       (SELECT count(*) FROM written w WHERE w.ranking_id = r.id),
       (SELECT count(*) FROM deleted d WHERE d.ranking_id = r.id),
       EXISTS (SELECT FROM touched t WHERE t.id = r.id)
FROM unnest(%(ranking_ids)s::bigint[]) AS r(id)
"""


class ChartLoadLockTimeout(TimeoutError):
    """The chart's load lock (or a track row lock) was not granted within the session's ``lock_timeout``."""


@dataclass(frozen=True)
class RankingLoad:
    """One ranking to store, with the data interval of the DAG run it belongs to."""

    ranking: ChartRanking
    period_start: datetime
    period_end: datetime


@dataclass(frozen=True)
class LoadResult:
    """What loading one ranking stored.

    ``entries`` is the size of the stored ranking; the other counts are rows this call actually inserted or
    changed, so a rerun with identical data reports zeros there. Exits count those at this ranking and at the
    one following it.
    """

    ranking_id: int
    ranking_date: datetime
    entries: int
    new_tracks: int
    exits_recorded: int
    entries_changed: int = 0
    entries_deleted: int = 0
    exits_removed: int = 0
    ranking_changed: bool = False

    def as_xcom(self) -> dict[str, Any]:
        """A small JSON-serialisable summary (ids and counts only)."""
        result = asdict(self)
        result["ranking_date"] = self.ranking_date.isoformat()
        return result


def _validate(chart_slug: str, loads: Sequence[RankingLoad]) -> None:
    """Refuse the whole batch before any write when one ranking is invalid (the message names it)."""
    dates = Counter()
    for load in loads:
        ranking = load.ranking
        if ranking.chart.slug != chart_slug:
            raise ValueError(
                f"ranking of chart {ranking.chart.slug!r} cannot be loaded as chart {chart_slug!r}"
            )
        _require_aware("period_start", load.period_start)
        _require_aware("period_end", load.period_end)
        _require_aware("ranking.date", ranking.date)
        if load.period_end <= load.period_start:
            raise ValueError(f"empty period [{load.period_start.isoformat()}, {load.period_end.isoformat()})")
        validate_ranking(ranking)
        dates[ranking.date] += 1
    repeated = sorted(date for date, times in dates.items() if times > 1)
    if repeated:
        raise ValueError(
            f"{chart_slug}: the ranking of {repeated[0].isoformat()} is given {dates[repeated[0]]} times"
        )


def _raw_items(ranking: ChartRanking) -> list[Any]:
    """Each item exactly as the API sent it, in the order of ``ranking.items`` (found by position)."""
    raw_by_position: dict[int, Any] = {}
    for page in ranking.raw_pages:
        items = page.get("items") if isinstance(page, dict) else None
        for item in items or ():
            if isinstance(item, dict) and isinstance(item.get("position"), int):
                raw_by_position.setdefault(item["position"], item)
    return [
        raw_by_position.get(item.position) or item.model_dump(mode="json", by_alias=True)
        for item in ranking.items
    ]


def _page_envelopes(ranking: ChartRanking) -> list[Any]:
    """The raw pages without their items: each item is kept once, as ``ranking_entries.raw``.

    Page n's items are the entries at positions ``page.offset + 1 .. page.offset + len``, so every response
    can be rebuilt exactly; storing the items twice would double the JSON written per load.
    """
    envelopes = []
    for page in ranking.raw_pages:
        if isinstance(page, dict) and "items" in page:
            envelope = {key: value for key, value in page.items() if key != "items"}
            envelope["item_count"] = len(page["items"]) if isinstance(page["items"], list) else None
            envelopes.append(envelope)
        else:
            envelopes.append(page)
    return envelopes


def _metric(value: float | None) -> int | float | None:
    # The models parse every metric as float; integral stream counts go back to ints so that the numeric
    # column keeps no spurious ".0" scale.
    if value is not None and value.is_integer():
        return int(value)
    return value


def _song_uuids(loads: Sequence[RankingLoad]) -> list[list[str]]:
    """Per load, the lower-case uuid of each item (computed once: every step below needs them)."""
    return [[item.song.uuid.lower() for item in load.ranking.items] for load in loads]


def _songs(loads: Sequence[RankingLoad], song_uuids: list[list[str]]) -> dict[str, dict[str, Any]]:
    """The distinct songs of the rankings by lower-case uuid. A song named differently in two rankings takes
    its name from the latest ranking, and within one ranking from its best position: what loading the
    rankings one by one, in date order, would store."""
    songs: dict[str, dict[str, Any]] = {}
    latest_first = sorted(range(len(loads)), key=lambda index: loads[index].ranking.date, reverse=True)
    for index in latest_first:
        items = loads[index].ranking.items
        for position_order in sorted(range(len(items)), key=lambda i: items[i].position):
            song_uuid = song_uuids[index][position_order]
            if song_uuid not in songs:  # the first one seen is the latest ranking's, at its best position
                song = items[position_order].song
                songs[song_uuid] = {
                    "song_uuid": song_uuid,
                    "song_name": song.name,
                    "credit_name": song.credit_name,
                    "image_url": song.image_url,
                }
    return songs


def _chart_params(chart_slug: str, ranking: ChartRanking) -> dict[str, Any]:
    chart = ranking.chart
    return {
        "lock_namespace": CHART_LOAD_LOCK_NAMESPACE,
        "slug": chart_slug,
        "platform": chart.platform,
        "chart_name": chart.name,
        "country_code": chart.country_code or None,  # worldwide charts send ""
        "frequency": chart.frequency,
        "max_entries": chart.max_results_count,
        "web_url": chart.web_url,
        "metric_type": chart.metric.type if chart.metric else None,
        "chart_raw": Jsonb(chart.model_dump(mode="json", by_alias=True), dumps=_encode_json),
    }


def _ranking_records(loads: Sequence[RankingLoad]) -> list[dict[str, Any]]:
    return [
        {
            # ISO strings: Airflow hands out pendulum DateTimes, a datetime subclass JSON encoders refuse.
            "ranking_date": load.ranking.date.isoformat(),
            "period_start": load.period_start.isoformat(),
            "period_end": load.period_end.isoformat(),
            "expected_entries": load.ranking.total,
            "entry_count": len(load.ranking.items),
            "raw_pages": _page_envelopes(load.ranking),
        }
        for load in loads
    ]


def _entry_rows(
    ranking_id: int, ranking: ChartRanking, song_uuids: list[str], track_ids: dict[str, int]
) -> Iterable[tuple]:
    """The rows of one ranking's entries, in ``_ENTRY_COLUMNS`` order."""
    for item, song_uuid, raw in zip(ranking.items, song_uuids, _raw_items(ranking), strict=True):
        yield (
            ranking_id,
            item.position,
            track_ids[song_uuid],
            item.old_position or None,  # 0 means "not on the previous ranking": positions start at 1
            item.position_evolution,
            _metric(item.metric),
            item.time_on_chart,
            item.time_on_chart_unit or None,
            item.entry_state or None,
            item.entry_date,
            item.rank_date,
            _encode_json(raw).decode(),
        )


def _copy_entries(cur: psycopg.Cursor, statement: str, rows: Iterable[tuple]) -> None:
    with cur.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def load_ranking(
    conn: psycopg.Connection,
    ranking: ChartRanking,
    *,
    chart_slug: str,
    period_start: datetime,
    period_end: datetime,
) -> LoadResult:
    """Store one complete ranking (all pages) of ``chart_slug`` atomically; see :func:`load_rankings`.

    ``period_start``/``period_end`` are the DAG run's data interval; the ranking is keyed by its own date
    (``ranking.date`` = ``related.date`` of the response).
    """
    return load_rankings(conn, chart_slug, [RankingLoad(ranking, period_start, period_end)])[0]


def load_rankings(
    conn: psycopg.Connection, chart_slug: str, loads: Sequence[RankingLoad]
) -> list[LoadResult]:
    """Store complete rankings of ``chart_slug`` in one transaction; one result per load, in order.

    Either everything is written or nothing: any error (a duplicate position, a constraint, a lost
    connection) rolls the whole unit back and is raised. The work commits when it returns, unless the caller
    already holds a transaction on ``conn``, in which case it runs as a savepoint inside it and the caller
    commits.
    """
    if not loads:
        return []
    _validate(chart_slug, loads)
    song_uuids = _song_uuids(loads)
    songs = _songs(loads, song_uuids)
    params = {
        **_chart_params(chart_slug, max(loads, key=lambda load: load.ranking.date).ranking),
        "songs": Jsonb(list(songs.values()), dumps=_encode_json),
        "rankings": Jsonb(_ranking_records(loads), dumps=_encode_json),
    }

    with conn.transaction():
        # Lock, platform, chart, tracks and rankings: one pipeline, one round trip. Each statement still runs
        # in order with its own snapshot, and the first failure aborts the rest and rolls everything back.
        try:
            with conn.pipeline():
                conn.execute(_NO_JIT_SQL)
                conn.execute(_LOCK_CHART_SQL, params)
                conn.execute(_INSERT_PLATFORM_SQL, params)
                conn.execute(_UPSERT_CHART_SQL, params)
                tracks_cursor = conn.execute(_UPSERT_TRACKS_SQL, params)
                rankings_cursor = conn.execute(_UPSERT_RANKINGS_SQL, params)
        except psycopg.errors.LockNotAvailable as error:
            raise ChartLoadLockTimeout(
                f"chart {chart_slug}: a lock was not granted within the session's lock_timeout: another "
                "load of this chart (its advisory lock) or of its tracks is still running; nothing was "
                "written, a later try will load it"
            ) from error
        tracks = tracks_cursor.fetchall()
        missing = set(songs) - {song_uuid for song_uuid, _id, _inserted in tracks}
        if missing:
            tracks += conn.execute(_LOOKUP_TRACKS_SQL, {"uuids": sorted(missing)}).fetchall()
        track_ids = {song_uuid: track_id for song_uuid, track_id, _inserted in tracks}
        if len(track_ids) != len(songs):
            raise RuntimeError(
                f"{chart_slug}: tracks {sorted(set(songs) - set(track_ids))} could not be stored"
            )
        new_tracks = _new_tracks_by_date(
            loads, song_uuids, {song_uuid for song_uuid, _id, inserted in tracks if inserted}
        )

        stored_by_date = {row[1]: StoredRanking(*row) for row in rankings_cursor.fetchall()}
        if len(stored_by_date) != len(loads):
            raise RuntimeError(f"chart {chart_slug!r} could not be stored")
        stored = [stored_by_date[load.ranking.date] for load in loads]
        ranking_ids = [ranking.id for ranking in stored]
        fresh = [index for index, ranking in enumerate(stored) if ranking.inserted]
        reloaded = [index for index, ranking in enumerate(stored) if not ranking.inserted]

        def rows_of(indexes: list[int]) -> Iterable[tuple]:
            for index in indexes:
                yield from _entry_rows(ranking_ids[index], loads[index].ranking, song_uuids[index], track_ids)

        batch_exits = exits_within_batch(loads, song_uuids, track_ids, stored)
        with conn.cursor() as cur:
            if fresh:
                # A ranking stored for the first time has no entries yet: straight into the table.
                _copy_entries(cur, _COPY_ENTRIES_SQL, rows_of(fresh))
            if reloaded:
                cur.execute(_PREPARE_REPLACEMENT_SQL)
                _copy_entries(cur, _COPY_REPLACEMENT_SQL, rows_of(reloaded))
            if batch_exits:
                _copy_entries(cur, COPY_EXITS_SQL, (row for rows in batch_exits.values() for row in rows))

        with conn.pipeline():
            replaced_cursor = (
                conn.execute(
                    _REPLACE_ENTRIES_SQL, {"ranking_ids": [ranking_ids[index] for index in reloaded]}
                )
                if reloaded
                else None
            )
            exits_cursor = conn.execute(
                RECOMPUTE_EXITS_SQL, {"ranking_ids": ranking_ids, "computed_ids": list(batch_exits)}
            )
        replaced = {row[0]: row[1:] for row in replaced_cursor.fetchall()} if replaced_cursor else {}
        exits = {row[0]: row[1:] for row in exits_cursor.fetchall()}
        exits.update({exit_id: (0, len(rows)) for exit_id, rows in batch_exits.items() if rows})
        next_ids = following_ids(conn, ranking_ids) if exits else {}

    results = []
    loaded_ids = set(ranking_ids)
    for load, (ranking_id, _date, inserted, changed, _chart_id, _before) in zip(loads, stored, strict=True):
        if inserted:
            entries_changed, entries_deleted, touched = len(load.ranking.items), 0, False
        else:
            entries_changed, entries_deleted, touched = replaced[ranking_id]
        # Exits at the following ranking count here unless that ranking was loaded too (counted there).
        exit_ids = [ranking_id]
        if next_ids.get(ranking_id) not in loaded_ids:
            exit_ids.append(next_ids.get(ranking_id))
        results.append(
            LoadResult(
                ranking_id=ranking_id,
                ranking_date=load.ranking.date,
                entries=len(load.ranking.items),
                new_tracks=new_tracks.get(load.ranking.date, 0),
                exits_recorded=sum(exits.get(exit_id, (0, 0))[1] for exit_id in exit_ids),
                entries_changed=entries_changed,
                entries_deleted=entries_deleted,
                exits_removed=sum(exits.get(exit_id, (0, 0))[0] for exit_id in exit_ids),
                ranking_changed=bool(changed or touched),
            )
        )
    return results


def _new_tracks_by_date(
    loads: Sequence[RankingLoad], song_uuids: list[list[str]], new_uuids: set[str]
) -> dict[datetime, int]:
    """How many of the new tracks each ranking brought: a track counts for the earliest ranking it is on."""
    if len(loads) == 1:
        return {loads[0].ranking.date: len(new_uuids)}
    counts: dict[datetime, int] = {}
    unassigned = set(new_uuids)
    for index in sorted(range(len(loads)), key=lambda index: loads[index].ranking.date):
        mine = unassigned.intersection(song_uuids[index])
        counts[loads[index].ranking.date] = len(mine)
        unassigned -= mine
    return counts
