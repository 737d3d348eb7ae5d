"""Set-based loading of one chart ranking into the product database, plus the checks around it.

One ranking (all pages of one chart date) is one unit of work, written in ONE transaction:

1. the platform and the chart are upserted (from ``ranking.chart``), and a per-chart advisory lock is taken so
   that loads of neighbouring rankings of the same chart never compute exits from each other's half state;
2. the entries are COPYed into a temporary table;
3. the referenced tracks are upserted (uuid, name, credit name, image) without touching metadata fields;
4. the ranking row is upserted on its natural key (chart, ranking date = ``related.date`` of the response);
5. the ranking's entries are replaced set-based: entries at positions no longer present are deleted, the rest
   are ``INSERT ... ON CONFLICT (ranking_id, position) DO UPDATE ... WHERE`` values differ;
6. exits are recomputed for the pairs (previous ranking, this) and (this, next ranking) of the chart.

Every write is conditional on a real difference, so loading the same ranking twice changes no row (the tables
stay byte-identical, ``updated_at`` included), and because exits are derived from neighbours by
``ranking_date``, loading rankings out of order gives the same result as loading them in order.

Bugs of the original system that must not come back (origin-inventory §1.3, §4.4): all entries are stored,
not only the first page; the ranking date is the response's ``related.date``, not the requested date;
entries are never deleted and re-inserted row by row; the stream count (``metric``) is a column.

The API is pure: it receives a psycopg connection and imports nothing from Airflow.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from musiccharts.soundcharts.models import ChartRanking, RankingItem

# Namespace (first key) of the transaction-level advisory lock that serialises loads of one chart.
CHART_LOAD_LOCK_NAMESPACE = 0x6D63_6C64  # "mcld"

_STAGING_TABLE = "_ranking_load"

_STAGING_COLUMNS = (
    "position",
    "song_uuid",
    "song_name",
    "credit_name",
    "image_url",
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

# The staging table lives as long as the session (ON COMMIT DELETE ROWS empties it at every commit): not
# creating and dropping a table per load keeps the catalogue quiet and lets prepared statements keep their
# plans. The DELETE covers a second load inside one caller-held transaction (savepoints, no commit between).
_PREPARE_STAGING_SQL = f"""
CREATE TEMP TABLE IF NOT EXISTS {_STAGING_TABLE} (
    position integer NOT NULL,
    song_uuid text NOT NULL,
    song_name text NOT NULL,
    credit_name text,
    image_url text,
    previous_position integer,
    position_evolution integer,
    metric numeric,
    time_on_chart integer,
    time_on_chart_unit text,
    entry_state text,
    entry_date timestamptz,
    rank_date timestamptz,
    raw jsonb
) ON COMMIT DELETE ROWS;
DELETE FROM {_STAGING_TABLE}
"""

# The platform is created by its code when unknown (the catalogue DAG later fills its display name and is
# never overwritten here). A chart first seen through a ranking is being synced, hence sync_enabled; on
# conflict only the descriptive columns follow the API, while sync_enabled, first_seen_at and raw stay
# owned by the catalogue refresh.
_UPSERT_CHART_SQL = """
WITH platform_insert AS (
    INSERT INTO platforms (slug, name) VALUES (%(platform)s, %(platform)s)
    ON CONFLICT (slug) DO NOTHING
    RETURNING id
), platform AS (
    SELECT id FROM platform_insert
    UNION ALL
    SELECT id FROM platforms WHERE slug = %(platform)s
    LIMIT 1
), chart_upsert AS (
    INSERT INTO charts (slug, platform_id, name, country_code, frequency, max_entries, web_url, metric_type,
                        sync_enabled, raw)
    SELECT %(slug)s, platform.id, %(name)s, %(country_code)s, %(frequency)s, %(max_entries)s, %(web_url)s,
           %(metric_type)s, true, %(raw)s
    FROM platform
    ON CONFLICT (slug) DO UPDATE SET
        platform_id = EXCLUDED.platform_id, name = EXCLUDED.name, country_code = EXCLUDED.country_code,
        frequency = EXCLUDED.frequency, max_entries = EXCLUDED.max_entries, web_url = EXCLUDED.web_url,
        metric_type = EXCLUDED.metric_type
    WHERE (charts.platform_id, charts.name, charts.country_code, charts.frequency, charts.max_entries,
           charts.web_url, charts.metric_type)
        IS DISTINCT FROM
          (EXCLUDED.platform_id, EXCLUDED.name, EXCLUDED.country_code, EXCLUDED.frequency,
           EXCLUDED.max_entries, EXCLUDED.web_url, EXCLUDED.metric_type)
    RETURNING id
), chart AS (
    SELECT id FROM chart_upsert
    UNION ALL
    SELECT id FROM charts WHERE slug = %(slug)s
    LIMIT 1
)
SELECT chart.id, pg_advisory_xact_lock(%(lock_namespace)s, chart.id::integer) FROM chart
"""

# New tracks are inserted; known ones are updated only when a value differs. The metadata DAG owns
# name/credit/image once it has fetched a track (metadata_fetched_at set): rankings then never overwrite
# them, which also keeps the two loaders from flipping a value back and forth. Unchanged tracks are not
# touched at all (no row lock, no new row version): most songs of a ranking were on the previous one.
_UPSERT_TRACKS_SQL = f"""
WITH songs AS MATERIALIZED (
    SELECT DISTINCT ON (x.song_uuid)
           x.song_uuid, x.song_name, x.credit_name, x.image_url, known.id AS track_id,
           known.metadata_fetched_at IS NULL
               AND (known.name, known.credit_name, known.image_url)
                   IS DISTINCT FROM (x.song_name, x.credit_name, x.image_url) AS changed
    FROM {_STAGING_TABLE} x
    -- LATERAL ... LIMIT 1 pins an index lookup per song, whatever the (often stale) statistics suggest:
    -- a hash join would read the whole tracks table on every load.
    LEFT JOIN LATERAL (
        SELECT t.id, t.name, t.credit_name, t.image_url, t.metadata_fetched_at
        FROM tracks t WHERE t.uuid = x.song_uuid LIMIT 1
    ) known ON true
    ORDER BY x.song_uuid, x.position
), inserted AS (
    INSERT INTO tracks (uuid, name, credit_name, image_url)
    SELECT song_uuid, song_name, credit_name, image_url FROM songs WHERE track_id IS NULL
    ORDER BY song_uuid
    ON CONFLICT (uuid) DO NOTHING
    RETURNING 1
), updated AS (
    UPDATE tracks t SET name = s.song_name, credit_name = s.credit_name, image_url = s.image_url
    FROM songs s
    WHERE t.id = s.track_id AND s.changed
      AND t.id = ANY (ARRAY(SELECT track_id FROM songs WHERE changed))
    RETURNING 1
)
SELECT (SELECT count(*) FROM inserted), (SELECT count(*) FROM updated)
"""

# fetched_at says when the stored content was last written: it moves only together with a real change.
_UPSERT_RANKING_SQL = """
WITH upserted AS (
    INSERT INTO rankings (chart_id, ranking_date, period_start, period_end, expected_entries, entry_count,
                          raw_pages)
    VALUES (%(chart_id)s, %(ranking_date)s, %(period_start)s, %(period_end)s, %(expected_entries)s,
            %(entry_count)s, %(raw_pages)s)
    ON CONFLICT (chart_id, ranking_date) DO UPDATE SET
        period_start = EXCLUDED.period_start, period_end = EXCLUDED.period_end,
        expected_entries = EXCLUDED.expected_entries, entry_count = EXCLUDED.entry_count,
        raw_pages = EXCLUDED.raw_pages, fetched_at = now()
    WHERE (rankings.period_start, rankings.period_end, rankings.expected_entries, rankings.entry_count,
           rankings.raw_pages)
        IS DISTINCT FROM
          (EXCLUDED.period_start, EXCLUDED.period_end, EXCLUDED.expected_entries, EXCLUDED.entry_count,
           EXCLUDED.raw_pages)
    RETURNING id, xmax = 0 AS inserted, true AS changed
), ranking AS (
    SELECT id, inserted, changed FROM upserted
    UNION ALL
    SELECT id, false, false FROM rankings WHERE chart_id = %(chart_id)s AND ranking_date = %(ranking_date)s
    LIMIT 1
)
SELECT ranking.id, ranking.inserted, ranking.changed,
       previous.id, following.id, following.ranking_date
FROM ranking
LEFT JOIN LATERAL (
    SELECT id FROM rankings
    WHERE chart_id = %(chart_id)s AND ranking_date < %(ranking_date)s
    ORDER BY ranking_date DESC LIMIT 1
) previous ON true
LEFT JOIN LATERAL (
    SELECT id, ranking_date FROM rankings
    WHERE chart_id = %(chart_id)s AND ranking_date > %(ranking_date)s
    ORDER BY ranking_date LIMIT 1
) following ON true
"""

_ENTRY_VALUE_COLUMNS = (
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

_SELECT_ENTRIES_SQL = f"""
SELECT %(ranking_id)s, x.position,
       -- A scalar subquery: one index lookup per entry, never a scan of all tracks.
       (SELECT t.id FROM tracks t WHERE t.uuid = x.song_uuid),
       x.previous_position, x.position_evolution, x.metric,
       x.time_on_chart, x.time_on_chart_unit, x.entry_state, x.entry_date, x.rank_date, x.raw
FROM {_STAGING_TABLE} x
ORDER BY x.position
"""

_INSERT_ENTRIES_SQL = f"""
INSERT INTO ranking_entries (ranking_id, position, {", ".join(_ENTRY_VALUE_COLUMNS)})
{_SELECT_ENTRIES_SQL}
"""

_UPSERT_ENTRIES_SQL = f"""
INSERT INTO ranking_entries (ranking_id, position, {", ".join(_ENTRY_VALUE_COLUMNS)})
{_SELECT_ENTRIES_SQL}
ON CONFLICT (ranking_id, position) DO UPDATE SET
    {", ".join(f"{column} = EXCLUDED.{column}" for column in _ENTRY_VALUE_COLUMNS)}
WHERE ({", ".join(f"ranking_entries.{column}" for column in _ENTRY_VALUE_COLUMNS)})
    IS DISTINCT FROM ({", ".join(f"EXCLUDED.{column}" for column in _ENTRY_VALUE_COLUMNS)})
"""

_DELETE_STALE_ENTRIES_SQL = f"""
DELETE FROM ranking_entries e
WHERE e.ranking_id = %(ranking_id)s
  AND NOT EXISTS (SELECT 1 FROM {_STAGING_TABLE} x WHERE x.position = e.position)
"""

_TOUCH_RANKING_SQL = "UPDATE rankings SET fetched_at = now() WHERE id = %(ranking_id)s"

# A track of ranking P that is absent from the next ranking N of the same chart (by ranking_date) exits at N.
# Only the exits at this ranking and at the next one can change when this ranking is (re)loaded; those are
# brought to exactly the desired set (stale rows deleted, missing ones inserted, moved ones updated). The
# neighbours come as parameters, so each side is an index scan of one ranking's ~200 entries whatever the
# table statistics say (NULL ids simply select nothing).
_RECOMPUTE_EXITS_SQL = """
WITH desired AS MATERIALIZED (
    SELECT DISTINCT ON (exit_id, track_id) track_id, last_id, exit_id, position, exit_date
    FROM (
        SELECT e.track_id, e.ranking_id AS last_id, %(this)s::bigint AS exit_id, e.position,
               %(this_date)s::timestamptz AS exit_date
        FROM ranking_entries e
        WHERE %(previous)s::bigint IS NOT NULL AND e.ranking_id = %(previous)s
          AND e.track_id NOT IN (SELECT track_id FROM ranking_entries WHERE ranking_id = %(this)s)
        UNION ALL
        SELECT e.track_id, e.ranking_id, %(next)s::bigint, e.position, %(next_date)s::timestamptz
        FROM ranking_entries e
        WHERE %(next)s::bigint IS NOT NULL AND e.ranking_id = %(this)s
          AND e.track_id NOT IN (SELECT track_id FROM ranking_entries WHERE ranking_id = %(next)s)
    ) candidates
    ORDER BY exit_id, track_id, position
), removed AS (
    DELETE FROM chart_exits x
    WHERE x.exit_ranking_id IN (%(this)s, %(next)s)
      AND NOT EXISTS (SELECT 1 FROM desired d WHERE d.exit_id = x.exit_ranking_id AND d.track_id = x.track_id)
    RETURNING 1
), written AS (
    INSERT INTO chart_exits (chart_id, track_id, last_ranking_id, exit_ranking_id, last_position, exit_date)
    SELECT %(chart_id)s, track_id, last_id, exit_id, position, exit_date FROM desired
    ORDER BY exit_id, track_id
    ON CONFLICT (exit_ranking_id, track_id) DO UPDATE SET
        chart_id = EXCLUDED.chart_id, last_ranking_id = EXCLUDED.last_ranking_id,
        last_position = EXCLUDED.last_position, exit_date = EXCLUDED.exit_date
    WHERE (chart_exits.chart_id, chart_exits.last_ranking_id, chart_exits.last_position,
           chart_exits.exit_date)
        IS DISTINCT FROM
          (EXCLUDED.chart_id, EXCLUDED.last_ranking_id, EXCLUDED.last_position, EXCLUDED.exit_date)
    RETURNING 1
)
SELECT (SELECT count(*) FROM removed), (SELECT count(*) FROM written)
"""


@dataclass(frozen=True)
class LoadResult:
    """What one :func:`load_ranking` call stored.

    ``entries`` is the size of the stored ranking; the other counts are rows this call actually inserted or
    changed, so a rerun with identical data reports zeros there.
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


def _require_aware(name: str, value: datetime) -> None:
    # A naive datetime would be read in the session time zone: silently wrong periods. Refuse it.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")


def _require_unique_positions(ranking: ChartRanking) -> None:
    # Checked here and not left to the database: on a reload, ON CONFLICT ... WHERE values differ would let
    # two items at one position pass when one of them equals the stored row, silently keeping the other.
    occurrences = Counter(item.position for item in ranking.items)
    duplicates = sorted(position for position, times in occurrences.items() if times > 1)
    if duplicates:
        raise ValueError(
            f"{ranking.chart.slug} {ranking.date.isoformat()}: duplicate positions {_listing(duplicates)}"
        )


def _raw_items_by_position(ranking: ChartRanking) -> dict[int, Any]:
    """The items of the raw pages keyed by position: stored per entry exactly as the API sent them."""
    raw_items: dict[int, Any] = {}
    for page in ranking.raw_pages:
        items = page.get("items") if isinstance(page, dict) else None
        for item in items or ():
            if isinstance(item, dict) and isinstance(item.get("position"), int):
                raw_items.setdefault(item["position"], item)
    return raw_items


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


def _staging_rows(ranking: ChartRanking) -> Iterator[tuple[Any, ...]]:
    raw_items = _raw_items_by_position(ranking)
    for item in ranking.items:
        raw = raw_items.get(item.position)
        if raw is None:
            raw = item.model_dump(mode="json", by_alias=True)
        yield _staging_row(item, raw)


def _staging_row(item: RankingItem, raw: Any) -> tuple[Any, ...]:
    song = item.song
    return (
        item.position,
        song.uuid.lower(),
        song.name,
        song.credit_name,
        song.image_url,
        item.old_position or None,  # 0 means "not on the previous ranking": positions start at 1
        item.position_evolution,
        _metric(item.metric),
        item.time_on_chart,
        item.time_on_chart_unit or None,
        item.entry_state or None,
        item.entry_date,
        item.rank_date,
        Jsonb(raw),
    )


def _chart_params(ranking: ChartRanking, chart_slug: str) -> dict[str, Any]:
    chart = ranking.chart
    return {
        "slug": chart_slug,
        "platform": chart.platform,
        "name": chart.name,
        "country_code": chart.country_code or None,  # worldwide charts send ""
        "frequency": chart.frequency,
        "max_entries": chart.max_results_count,
        "web_url": chart.web_url,
        "metric_type": chart.metric.type if chart.metric else None,
        "raw": Jsonb(chart.model_dump(mode="json", by_alias=True)),
        "lock_namespace": CHART_LOAD_LOCK_NAMESPACE,
    }


def load_ranking(
    conn: psycopg.Connection,
    ranking: ChartRanking,
    *,
    chart_slug: str,
    period_start: datetime,
    period_end: datetime,
) -> LoadResult:
    """Store one complete ranking (all pages) of ``chart_slug`` atomically; see the module docstring.

    ``period_start``/``period_end`` are the DAG run's data interval; the ranking is keyed by its own date
    (``ranking.date`` = ``related.date`` of the response). Either everything is written or nothing: any error
    (a duplicate position, a constraint, a lost connection) rolls the whole unit back and is raised. The
    work commits when it returns, unless the caller already holds a transaction on ``conn``, in which case
    it runs as a savepoint inside it and the caller commits.
    """
    if ranking.chart.slug != chart_slug:
        raise ValueError(f"ranking of chart {ranking.chart.slug!r} cannot be loaded as chart {chart_slug!r}")
    _require_aware("period_start", period_start)
    _require_aware("period_end", period_end)
    _require_aware("ranking.date", ranking.date)
    if period_end <= period_start:
        raise ValueError(f"empty period [{period_start.isoformat()}, {period_end.isoformat()})")
    _require_unique_positions(ranking)

    with conn.transaction(), conn.cursor() as cur:
        chart_id = _upsert_chart(cur, ranking, chart_slug)

        cur.execute(_PREPARE_STAGING_SQL)
        with cur.copy(f"COPY {_STAGING_TABLE} ({', '.join(_STAGING_COLUMNS)}) FROM STDIN") as copy:
            for row in _staging_rows(ranking):
                copy.write_row(row)

        new_tracks, _updated_tracks = cur.execute(_UPSERT_TRACKS_SQL).fetchone()

        ranking_id, ranking_inserted, ranking_changed, previous_id, next_id, next_date = cur.execute(
            _UPSERT_RANKING_SQL,
            {
                "chart_id": chart_id,
                "ranking_date": ranking.date,
                "period_start": period_start,
                "period_end": period_end,
                "expected_entries": ranking.total,
                "entry_count": len(ranking.items),
                "raw_pages": Jsonb(_page_envelopes(ranking)),
            },
        ).fetchone()

        entries_deleted = 0
        if ranking_inserted:
            # A brand-new ranking has no entries yet: a plain INSERT (a duplicate position still raises).
            cur.execute(_INSERT_ENTRIES_SQL, {"ranking_id": ranking_id})
            entries_changed = cur.rowcount
        else:
            cur.execute(_DELETE_STALE_ENTRIES_SQL, {"ranking_id": ranking_id})
            entries_deleted = cur.rowcount
            cur.execute(_UPSERT_ENTRIES_SQL, {"ranking_id": ranking_id})
            entries_changed = cur.rowcount
            if (entries_changed or entries_deleted) and not ranking_changed:
                cur.execute(_TOUCH_RANKING_SQL, {"ranking_id": ranking_id})
                ranking_changed = True

        exits_removed, exits_recorded = _recompute_exits(
            cur,
            {
                "chart_id": chart_id,
                "this": ranking_id,
                "this_date": ranking.date,
                "previous": previous_id,
                "next": next_id,
                "next_date": next_date,
            },
        )

    return LoadResult(
        ranking_id=ranking_id,
        ranking_date=ranking.date,
        entries=len(ranking.items),
        new_tracks=new_tracks,
        exits_recorded=exits_recorded,
        entries_changed=entries_changed,
        entries_deleted=entries_deleted,
        exits_removed=exits_removed,
        ranking_changed=bool(ranking_changed),
    )


def _upsert_chart(cur: psycopg.Cursor, ranking: ChartRanking, chart_slug: str) -> int:
    """Upsert platform and chart, take the chart's load lock, return the chart id."""
    params = _chart_params(ranking, chart_slug)
    # When another transaction inserts the same new platform or chart concurrently, ON CONFLICT waits for
    # it, but this statement's snapshot predates its commit and finds no id. The next statement has a fresh
    # snapshot (READ COMMITTED) and sees the committed row; nothing was written by the empty attempt.
    for _attempt in range(3):
        row = cur.execute(_UPSERT_CHART_SQL, params).fetchone()
        if row is not None:
            return row[0]
    raise RuntimeError(f"could not upsert chart {chart_slug!r}: it keeps changing concurrently")


def _recompute_exits(cur: psycopg.Cursor, neighbours: dict[str, Any]) -> tuple[int, int]:
    """Bring the exits at this ranking and at the next one of the chart up to date: (removed, written)."""
    removed, written = cur.execute(_RECOMPUTE_EXITS_SQL, neighbours).fetchone()
    return removed, written


def is_period_complete(
    conn: psycopg.Connection, chart_slug: str, period_start: datetime, period_end: datetime
) -> bool:
    """True when a ranking of the chart dated in ``[period_start, period_end)`` is stored completely.

    Complete means: as many entries stored as the API announced (``expected_entries``), counted from the
    entries themselves, not only from the ranking's ``entry_count``.
    """
    _require_aware("period_start", period_start)
    _require_aware("period_end", period_end)
    row = conn.execute(
        """
        SELECT EXISTS (
            SELECT 1 FROM rankings r JOIN charts c ON c.id = r.chart_id
            WHERE c.slug = %(slug)s
              AND r.ranking_date >= %(start)s AND r.ranking_date < %(end)s
              AND r.expected_entries IS NOT NULL
              AND r.entry_count = r.expected_entries
              AND (SELECT count(*) FROM ranking_entries e WHERE e.ranking_id = r.id) = r.expected_entries
        )
        """,
        {"slug": chart_slug, "start": period_start, "end": period_end},
    ).fetchone()
    return bool(row[0])


_MAX_LISTED = 10  # positions listed in one problem message; the count is always given in full


def _listing(values: list[int]) -> str:
    shown = ", ".join(str(value) for value in values[:_MAX_LISTED])
    return shown + (f", ... ({len(values)} in all)" if len(values) > _MAX_LISTED else "")


def check_ranking_quality(conn: psycopg.Connection, ranking_id: int) -> list[str]:
    """Data-quality problems of a stored ranking, one sentence each; an empty list when it is sound.

    Checked: positions are unique and exactly 1..N; N equals the entry count recorded and the total the API
    announced; N does not exceed the chart's ``max_entries``; no song appears at two positions.
    """
    header = conn.execute(
        """
        SELECT c.slug, r.ranking_date, r.entry_count, r.expected_entries, c.max_entries
        FROM rankings r JOIN charts c ON c.id = r.chart_id WHERE r.id = %s
        """,
        (ranking_id,),
    ).fetchone()
    if header is None:
        return [f"ranking {ranking_id} does not exist"]
    slug, ranking_date, entry_count, expected_entries, max_entries = header
    where = f"{slug} {ranking_date.isoformat()}"

    stored, distinct_positions, max_position = conn.execute(
        "SELECT count(*), count(DISTINCT position), coalesce(max(position), 0)"
        " FROM ranking_entries WHERE ranking_id = %s",
        (ranking_id,),
    ).fetchone()
    problems: list[str] = []

    duplicates = [
        row[0]
        for row in conn.execute(
            "SELECT position FROM ranking_entries WHERE ranking_id = %s"
            " GROUP BY position HAVING count(*) > 1 ORDER BY position",
            (ranking_id,),
        )
    ]
    if duplicates or stored != distinct_positions:
        problems.append(f"{where}: duplicate positions {_listing(duplicates)}")

    missing = [
        row[0]
        for row in conn.execute(
            """
            SELECT expected.position
            FROM generate_series(1, %(last)s) AS expected(position)
            WHERE NOT EXISTS (
                SELECT 1 FROM ranking_entries e WHERE e.ranking_id = %(id)s AND e.position = expected.position
            )
            ORDER BY expected.position
            """,
            {"id": ranking_id, "last": max(max_position, stored)},
        )
    ]
    if missing:
        problems.append(f"{where}: positions are not contiguous from 1, missing {_listing(missing)}")

    if stored != entry_count:
        problems.append(f"{where}: {stored} entries stored but the ranking records entry_count={entry_count}")
    if expected_entries is None:
        problems.append(f"{where}: the total number of entries announced by the API is unknown")
    elif stored != expected_entries:
        problems.append(f"{where}: {stored} entries stored, the API announced {expected_entries}")
    if max_entries is not None and stored > max_entries:
        problems.append(f"{where}: {stored} entries exceed the chart's maximum of {max_entries}")

    repeated_songs = conn.execute(
        """
        SELECT t.uuid, array_agg(e.position ORDER BY e.position)
        FROM ranking_entries e JOIN tracks t ON t.id = e.track_id
        WHERE e.ranking_id = %s
        GROUP BY t.uuid HAVING count(*) > 1 ORDER BY min(e.position)
        """,
        (ranking_id,),
    ).fetchall()
    for song_uuid, positions in repeated_songs[:_MAX_LISTED]:
        problems.append(f"{where}: song {song_uuid} appears at several positions ({_listing(positions)})")
    if len(repeated_songs) > _MAX_LISTED:
        problems.append(f"{where}: {len(repeated_songs)} songs appear at several positions in all")
    return problems
