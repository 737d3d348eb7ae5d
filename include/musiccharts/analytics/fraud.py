"""Streaming-fraud detectors on audience series (cumulative values, one per day, gaps allowed).

Everything works on the *daily increments* of each series. Missing days are gaps, never spikes: an increment
is only taken between two consecutive calendar days, and a value repeated from the day before (the source
did not update) is a missing day as well, so the catch-up increment that follows it is not used either.

Detectors (thresholds in ``include/config/analytics.yaml``, ``fraud`` section):

- **burst**: a few days (at most ``burst_max_days``) whose increments are far above the series' robust
  baseline (robust z-score above ``burst_z``; baseline = median of the four preceding weekly medians, scale =
  1.4826 x the median of their weekly MADs, never below ``min_relative_scale`` x baseline), at least
  ``burst_min_ratio`` x the local level (baseline or neighbouring days) on the highest day, entered *from*
  the baseline and *reverting to it at once*: the ``revert_days`` observed increments before and after the
  run have medians within ``revert_z`` of the same baseline. A release peak or a playlist add also jumps,
  but decays slowly or stays up, so its neighbouring days are not back at the baseline; an organic viral
  ramp is neither short nor reverting. A series' first weeks (no baseline yet) are never judged.
- **plateau**: increments that hardly vary for weeks (weekly spread (max - min) / median below
  ``plateau_spread`` for ``plateau_weeks`` consecutive whole weeks), at a level where organic listening is
  never that regular.
- **chart mismatch** (:func:`detect_chart_mismatch`): daily increments that the chart of the same platform
  contradicts, e.g. more streams than the chart's last entry on days the track is not on the chart.

Scores are "times past the threshold" (1.0 = exactly at it), so detectors compare. Scoring is vectorised
with numpy over all series at once; only series with candidate days are looked at one by one.

Runnable without Airflow::

    python -m musiccharts.analytics.fraud detect --input points.csv --output flags.csv

with input columns ``entity_id,platform,date,value`` and one output row per flagged series:
``entity_id,platform,first_date,last_date,score,reason``.
"""

from __future__ import annotations

import argparse
import csv
import sys
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np

from musiccharts.analytics.config import FraudThresholds, load_analytics_config

WEEK = 7
_MAD_TO_SIGMA = 1.4826
# Weekly medians the baseline is taken from (four weeks before the day's week).
_BASELINE_WEEKS = 4
# A week counts for the weekly statistics with at least this many observed increments.
_MIN_OBSERVED_PER_WEEK = 5

BURST = "burst"
PLATEAU = "plateau"
CHART_MISMATCH = "chart_mismatch"


class InputError(ValueError):
    """The points cannot be scored as given; the message names the row and the problem."""


@dataclass(frozen=True)
class Flag:
    """One suspicious window of one series."""

    key: tuple[Any, ...]
    detector: str
    window_start: date
    window_end: date
    score: float
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class Points:
    """Audience points of many series: ``series`` indexes ``keys``; ``day`` is the proleptic ordinal."""

    keys: list[tuple[Any, ...]]
    series: np.ndarray
    day: np.ndarray
    value: np.ndarray

    @classmethod
    def from_columns(
        cls, key_columns: Sequence[Sequence[Any]], days: Sequence[Any], values: Sequence[float]
    ) -> Points:
        """Columns of equal length: the key parts, the day (``date`` or proleptic ordinal) and the value."""
        index: dict[tuple[Any, ...], int] = {}
        count = len(days)
        series = np.fromiter(
            (index.setdefault(key, len(index)) for key in zip(*key_columns, strict=True)), np.int64, count
        )
        if count and isinstance(days[0], date):
            day = np.fromiter((d.toordinal() for d in days), np.int64, count)
        else:
            day = np.asarray(days, dtype=np.int64)
        return cls(keys=list(index), series=series, day=day, value=np.asarray(values, dtype=np.float64))

    @classmethod
    def from_grouped_rows(cls, rows: Sequence[Sequence[Any]], key_width: int = 2) -> Points:
        """Rows of ``(*key, ordinal day, value)`` where each series' rows are contiguous (a query ordered by
        the key): columns are pulled out in C loops and series found where the key changes, with no
        per-row tuple or dict work (the garbage collector made that several times slower than the read).
        Falls back to :meth:`from_rows` when a key reappears after another one."""
        count = len(rows)
        if count == 0:
            return cls.from_rows([], key_width)
        key_columns = [np.array(list(map(itemgetter(i), rows)), dtype=object) for i in range(key_width)]
        changed = np.zeros(count, dtype=bool)
        changed[0] = True
        for column in key_columns:
            changed[1:] |= column[1:] != column[:-1]
        starts = np.flatnonzero(changed)
        keys = [tuple(column[start] for column in key_columns) for start in starts]
        if len(set(keys)) != len(keys):
            return cls.from_rows(rows, key_width)
        return cls(
            keys=keys,
            series=np.cumsum(changed) - 1,
            day=np.fromiter(map(itemgetter(key_width), rows), np.int64, count),
            value=np.fromiter(map(itemgetter(key_width + 1), rows), np.float64, count),
        )

    @classmethod
    def from_rows(cls, rows: Iterable[Sequence[Any]], key_width: int = 2) -> Points:
        """Rows of ``(*key, day, value)``, in any order."""
        columns = list(zip(*rows, strict=True))
        if not columns:
            return cls(keys=[], series=np.zeros(0, np.int64), day=np.zeros(0, np.int64), value=np.zeros(0))
        return cls.from_columns(columns[:key_width], columns[key_width], columns[key_width + 1])


@dataclass
class _Grid:
    """One row per series, one column per calendar day from the series' first day; NaN where missing."""

    first_day: np.ndarray
    values: np.ndarray


def _grid(points: Points) -> _Grid:
    count = len(points.keys)
    if len(points.day) == 0:
        return _Grid(np.zeros(0, dtype=np.int64), np.zeros((0, 0)))
    first = np.full(count, np.iinfo(np.int64).max)
    np.minimum.at(first, points.series, points.day)
    offset = points.day - first[points.series]
    width = int(offset.max()) + 1
    # Whole weeks, plus one: column 0 has no increment.
    width = -(-width // WEEK) * WEEK + 1
    cell = points.series * width + offset
    if np.bincount(cell, minlength=count * width).max() > 1:
        raise InputError("a series has two values for the same day")
    values = np.full((count, width), np.nan)
    values[points.series, offset] = points.value
    return _Grid(first, values)


def _nanmedian(values: np.ndarray, axis: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices give NaN, which is what we want
        return np.nanmedian(values, axis=axis)


def daily_increments(values: np.ndarray) -> np.ndarray:
    """Increments between consecutive calendar days; NaN across gaps and around repeated (stale) values."""
    increments = np.diff(values, axis=1)
    stale = increments == 0
    increments[stale] = np.nan
    # The day after a stale value carries two days of growth: not a daily increment either.
    after_stale = np.zeros_like(stale)
    after_stale[:, 1:] = stale[:, :-1]
    increments[after_stale] = np.nan
    return increments


@dataclass
class _Weekly:
    median: np.ndarray  # [series, weeks]
    mad: np.ndarray
    spread: np.ndarray
    observed: np.ndarray


def _weekly(increments: np.ndarray) -> _Weekly:
    count, width = increments.shape
    weeks = increments.reshape(count, width // WEEK, WEEK)
    median = _nanmedian(weeks, axis=2)
    mad = _nanmedian(np.abs(weeks - median[:, :, None]), axis=2)
    observed = np.sum(~np.isnan(weeks), axis=2)
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        spread = (np.nanmax(weeks, axis=2) - np.nanmin(weeks, axis=2)) / median
    median[observed < _MIN_OBSERVED_PER_WEEK] = np.nan
    mad[observed < _MIN_OBSERVED_PER_WEEK] = np.nan
    return _Weekly(median, mad, spread, observed)


def _baseline(weekly: _Weekly, thresholds: FraudThresholds) -> tuple[np.ndarray, np.ndarray]:
    """Per series and week: baseline and scale from the four preceding weeks (NaN without enough history)."""
    count, _weeks = weekly.median.shape
    padded_median = np.concatenate([np.full((count, _BASELINE_WEEKS), np.nan), weekly.median[:, :-1]], axis=1)
    padded_mad = np.concatenate([np.full((count, _BASELINE_WEEKS), np.nan), weekly.mad[:, :-1]], axis=1)
    window_median = np.lib.stride_tricks.sliding_window_view(padded_median, _BASELINE_WEEKS, axis=1)
    window_mad = np.lib.stride_tricks.sliding_window_view(padded_mad, _BASELINE_WEEKS, axis=1)
    history = np.sum(~np.isnan(window_median), axis=2)
    baseline = _nanmedian(window_median, axis=2)
    scale = np.fmax(
        _MAD_TO_SIGMA * _nanmedian(window_mad, axis=2), thresholds.min_relative_scale * np.abs(baseline)
    )
    scale = np.fmax(scale, 1.0)
    baseline[history < thresholds.min_history_weeks] = np.nan
    return baseline, scale


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive (start, end) of each run of True."""
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def _observed_neighbours(increments: np.ndarray, start: int, step: int, wanted: int) -> np.ndarray:
    """Up to ``wanted`` observed increments walking from ``start`` by ``step`` within 2 x wanted days."""
    found: list[float] = []
    position = start
    for _ in range(2 * wanted):
        if position < 0 or position >= len(increments) or len(found) == wanted:
            break
        if not np.isnan(increments[position]):
            found.append(float(increments[position]))
        position += step
    return np.asarray(found)


def _iso(ordinal: int) -> date:
    return date.fromordinal(int(ordinal))


def _bursts(
    key: tuple[Any, ...],
    first_day: int,
    increments: np.ndarray,
    z: np.ndarray,
    baseline_by_day: np.ndarray,
    scale_by_day: np.ndarray,
    thresholds: FraudThresholds,
) -> list[Flag]:
    flags = []
    for start, end in _runs(z > thresholds.burst_z):
        if end - start + 1 > thresholds.burst_max_days:
            continue
        base, scale = baseline_by_day[start], scale_by_day[start]
        before = _observed_neighbours(increments, start - 1, -1, thresholds.revert_days)
        after = _observed_neighbours(increments, end + 1, +1, thresholds.revert_days)
        if len(before) == 0 or len(after) < min(2, thresholds.revert_days):
            continue  # neither the entry nor the return can be seen: not judged
        if max(np.median(before) - base, np.median(after) - base) / scale > thresholds.revert_z:
            continue  # not a return to the baseline: a step, a ramp or a decaying peak
        # Against the higher of the baseline and the days around the run: the weekly baseline lags a recent
        # step up, and a noisy day on a new, higher level is no burst.
        local_level = max(float(base), float(np.median(np.concatenate([before, after]))), 1.0)
        peak_ratio = float(np.max(increments[start : end + 1])) / local_level
        if peak_ratio < thresholds.burst_min_ratio:
            continue  # within what daily noise does to a series now and then
        peak_z = float(np.max(z[start : end + 1]))
        flags.append(
            Flag(
                key=key,
                detector=BURST,
                # increments[i] is the growth from day i to day i + 1: the window is the days that grew.
                window_start=_iso(first_day + start + 1),
                window_end=_iso(first_day + end + 1),
                score=round(peak_z / thresholds.burst_z, 3),
                evidence={
                    "baseline_per_day": round(float(base), 2),
                    "scale": round(float(scale), 2),
                    "increments": [round(float(v), 2) for v in increments[start : end + 1]],
                    "max_z": round(peak_z, 2),
                    "peak_ratio": round(peak_ratio, 2),
                    "before": [round(float(v), 2) for v in before],
                    "after": [round(float(v), 2) for v in after],
                },
            )
        )
    return flags


def _plateaus(
    key: tuple[Any, ...], first_day: int, weekly: _Weekly, row: int, thresholds: FraudThresholds
) -> list[Flag]:
    flat = (
        (weekly.spread[row] <= thresholds.plateau_spread)
        & (weekly.median[row] >= thresholds.plateau_min_increment)
        & (weekly.observed[row] >= _MIN_OBSERVED_PER_WEEK)
    )
    flags = []
    for start, end in _runs(flat):
        weeks = end - start + 1
        if weeks < thresholds.plateau_weeks:
            continue
        worst = float(np.max(weekly.spread[row, start : end + 1]))
        flags.append(
            Flag(
                key=key,
                detector=PLATEAU,
                window_start=_iso(first_day + start * WEEK + 1),
                window_end=_iso(first_day + (end + 1) * WEEK),
                score=round(min(100.0, thresholds.plateau_spread / max(worst, 1e-6)), 3),
                evidence={
                    "weeks": weeks,
                    "weekly_median": [round(float(v), 2) for v in weekly.median[row, start : end + 1]],
                    "weekly_spread": [round(float(v), 5) for v in weekly.spread[row, start : end + 1]],
                },
            )
        )
    return flags


def detect(points: Points, thresholds: FraudThresholds) -> list[Flag]:
    """Burst and plateau flags of every series in ``points``."""
    grid = _grid(points)
    if grid.values.size == 0:
        return []
    increments = daily_increments(grid.values)
    weekly = _weekly(increments)
    baseline, scale = _baseline(weekly, thresholds)
    baseline_by_day = np.repeat(baseline, WEEK, axis=1)
    scale_by_day = np.repeat(scale, WEEK, axis=1)
    with np.errstate(invalid="ignore"):
        z = (increments - baseline_by_day) / scale_by_day
        high = (z > thresholds.burst_z) & (increments >= thresholds.burst_min_ratio * baseline_by_day)
        burst_candidates = np.flatnonzero(np.any(high, axis=1))
        plateau_candidates = np.flatnonzero(np.any(weekly.spread <= thresholds.plateau_spread, axis=1))
    flags: list[Flag] = []
    for row in burst_candidates:
        flags += _bursts(
            points.keys[row],
            int(grid.first_day[row]),
            increments[row],
            z[row],
            baseline_by_day[row],
            scale_by_day[row],
            thresholds,
        )
    for row in plateau_candidates:
        flags += _plateaus(points.keys[row], int(grid.first_day[row]), weekly, int(row), thresholds)
    return flags


def detect_chart_mismatch(
    key: tuple[Any, ...],
    increments_by_day: dict[date, float],
    chart_by_day: dict[date, tuple[float, float | None]],
    thresholds: FraudThresholds,
) -> list[Flag]:
    """Days whose increment the chart contradicts; one flag when there are at least ``mismatch_min_days``.

    ``chart_by_day``: per day, (streams of the chart's last entry, the track's own chart streams or None
    when it is not on the chart). Off the chart with more than ratio x the last entry's streams, or on the
    chart with fewer than its chart streams / ratio, the two sources cannot both be right.
    """
    days = []
    for day, increment in sorted(increments_by_day.items()):
        if day not in chart_by_day or np.isnan(increment):
            continue
        cutoff, own = chart_by_day[day]
        if own is None and cutoff > 0 and increment > thresholds.mismatch_ratio * cutoff:
            days.append((day, increment, cutoff, increment / cutoff))
        elif own is not None and own > 0 and increment < own / thresholds.mismatch_ratio:
            days.append((day, increment, own, own / max(increment, 1.0)))
    if len(days) < thresholds.mismatch_min_days:
        return []
    ratio = float(np.median([d[3] for d in days]))
    return [
        Flag(
            key=key,
            detector=CHART_MISMATCH,
            window_start=days[0][0],
            window_end=days[-1][0],
            score=round(ratio / thresholds.mismatch_ratio, 3),
            evidence={
                "days": [
                    {"date": d[0].isoformat(), "increment": round(d[1], 2), "chart_streams": round(d[2], 2)}
                    for d in days
                ]
            },
        )
    ]


# --- analysts' command line ---------------------------------------------------------------------------------

INPUT_COLUMNS = ("entity_id", "platform", "date", "value")
OUTPUT_COLUMNS = ("entity_id", "platform", "first_date", "last_date", "score", "reason")


def read_points_csv(path: Path) -> Points:
    """Read ``entity_id,platform,date,value`` rows; any bad row stops the read with its line number."""
    rows = []
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [column for column in INPUT_COLUMNS if column not in (reader.fieldnames or [])]
        if missing:
            raise InputError(
                f"{path}: missing column(s) {', '.join(missing)}; expected {','.join(INPUT_COLUMNS)}"
            )
        for line, row in enumerate(reader, start=2):
            try:
                day = date.fromisoformat(row["date"])
                value = float(row["value"])
            except (TypeError, ValueError) as error:
                raise InputError(f"{path}:{line}: bad date or value ({error})") from error
            if not row["entity_id"] or not row["platform"] or not np.isfinite(value):
                raise InputError(
                    f"{path}:{line}: entity_id and platform are required and value must be finite"
                )
            rows.append((row["entity_id"], row["platform"], day, value))
    try:
        return Points.from_rows(rows)
    except InputError as error:
        raise InputError(f"{path}: {error}") from error


def flags_by_series(flags: Iterable[Flag]) -> list[dict[str, Any]]:
    """One summary row per flagged series: its flagged span, best score and every reason."""
    grouped: dict[tuple[Any, ...], list[Flag]] = {}
    for flag in flags:
        grouped.setdefault(flag.key, []).append(flag)
    rows = []
    for key, series_flags in sorted(grouped.items(), key=lambda item: tuple(map(str, item[0]))):
        series_flags.sort(key=lambda flag: (flag.window_start, flag.detector))
        rows.append(
            {
                "entity_id": key[0],
                "platform": key[1],
                "first_date": min(flag.window_start for flag in series_flags).isoformat(),
                "last_date": max(flag.window_end for flag in series_flags).isoformat(),
                "score": max(flag.score for flag in series_flags),
                "reason": "; ".join(
                    f"{flag.detector} {flag.window_start.isoformat()}..{flag.window_end.isoformat()}"
                    f" (score {flag.score})"
                    for flag in series_flags
                ),
            }
        )
    return rows


def write_flags_csv(rows: list[dict[str, Any]], path: Path) -> None:
    # Written next to the target and moved over it: a failed run never leaves half a file.
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=OUTPUT_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    partial.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m musiccharts.analytics.fraud", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    detect_command = commands.add_parser("detect", help="flag suspicious series of a points CSV")
    detect_command.add_argument(
        "--input", required=True, type=Path, help="CSV: entity_id,platform,date,value"
    )
    detect_command.add_argument("--output", required=True, type=Path, help="CSV of flagged series")
    detect_command.add_argument("--config", type=Path, help="analytics YAML (default: the project's)")
    args = parser.parse_args(argv)
    try:
        thresholds = load_analytics_config(args.config).fraud
        points = read_points_csv(args.input)
    except (OSError, InputError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    rows = flags_by_series(detect(points, thresholds))
    write_flags_csv(rows, args.output)
    print(f"{len(points.keys)} series, {len(points.day)} points, {len(rows)} flagged -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
