"""Analytics exports: CSV and Parquet files, partitioned by date, under any path-like base.

Layout (stable names, so a rerun replaces a file rather than adding one)::

    <base>/<dataset>/date=YYYY-MM-DD/<dataset>.csv
    <base>/<dataset>/date=YYYY-MM-DD/<dataset>.parquet

``base`` is anything with ``/``, ``mkdir`` and ``open`` like :class:`pathlib.Path`: in Airflow an
``ObjectStoragePath`` (a local folder by default, any fsspec URL such as ``s3://`` in production). Each
dataset has a documented schema (:data:`SCHEMAS`); the Parquet files carry it, the CSV files have its
columns in that order with a header.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any, Protocol

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq


class WritablePath(Protocol):
    def __truediv__(self, other: str) -> WritablePath: ...
    def mkdir(self, parents: bool = ..., exist_ok: bool = ...) -> None: ...
    def open(self, mode: str = ...) -> Any: ...


SCHEMAS: dict[str, pa.Schema] = {
    "chart_trends": pa.schema(
        [
            ("chart_slug", pa.string()),
            ("ranking_date", pa.timestamp("us", tz="UTC")),
            ("position", pa.int32()),
            ("track_uuid", pa.string()),
            ("track_name", pa.string()),
            ("movement", pa.string()),
            ("movement_size", pa.int32()),
            ("previous_position", pa.int32()),
            ("peak_position", pa.int32()),
            ("peak_date", pa.timestamp("us", tz="UTC")),
            ("periods_on_chart", pa.int32()),
            ("current_streak", pa.int32()),
        ]
    ),
    "chart_health": pa.schema(
        [
            ("chart_slug", pa.string()),
            ("day", pa.date32()),
            ("frequency", pa.string()),
            ("expected_periods", pa.int32()),
            ("stored_periods", pa.int32()),
            ("completeness", pa.float64()),
            ("recent_completeness", pa.float64()),
            ("freshness_hours", pa.float64()),
            ("freshness_ratio", pa.float64()),
            ("entry_ratio", pa.float64()),
            ("entry_count_variation", pa.float64()),
            ("validation_failures", pa.int32()),
            ("score", pa.int32()),
            ("band", pa.string()),
        ]
    ),
    "fraud_flags": pa.schema(
        [
            ("source", pa.string()),
            ("entity_type", pa.string()),
            ("entity_id", pa.int64()),
            ("platform", pa.string()),
            ("identifier", pa.string()),
            ("detector", pa.string()),
            ("window_start", pa.date32()),
            ("window_end", pa.date32()),
            ("score", pa.float64()),
            ("evidence", pa.string()),  # JSON
            ("detector_version", pa.string()),
        ]
    ),
    "performance": pa.schema(
        [
            ("entity_type", pa.string()),
            ("entity_id", pa.int64()),
            ("platform", pa.string()),
            ("period_start", pa.date32()),
            ("period_end", pa.date32()),
            ("start_value", pa.float64()),
            ("end_value", pa.float64()),
            ("difference", pa.float64()),
            ("growth_pct", pa.float64()),
            ("average", pa.float64()),
            ("peak", pa.float64()),
            ("points", pa.int32()),
            ("best_chart_position", pa.int32()),
            ("chart_days", pa.int32()),
        ]
    ),
}


def partition_dir(base: WritablePath, dataset: str, day: date) -> WritablePath:
    return base / dataset / f"date={day.isoformat()}"


def write_partition(
    base: WritablePath, dataset: str, day: date, rows: Sequence[Sequence[Any]]
) -> tuple[WritablePath, WritablePath]:
    """Write one date partition of ``dataset`` as CSV and Parquet; returns both paths."""
    schema = SCHEMAS[dataset]
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else [[] for _ in schema.names]
    if len(columns) != len(schema.names):
        raise ValueError(f"{dataset}: rows have {len(columns)} columns, the schema {len(schema.names)}")
    table = pa.Table.from_arrays(
        [pa.array(list(values), type=field.type) for values, field in zip(columns, schema, strict=True)],
        schema=schema,
    )
    folder = partition_dir(base, dataset, day)
    folder.mkdir(parents=True, exist_ok=True)
    parquet_path = folder / f"{dataset}.parquet"
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    with parquet_path.open("wb") as handle:
        handle.write(buffer.getvalue())
    csv_path = folder / f"{dataset}.csv"
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(schema.names)
    for row in rows:
        writer.writerow([_csv_value(value) for value in row])
    with csv_path.open("wb") as handle:
        handle.write(text.getvalue().encode())
    return csv_path, parquet_path


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


# --- the datasets, read from the product database -----------------------------------------------------------


def trend_rows(conn: psycopg.Connection, day: date) -> list[tuple]:
    """Trend rows of every ranking dated ``day`` (UTC)."""
    return conn.execute(
        """
        SELECT c.slug, t.ranking_date, t.position, tr.uuid, tr.name, t.movement, t.movement_size,
               t.previous_position, t.peak_position, t.peak_date, t.periods_on_chart, t.current_streak
        FROM chart_trend_entries t
        JOIN charts c ON c.id = t.chart_id
        JOIN tracks tr ON tr.id = t.track_id
        WHERE t.ranking_date >= %(day)s::date AT TIME ZONE 'UTC'
          AND t.ranking_date < (%(day)s::date + 1) AT TIME ZONE 'UTC'
        ORDER BY c.slug, t.ranking_date, t.position
        """,
        {"day": day},
    ).fetchall()


def health_rows(conn: psycopg.Connection, day: date) -> list[tuple]:
    return [
        (*row[:5], *(float(v) if v is not None else None for v in row[5:11]), *row[11:])
        for row in conn.execute(
            """
            SELECT c.slug, h.day, h.frequency, h.expected_periods, h.stored_periods, h.completeness,
                   h.recent_completeness, h.freshness_hours, h.freshness_ratio, h.entry_ratio,
                   h.entry_count_variation, h.validation_failures, h.score, h.band
            FROM chart_health h JOIN charts c ON c.id = h.chart_id
            WHERE h.day = %(day)s ORDER BY c.slug
            """,
            {"day": day},
        ).fetchall()
    ]


def fraud_rows(conn: psycopg.Connection) -> list[tuple]:
    """Every current flag (the view, so other risk sources appear too)."""
    return [
        (*row[:8], float(row[8]), row[9], row[10])
        for row in conn.execute(
            """
            SELECT source, entity_type, entity_id, platform, identifier, detector, window_start, window_end,
                   score, evidence::text, detector_version
            FROM fraud_flag_view ORDER BY entity_type, entity_id, platform, identifier, detector, window_start
            """
        ).fetchall()
    ]


def export_days(
    conn: psycopg.Connection, base: WritablePath, dataset: str, days: Iterable[date]
) -> list[str]:
    """Export ``dataset`` (``chart_trends`` or ``chart_health``) for each day; returns the files written."""
    reader = {"chart_trends": trend_rows, "chart_health": health_rows}[dataset]
    written = []
    for day in sorted(set(days)):
        written += [str(path) for path in write_partition(base, dataset, day, reader(conn, day))]
    return written
