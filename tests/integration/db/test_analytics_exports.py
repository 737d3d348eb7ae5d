"""Exports (CSV + Parquet by date) and PNG plots from a real product database."""

from __future__ import annotations

import csv
import struct
from datetime import UTC, date, datetime, timedelta

import pyarrow.parquet as pq
import pytest

from musiccharts.analytics.exports import SCHEMAS, export_days, write_partition
from musiccharts.analytics.plots import (
    HEIGHT_PX,
    WIDTH_PX,
    audience_flags_png,
    bump_chart_data,
    bump_chart_png,
)
from musiccharts.analytics.trends import refresh_chart_trends
from musiccharts.charts.load import load_ranking
from musiccharts.db.connection import connect
from tests.integration.db.rankings import day_period, small_ranking

pytestmark = pytest.mark.integration

DAY = datetime(2026, 3, 1, 12, tzinfo=UTC)
SEQUENCE = [[1, 2, 3], [2, 1, 4], [2, 4], [3, 2, 1]]


def load_sequence(dsn: str) -> None:
    with connect(dsn) as conn:
        for index, songs in enumerate(SEQUENCE):
            ranking = small_ranking(DAY + timedelta(days=index), songs)
            start, end = day_period(ranking.date)
            load_ranking(conn, ranking, chart_slug="global-28", period_start=start, period_end=end)
        refresh_chart_trends(conn)


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_trend_export_is_partitioned_by_date_with_the_documented_schema(clean_product_db, tmp_path):
    load_sequence(clean_product_db)
    with connect(clean_product_db) as conn:
        written = export_days(conn, tmp_path, "chart_trends", [date(2026, 3, 2), date(2026, 3, 4)])

    assert sorted(p.replace(str(tmp_path), "") for p in written) == [
        "/chart_trends/date=2026-03-02/chart_trends.csv",
        "/chart_trends/date=2026-03-02/chart_trends.parquet",
        "/chart_trends/date=2026-03-04/chart_trends.csv",
        "/chart_trends/date=2026-03-04/chart_trends.parquet",
    ]
    table = pq.read_table(tmp_path / "chart_trends" / "date=2026-03-04" / "chart_trends.parquet")
    assert table.schema.equals(SCHEMAS["chart_trends"])
    rows = table.to_pylist()
    assert [(r["position"], r["track_name"], r["movement"], r["periods_on_chart"]) for r in rows] == [
        (1, "Song 3", "re-entry", 2),
        (2, "Song 2", "faller", 4),
        (3, "Song 1", "re-entry", 3),
    ]
    with (tmp_path / "chart_trends" / "date=2026-03-02" / "chart_trends.csv").open() as handle:
        csv_rows = list(csv.DictReader(handle))
    assert list(csv_rows[0]) == SCHEMAS["chart_trends"].names
    assert [(r["position"], r["movement"], r["movement_size"]) for r in csv_rows] == [
        ("1", "climber", "1"),
        ("2", "faller", "1"),
        ("3", "new", "0"),
    ]


def test_rerun_replaces_the_partition_files(tmp_path):
    first = write_partition(tmp_path, "fraud_flags", date(2026, 3, 1), [])
    second = write_partition(
        tmp_path,
        "fraud_flags",
        date(2026, 3, 1),
        [
            (
                "soundcharts_audience",
                "track",
                7,
                "spotify",
                "",
                "burst",
                date(2026, 2, 1),
                date(2026, 2, 2),
                1.5,
                "{}",
                "1.0",
            )
        ],
    )
    assert first == second
    assert sorted(p.name for p in (tmp_path / "fraud_flags" / "date=2026-03-01").iterdir()) == [
        "fraud_flags.csv",
        "fraud_flags.parquet",
    ]
    assert pq.read_table(second[1]).num_rows == 1


def test_rows_that_do_not_fit_the_schema_are_refused(tmp_path):
    with pytest.raises(ValueError, match="columns"):
        write_partition(tmp_path, "chart_health", date(2026, 3, 1), [("only", "three", "columns")])


def test_bump_chart_is_a_png_of_the_expected_size(clean_product_db, tmp_path):
    load_sequence(clean_product_db)
    with connect(clean_product_db) as conn:
        dates, positions = bump_chart_data(conn, "global-28", top=20, periods=30)

    assert len(dates) == 4
    # Tracks of the last ranking's top, best first, with None where they were not in the top.
    assert positions == {"Song 3": [3, None, None, 1], "Song 2": [2, 1, 1, 2], "Song 1": [1, 2, None, 3]}
    path = bump_chart_png(tmp_path / "plots" / "bump.png", "global-28 top 20", dates, positions, top=20)
    assert png_size(path) == (WIDTH_PX, HEIGHT_PX)


def test_audience_plot_with_flags_is_a_png_of_the_expected_size(tmp_path):
    days = [date(2026, 1, 1) + timedelta(days=offset) for offset in range(60) if offset not in (20, 21)]
    values = [1000.0 * (offset + 1) + (5000 if offset >= 40 else 0) for offset in range(len(days))]
    path = audience_flags_png(
        tmp_path / "audience.png",
        "track 7 spotify",
        days,
        values,
        [("burst", date(2026, 2, 10), date(2026, 2, 11))],
    )
    assert png_size(path) == (WIDTH_PX, HEIGHT_PX)
