"""Ranking load throughput: the project's load path against a raw COPY of the same rows, in the same run.

    python bench/bench_ranking_load.py [--rows 100000] [--per-ranking 200] [--dsn DSN] [--row-by-row 4000]

Builds ``--rows`` ranking entries in memory as parsed ``ChartRanking`` objects (two 100-item pages each, in
the recorded payload's shape; consecutive rankings share ~90% of their songs, so tracks are reused and exits
happen), in a scratch database it creates on the server of ``--dsn`` (default: the local Postgres,
127.0.0.1:5432 user postgres) and drops at the end. Then it measures, all committed:

(a) load path: ``load_rankings`` with all the rankings, i.e. the N entries → committed rows in one
    transaction (chart, tracks and rankings upserted, entries COPYed into ranking_entries, exits derived);
(b) baseline: one raw COPY of the same rows (the same Python values, raw JSON encoded by the same encoder)
    into an equivalent plain table with no keys, constraints or indexes; measured before and after (a), the
    faster run is the baseline;
(p) the same load path, one ``load_ranking`` call (one transaction) per ranking: the unit of a DAG run;
    compared with (b1), a raw COPY of the same rows in one transaction per ranking, since both then pay
    a fixed cost per transaction that a single bulk COPY does not;
(c) executemany: per ranking, ``executemany`` upserts of tracks and entries (psycopg pipelines them);
(d) row by row: the original system's shape, one autocommit INSERT per track and per entry, on a subset;
(e) rerun: ``load_rankings`` again with the same rankings (every write skipped because nothing differs).

Prints rows/s and the ratio to the raw COPY. Target: (a) >= 0.5x
the raw COPY. Exit status 1 when the target is missed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
for part in ("include", "plugins", "simulators", "stack"):
    if str(REPO_ROOT / part) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT / part))

import psycopg  # noqa: E402
from psycopg.conninfo import conninfo_to_dict, make_conninfo  # noqa: E402

import musiccharts.charts.load as load_module  # noqa: E402
from musiccharts.charts.load import RankingLoad, load_ranking, load_rankings  # noqa: E402
from musiccharts.db.connection import to_libpq_dsn  # noqa: E402
from musiccharts.db.migrate import upgrade  # noqa: E402
from musiccharts.soundcharts.models import ChartRanking, ChartRankingPage  # noqa: E402

TARGET_RATIO = 0.5
DEFAULT_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
PAGE_SIZE = 100
SONG_NAMESPACE = uuid.UUID("0b6d3c1e-6f0a-4d55-9a61-3f1b2c4d5e6f")
FIRST_DAY = datetime(2024, 1, 1, 12, tzinfo=UTC)

RAW_TABLE_SQL = """
CREATE TABLE bench_raw_entries (
    ranking_no integer, position integer, song_uuid text, song_name text, credit_name text, image_url text,
    previous_position integer, position_evolution integer, metric numeric, time_on_chart integer,
    time_on_chart_unit text, entry_state text, entry_date timestamptz, rank_date timestamptz, raw jsonb
)
"""


# --- data ---------------------------------------------------------------------------------------------------


def song_uuid(number: int) -> str:
    return str(uuid.uuid5(SONG_NAMESPACE, str(number)))


def build_rankings(count: int, per_ranking: int, slug: str) -> list[ChartRanking]:
    """``count`` daily rankings of ``per_ranking`` entries; 10% of the songs are replaced every day."""
    churn = max(1, per_ranking // 10)
    rankings = []
    for index in range(count):
        day = FIRST_DAY + timedelta(days=index)
        first_song = index * churn  # a sliding window over the song numbers: 90% overlap day to day
        songs = list(range(first_song, first_song + per_ranking))
        songs.reverse()  # newer songs rank higher, so positions move every day
        chart = {
            "name": "Bench Chart",
            "type": "song",
            "slug": slug,
            "platform": "spotify",
            "frequency": "daily",
            "countryCode": "",
            "maxResultsCount": per_ranking,
            "webUrl": f"https://example.test/{slug}",
            "metric": {"type": "streamcount", "description": "Streams"},
        }
        pages = []
        for offset in range(0, per_ranking, PAGE_SIZE):
            items = [
                {
                    "song": {
                        "uuid": song_uuid(song),
                        "name": f"Song {song}",
                        "creditName": f"Artist {song % 997}",
                        "imageUrl": f"https://assets.example.test/song/{song}.jpg",
                    },
                    "position": position,
                    "positionEvolution": churn if index else 0,
                    "metric": 5_000_000 - 20_000 * position + index,
                    "entryState": "",
                    "entryDate": (day - timedelta(days=song % 50)).isoformat(),
                    "rankDate": day.isoformat(),
                    "oldPosition": position + churn if index and position + churn <= per_ranking else 0,
                    "timeOnChart": 1 + song % 50,
                    "timeOnChartUnit": "DOC",
                }
                for position, song in enumerate(songs[offset : offset + PAGE_SIZE], start=offset + 1)
            ]
            pages.append(
                {
                    "related": {"chart": chart, "date": day.isoformat()},
                    "items": items,
                    "page": {
                        "offset": offset,
                        "limit": PAGE_SIZE,
                        "total": per_ranking,
                        "next": "",
                        "previous": None,
                    },
                    "errors": [],
                }
            )
        parsed = [ChartRankingPage.model_validate(page) for page in pages]
        rankings.append(
            ChartRanking(
                chart=parsed[0].related.chart,
                date=parsed[0].related.date,
                items=[item for page in parsed for item in page.items],
                total=per_ranking,
                raw_pages=pages,
            )
        )
    return rankings


def period_of(ranking: ChartRanking) -> tuple[datetime, datetime]:
    start = ranking.date.replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)


def entry_rows(ranking: ChartRanking) -> list[tuple]:
    """The values stored per entry, song included, raw JSON encoded as the load path encodes it."""
    raw_items = load_module._raw_items(ranking)
    return [
        (
            item.position,
            item.song.uuid.lower(),
            item.song.name,
            item.song.credit_name,
            item.song.image_url,
            item.old_position or None,
            item.position_evolution,
            load_module._metric(item.metric),
            item.time_on_chart,
            item.time_on_chart_unit or None,
            item.entry_state or None,
            item.entry_date,
            item.rank_date,
            load_module._encode_json(raw).decode(),
        )
        for item, raw in zip(ranking.items, raw_items, strict=True)
    ]


# --- methods ------------------------------------------------------------------------------------------------


def load_path(conn: psycopg.Connection, rankings: list[ChartRanking]) -> int:
    """All rankings through ``load_rankings``: one transaction."""
    loads = [RankingLoad(ranking, *period_of(ranking)) for ranking in rankings]
    results = load_rankings(conn, rankings[0].chart.slug, loads)
    return sum(result.entries for result in results)


def load_path_per_ranking(conn: psycopg.Connection, rankings: list[ChartRanking]) -> int:
    """One ``load_ranking`` transaction per ranking, as the DAG runs do."""
    rows = 0
    for ranking in rankings:
        start, end = period_of(ranking)
        result = load_ranking(
            conn, ranking, chart_slug=ranking.chart.slug, period_start=start, period_end=end
        )
        rows += result.entries
    return rows


# The stored entry columns, with the song itself in place of its track id (the raw table has no tracks).
RAW_COLUMNS = (
    "ranking_no",
    "position",
    "song_uuid",
    "song_name",
    "credit_name",
    "image_url",
    *load_module._ENTRY_VALUE_COLUMNS[1:],
)


def raw_copy(conn: psycopg.Connection, rankings: list[ChartRanking]) -> int:
    rows = 0
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("TRUNCATE bench_raw_entries")
        with cur.copy(f"COPY bench_raw_entries ({', '.join(RAW_COLUMNS)}) FROM STDIN") as copy:
            for number, ranking in enumerate(rankings):
                for row in entry_rows(ranking):
                    copy.write_row((number, *row))
                    rows += 1
    return rows


def raw_copy_per_ranking(conn: psycopg.Connection, rankings: list[ChartRanking]) -> int:
    with conn.transaction():
        conn.execute("TRUNCATE bench_raw_entries")
    rows = 0
    for number, ranking in enumerate(rankings):
        with (
            conn.transaction(),
            conn.cursor() as cur,
            cur.copy(f"COPY bench_raw_entries ({', '.join(RAW_COLUMNS)}) FROM STDIN") as copy,
        ):
            for row in entry_rows(ranking):
                copy.write_row((number, *row))
                rows += 1
    return rows


_EXECUTEMANY_TRACK_SQL = """
INSERT INTO tracks (uuid, name, credit_name, image_url) VALUES (%s, %s, %s, %s)
ON CONFLICT (uuid) DO UPDATE SET name = EXCLUDED.name, credit_name = EXCLUDED.credit_name,
    image_url = EXCLUDED.image_url
WHERE (tracks.name, tracks.credit_name, tracks.image_url)
    IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.credit_name, EXCLUDED.image_url)
"""

_EXECUTEMANY_ENTRY_SQL = """
INSERT INTO ranking_entries (ranking_id, position, track_id, previous_position, position_evolution, metric,
    time_on_chart, time_on_chart_unit, entry_state, entry_date, rank_date, raw)
VALUES (%s, %s, (SELECT id FROM tracks WHERE uuid = %s), %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb)
ON CONFLICT (ranking_id, position) DO UPDATE SET track_id = EXCLUDED.track_id, metric = EXCLUDED.metric,
    raw = EXCLUDED.raw
WHERE (ranking_entries.track_id, ranking_entries.metric, ranking_entries.raw)
    IS DISTINCT FROM (EXCLUDED.track_id, EXCLUDED.metric, EXCLUDED.raw)
"""


def _chart_id(conn: psycopg.Connection, slug: str) -> int:
    conn.execute("INSERT INTO platforms (slug, name) VALUES ('spotify', 'Spotify') ON CONFLICT DO NOTHING")
    return conn.execute(
        "INSERT INTO charts (slug, platform_id, name, frequency)"
        " SELECT %s, id, %s, 'daily' FROM platforms WHERE slug = 'spotify' RETURNING id",
        (slug, slug),
    ).fetchone()[0]


def _ranking_id(conn: psycopg.Connection, chart_id: int, ranking: ChartRanking) -> int:
    start, end = period_of(ranking)
    return conn.execute(
        "INSERT INTO rankings (chart_id, ranking_date, period_start, period_end, expected_entries,"
        " entry_count) VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (chart_id, ranking.date, start, end, ranking.total, len(ranking.items)),
    ).fetchone()[0]


def executemany_upsert(conn: psycopg.Connection, rankings: list[ChartRanking]) -> int:
    rows = 0
    with conn.transaction():
        chart_id = _chart_id(conn, rankings[0].chart.slug)
    for ranking in rankings:
        with conn.transaction(), conn.cursor() as cur:
            ranking_id = _ranking_id(conn, chart_id, ranking)
            staged = entry_rows(ranking)
            cur.executemany(_EXECUTEMANY_TRACK_SQL, [(r[1], r[2], r[3], r[4]) for r in staged])
            cur.executemany(_EXECUTEMANY_ENTRY_SQL, [(ranking_id, r[0], r[1], *r[5:]) for r in staged])
            rows += len(staged)
    return rows


def row_by_row(conn: psycopg.Connection, rankings: list[ChartRanking], limit: int) -> int:
    """One statement per track and per entry, each committed on its own (autocommit)."""
    rows = 0
    conn.autocommit = True
    chart_id = _chart_id(conn, rankings[0].chart.slug)
    for ranking in rankings:
        ranking_id = _ranking_id(conn, chart_id, ranking)
        for row in entry_rows(ranking):
            conn.execute(_EXECUTEMANY_TRACK_SQL, (row[1], row[2], row[3], row[4]))
            conn.execute(_EXECUTEMANY_ENTRY_SQL, (ranking_id, row[0], row[1], *row[5:]))
            rows += 1
            if rows >= limit:
                return rows
    return rows


def stored_counts(conn: psycopg.Connection, slug: str) -> tuple[int, int]:
    """(entries, exits) stored for the chart ``slug``."""
    return conn.execute(
        """
        SELECT (SELECT count(*) FROM ranking_entries e JOIN rankings r ON r.id = e.ranking_id
                WHERE r.chart_id = c.id),
               (SELECT count(*) FROM chart_exits x WHERE x.chart_id = c.id)
        FROM charts c WHERE c.slug = %s
        """,
        (slug,),
    ).fetchone()


# --- driver -------------------------------------------------------------------------------------------------


def timed(label: str, action: Callable[[], int]) -> tuple[int, float]:
    started = time.perf_counter()
    rows = action()
    elapsed = time.perf_counter() - started
    print(f"  {label:<44} {rows:>8} rows in {elapsed:7.2f} s", flush=True)
    return rows, elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="ranking entries to load (default 100000)")
    parser.add_argument("--per-ranking", type=int, default=200, help="entries per ranking (default 200)")
    parser.add_argument(
        "--row-by-row", type=int, default=4_000, help="rows of the row-by-row subset (0: skip)"
    )
    parser.add_argument(
        "--dsn",
        default=os.environ.get("MUSICCHARTS_BENCH_PG_DSN", DEFAULT_DSN),
        help="any database on the target server; a scratch database is created next to it",
    )
    args = parser.parse_args(argv)

    admin = conninfo_to_dict(to_libpq_dsn(args.dsn))
    admin["dbname"] = "postgres"
    admin_dsn = make_conninfo(**admin)
    scratch = f"mc_bench_ranking_load_{os.getpid()}"
    scratch_dsn = make_conninfo(**{**admin, "dbname": scratch})

    count = max(1, args.rows // args.per_ranking)
    print(f"building {count} rankings x {args.per_ranking} entries in memory ...", flush=True)
    started = time.perf_counter()
    rankings = build_rankings(count, args.per_ranking, "bench-load-path")

    def renamed(slug: str) -> list[ChartRanking]:
        return [r.model_copy(update={"chart": r.chart.model_copy(update={"slug": slug})}) for r in rankings]

    per_ranking = renamed("bench-per-ranking")
    other = renamed("bench-executemany")
    print(f"  built and validated in {time.perf_counter() - started:.1f} s", flush=True)

    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{scratch}"')
        conn.execute(f'CREATE DATABASE "{scratch}"')
    try:
        upgrade(scratch_dsn)
        with psycopg.connect(scratch_dsn) as conn:
            conn.execute(RAW_TABLE_SQL)
            conn.commit()
            print(f"database {scratch} on {admin.get('host', 'local socket')}:{admin.get('port', 5432)}")
            copy_rows, copy_before = timed(
                "(b) raw COPY (baseline, before)", lambda: raw_copy(conn, rankings)
            )
            rows, load_seconds = timed(
                "(a) load path: load_rankings, one transaction", lambda: load_path(conn, rankings)
            )
            _, copy_after = timed("(b) raw COPY (baseline, after)", lambda: raw_copy(conn, rankings))
            _, rerun_seconds = timed(
                "(e) rerun, identical data (no-op writes)", lambda: load_path(conn, rankings)
            )
            _, per_ranking_seconds = timed(
                "(p) load path, one load_ranking per ranking",
                lambda: load_path_per_ranking(conn, per_ranking),
            )
            _, copy_per_ranking_seconds = timed(
                "(b1) raw COPY, one transaction per ranking",
                lambda: raw_copy_per_ranking(conn, rankings),
            )
            _, many_seconds = timed(
                "(c) executemany upsert per ranking", lambda: executemany_upsert(conn, other)
            )
            if args.row_by_row:
                subset = [
                    r.model_copy(update={"chart": r.chart.model_copy(update={"slug": "bench-row-by-row"})})
                    for r in rankings
                ]
                by_row_rows, by_row_seconds = timed(
                    "(d) one autocommit INSERT per row (subset)",
                    lambda: row_by_row(conn, subset, args.row_by_row),
                )
            stored, exits = stored_counts(conn, "bench-load-path")
            # Both granularities of the load path must store the same thing.
            assert stored_counts(conn, "bench-per-ranking") == (stored, exits)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')

    assert stored == rows == copy_rows, (stored, rows, copy_rows)
    baseline = min(copy_before, copy_after)
    copy_rate = copy_rows / baseline

    def report(label: str, measured_rows: int, seconds: float) -> float:
        rate = measured_rows / seconds
        ratio = rate / copy_rate
        print(f"  {label:<44} {rate:>10,.0f} rows/s   {ratio:5.2f}x raw COPY")
        return ratio

    print(f"\nresults ({rows} entries, {count} rankings, {exits} exits recorded by the load path)")
    report("(b) raw COPY baseline", copy_rows, baseline)
    load_ratio = report("(a) load path", rows, load_seconds)
    report("(e) rerun with identical data", rows, rerun_seconds)
    per_ranking_ratio = copy_per_ranking_seconds / per_ranking_seconds
    print(
        f"  {'(p) one transaction per ranking (DAG runs)':<44} {rows / per_ranking_seconds:>10,.0f} rows/s"
        f"   {rows / per_ranking_seconds / copy_rate:5.2f}x raw COPY,"
        f" {per_ranking_ratio:.2f}x (b1) raw COPY per ranking ({rows / copy_per_ranking_seconds:,.0f} rows/s)"
    )
    report("(c) executemany upsert", rows, many_seconds)
    if args.row_by_row:
        report("(d) one autocommit INSERT per row", by_row_rows, by_row_seconds)
    met = load_ratio >= TARGET_RATIO
    print(
        f"\ntarget: load path >= {TARGET_RATIO}x raw COPY -> {'met' if met else 'MISSED'} ({load_ratio:.2f}x)"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
