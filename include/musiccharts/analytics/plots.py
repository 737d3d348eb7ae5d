"""PNG plots of the analytics: a bump chart of a chart's top positions, an audience series with its flags.

Rendered with matplotlib's non-interactive Agg backend (no display needed) at a fixed size, so that files
are comparable run to run: ``WIDTH_PX`` x ``HEIGHT_PX``. Written to any path-like (``pathlib.Path`` or an
``ObjectStoragePath``) under a stable name, so a rerun replaces the file.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import psycopg

WIDTH_PX = 1200
HEIGHT_PX = 700
_DPI = 100


def _save(figure: Any, path: Any) -> Any:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI)
    plt.close(figure)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        handle.write(buffer.getvalue())
    return path


def _figure() -> tuple[Any, Any]:
    figure, axes = plt.subplots(figsize=(WIDTH_PX / _DPI, HEIGHT_PX / _DPI), dpi=_DPI)
    return figure, axes


def bump_chart_data(
    conn: psycopg.Connection, chart_slug: str, top: int, periods: int
) -> tuple[list[datetime], dict[str, list[int | None]]]:
    """The last ``periods`` ranking dates of the chart, and per track of the last ranking's top ``top``
    its position on each of those dates (None when not in the top)."""
    dates = [
        row[0]
        for row in conn.execute(
            """
            SELECT r.ranking_date FROM rankings r JOIN charts c ON c.id = r.chart_id
            WHERE c.slug = %s ORDER BY r.ranking_date DESC LIMIT %s
            """,
            (chart_slug, periods),
        ).fetchall()
    ][::-1]
    if not dates:
        return [], {}
    rows = conn.execute(
        """
        SELECT r.ranking_date, tr.name, tr.uuid, e.position
        FROM rankings r
        JOIN charts c ON c.id = r.chart_id
        JOIN ranking_entries e ON e.ranking_id = r.id
        JOIN tracks tr ON tr.id = e.track_id
        WHERE c.slug = %(slug)s AND r.ranking_date >= %(first)s AND e.position <= %(top)s
          AND e.track_id IN (
              SELECT e2.track_id FROM ranking_entries e2 JOIN rankings r2 ON r2.id = e2.ranking_id
              WHERE r2.chart_id = c.id AND r2.ranking_date = %(last)s AND e2.position <= %(top)s)
        """,
        {"slug": chart_slug, "first": dates[0], "last": dates[-1], "top": top},
    ).fetchall()
    index = {moment: number for number, moment in enumerate(dates)}
    series: dict[str, list[int | None]] = {}
    names: dict[str, str] = {}
    for moment, name, uuid, position in rows:
        names[uuid] = name
        series.setdefault(uuid, [None] * len(dates))[index[moment]] = position
    # Labelled by name; the uuid keeps two songs of the same name apart.
    labelled = {}
    for uuid, positions in sorted(series.items(), key=lambda item: item[1][-1] or 10**9):
        label = names[uuid] if names[uuid] not in labelled else f"{names[uuid]} ({uuid[:8]})"
        labelled[label] = positions
    return dates, labelled


def bump_chart_png(
    path: Any, title: str, dates: Sequence[datetime], positions: Mapping[str, Sequence[int | None]], top: int
) -> Any:
    """Positions over time, best at the top; one line per track, labelled at its latest position."""
    figure, axes = _figure()
    for label, values in positions.items():
        points = [(moment, value) for moment, value in zip(dates, values, strict=True) if value is not None]
        if not points:
            continue
        xs, ys = zip(*points, strict=True)
        axes.plot(xs, ys, marker="o", markersize=3, linewidth=1.5)
        axes.annotate(label[:28], (xs[-1], ys[-1]), xytext=(4, 0), textcoords="offset points", fontsize=7)
    axes.set_ylim(top + 0.5, 0.5)
    axes.set_yticks(range(1, top + 1))
    axes.set_ylabel("position")
    axes.set_title(title)
    axes.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
    axes.grid(alpha=0.3)
    figure.autofmt_xdate()
    figure.tight_layout()
    return _save(figure, path)


def audience_flags_png(
    path: Any,
    title: str,
    days: Sequence[date],
    values: Sequence[float],
    flags: Sequence[tuple[str, date, date]],
) -> Any:
    """Daily increments of a cumulative series (gaps left empty) with each flag's window shaded."""
    figure, axes = _figure()
    increments_x, increments_y = [], []
    stale_before = False
    for (previous_day, previous), (day, value) in pairwise(zip(days, values, strict=True)):
        increments_x.append(day)
        # Gaps stay gaps, as the detectors see them: no increment across missing days, and a repeated value
        # (the source did not update) and the catch-up after it are missing days too.
        stale = value == previous
        usable = (day - previous_day).days == 1 and not stale and not stale_before
        increments_y.append(value - previous if usable else float("nan"))
        stale_before = stale
    axes.plot(increments_x, increments_y, linewidth=1.2, color="#1f77b4", label="daily increment")
    colours = {"burst": "#d62728", "plateau": "#ff7f0e", "chart_mismatch": "#9467bd"}
    seen = set()
    for detector, first, last in flags:
        axes.axvspan(
            first - timedelta(hours=12),
            last + timedelta(hours=12),
            color=colours.get(detector, "#7f7f7f"),
            alpha=0.25,
            label=None if detector in seen else detector,
        )
        seen.add(detector)
    axes.set_title(title)
    axes.set_ylabel("daily increment")
    axes.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left")
    figure.autofmt_xdate()
    figure.tight_layout()
    return _save(figure, path)
