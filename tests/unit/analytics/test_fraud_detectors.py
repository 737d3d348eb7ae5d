"""Fraud detectors on hand-built series: each must flag what it is for and leave organic shapes alone."""

from __future__ import annotations

import csv
import subprocess
import sys
from datetime import date, timedelta

import numpy as np
import pytest

from musiccharts.analytics.config import load_analytics_config
from musiccharts.analytics.fraud import (
    BURST,
    CHART_MISMATCH,
    PLATEAU,
    InputError,
    Points,
    daily_increments,
    detect,
    detect_chart_mismatch,
)
from tests.paths import REPO_ROOT

THRESHOLDS = load_analytics_config().fraud
START = date(2026, 1, 1)
DAYS = 200
LEVEL = 10_000.0


def organic(seed: int = 7) -> np.ndarray:
    """Daily increments around LEVEL: weekly rhythm and 12 % multiplicative noise (fixed seed)."""
    rng = np.random.default_rng(seed)
    t = np.arange(DAYS)
    return LEVEL * (1 + 0.08 * np.sin(2 * np.pi * t / 7)) * rng.lognormal(0, 0.12, DAYS)


def points_of(increments: np.ndarray, missing: set[int] = frozenset(), key: str = "t1") -> Points:
    cumulative = 1_000_000 + np.cumsum(increments)
    rows = [
        (key, "spotify", START + timedelta(days=offset), float(round(value)))
        for offset, value in enumerate(cumulative)
        if offset not in missing
    ]
    return Points.from_rows(rows)


def detectors(points: Points) -> list[tuple[str, date, date]]:
    return [(flag.detector, flag.window_start, flag.window_end) for flag in detect(points, THRESHOLDS)]


def test_organic_series_is_not_flagged():
    assert detectors(points_of(organic())) == []


def test_burst_that_reverts_is_flagged_on_its_days():
    increments = organic()
    increments[100:103] += LEVEL * 6  # three days of injected streams, then back at once
    flags = detect(points_of(increments), THRESHOLDS)

    assert [(f.detector, f.window_start, f.window_end) for f in flags] == [
        # increments[i] is the growth into day i (day 0 is the first value)
        (BURST, START + timedelta(days=100), START + timedelta(days=102))
    ]
    assert flags[0].score > 1
    assert flags[0].evidence["peak_ratio"] >= THRESHOLDS.burst_min_ratio
    assert len(flags[0].evidence["increments"]) == 3


def test_release_peak_decaying_over_days_is_not_flagged():
    increments = organic()
    t = np.arange(DAYS)
    increments *= np.where(t >= 100, 1.2 + 8 * 0.5 ** ((t - 100) / 3.0), 1.0)
    assert detectors(points_of(increments)) == []


def test_release_week_at_the_start_of_a_series_is_not_flagged():
    increments = organic()
    increments *= 1 + 9 * 0.5 ** (np.arange(DAYS) / 4.0)
    assert detectors(points_of(increments)) == []


def test_viral_ramp_is_not_flagged():
    increments = organic()
    t = np.arange(DAYS)
    increments *= 1 + 20 / (1 + np.exp(-(t - 110) / 5))
    assert detectors(points_of(increments)) == []


def test_lasting_playlist_step_is_not_flagged():
    increments = organic()
    increments[90:] *= 3.5
    assert detectors(points_of(increments)) == []


def test_gap_is_a_gap_not_a_spike():
    # Five missing days: the cumulative value jumps by six days of growth across the gap.
    assert detectors(points_of(organic(), missing={100, 101, 102, 103, 104})) == []


def test_repeated_value_then_catch_up_is_a_gap_not_a_spike():
    increments = organic()
    increments[120] += increments[119]  # the source repeated day 119's value, then caught up
    increments[119] = 0
    computed = daily_increments(np.array([1_000_000 + np.cumsum(increments)]))
    assert np.isnan(computed[0, 118]) and np.isnan(computed[0, 119])
    assert detectors(points_of(increments)) == []


def test_bot_regular_plateau_is_flagged():
    increments = organic()
    increments[70:110] = 9_000 + np.tile([0, 5, -5, 3, -3, 1, -1, 2], 5)  # 40 days, 0.1 % spread
    flagged = detectors(points_of(increments))

    assert [flag[0] for flag in flagged] == [PLATEAU]
    _detector, first, last = flagged[0]
    assert START + timedelta(days=70) <= first and last <= START + timedelta(days=109)
    assert (last - first).days >= 7 * THRESHOLDS.plateau_weeks - 1


def test_two_regular_weeks_are_not_enough_for_a_plateau():
    increments = organic()
    increments[71:85] = 9_000
    assert detectors(points_of(increments)) == []


def test_duplicate_days_are_refused():
    rows = [("t1", "spotify", START, 1.0), ("t1", "spotify", START, 2.0)]
    with pytest.raises(InputError, match="two values for the same day"):
        detect(Points.from_rows(rows), THRESHOLDS)


def test_chart_mismatch_flags_streams_the_chart_contradicts():
    days = [START + timedelta(days=offset) for offset in range(10)]
    # Off the chart all along while the counter grows four times the chart's last entry on days 3..7.
    increments = {day: (40_000.0 if 3 <= index <= 7 else 5_000.0) for index, day in enumerate(days)}
    chart = dict.fromkeys(days, (10000.0, None))
    flags = detect_chart_mismatch(("t1", "spotify"), increments, chart, THRESHOLDS)

    assert [(f.detector, f.window_start, f.window_end) for f in flags] == [(CHART_MISMATCH, days[3], days[7])]
    assert flags[0].score == pytest.approx(4.0 / THRESHOLDS.mismatch_ratio, rel=1e-3)


def test_chart_mismatch_leaves_consistent_series_alone():
    days = [START + timedelta(days=offset) for offset in range(10)]
    increments = dict.fromkeys(days, 30000.0)
    # On the chart with 28,000 chart streams, or off it below the cutoff: both agree with the counter.
    chart = {day: (20_000.0, 28_000.0 if index % 2 else None) for index, day in enumerate(days)}
    chart.update(dict.fromkeys(days[::2], (35000.0, None)))
    assert detect_chart_mismatch(("t1", "spotify"), increments, chart, THRESHOLDS) == []


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "musiccharts.analytics.fraud", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(REPO_ROOT / "include"), "PATH": ""},
    )


def test_cli_writes_one_row_per_flagged_series(tmp_path):
    burst = organic()
    burst[101:103] += LEVEL * 8
    with (tmp_path / "points.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["entity_id", "platform", "date", "value"])
        for key, increments in (("fraudulent", burst), ("honest", organic(11))):
            for offset, value in enumerate(1_000 + np.cumsum(increments)):
                writer.writerow([key, "spotify", (START + timedelta(days=offset)).isoformat(), round(value)])

    result = run_cli(
        "detect", "--input", str(tmp_path / "points.csv"), "--output", str(tmp_path / "flags.csv")
    )

    assert result.returncode == 0, result.stderr
    with (tmp_path / "flags.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["entity_id"], row["platform"], row["first_date"], row["last_date"]) for row in rows] == [
        ("fraudulent", "spotify", "2026-04-12", "2026-04-13")
    ]
    assert float(rows[0]["score"]) > 1
    assert rows[0]["reason"].startswith("burst 2026-04-12..2026-04-13")


def test_cli_rejects_a_bad_row_with_its_line_and_writes_nothing(tmp_path):
    (tmp_path / "points.csv").write_text(
        "entity_id,platform,date,value\nt1,spotify,2026-01-01,10\nt1,spotify,2026-13-01,20\n"
    )
    result = run_cli(
        "detect", "--input", str(tmp_path / "points.csv"), "--output", str(tmp_path / "flags.csv")
    )

    assert result.returncode == 2
    assert "points.csv:3: bad date or value" in result.stderr
    assert not (tmp_path / "flags.csv").exists()


def test_cli_rejects_missing_columns(tmp_path):
    (tmp_path / "points.csv").write_text("entity,date,value\n")
    result = run_cli(
        "detect", "--input", str(tmp_path / "points.csv"), "--output", str(tmp_path / "flags.csv")
    )
    assert result.returncode == 2
    assert "missing column(s) entity_id, platform" in result.stderr


def test_grouped_rows_give_the_same_points_as_any_order():
    rows = [
        ("a", "spotify", 10, 1.0),
        ("a", "spotify", 11, 2.0),
        ("b", "spotify", 10, 5.0),
        ("a", "youtube", 3, 7.0),
    ]
    grouped = Points.from_grouped_rows(rows)
    generic = Points.from_rows(rows)
    assert grouped.keys == generic.keys == [("a", "spotify"), ("b", "spotify"), ("a", "youtube")]
    assert grouped.series.tolist() == generic.series.tolist() == [0, 0, 1, 2]
    assert grouped.day.tolist() == [10, 11, 10, 3] and grouped.value.tolist() == [1.0, 2.0, 5.0, 7.0]


def test_grouped_rows_with_a_key_split_in_two_fall_back_to_one_series():
    rows = [("a", "spotify", 10, 1.0), ("b", "spotify", 10, 5.0), ("a", "spotify", 11, 2.0)]
    points = Points.from_grouped_rows(rows)
    assert points.keys == [("a", "spotify"), ("b", "spotify")]
    assert points.series.tolist() == [0, 1, 0]
