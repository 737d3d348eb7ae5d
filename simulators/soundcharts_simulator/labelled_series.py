"""Labelled audience series: organic behaviour and injected fraud, with the ground truth, for benchmarks.

Each series is cumulative (as Soundcharts serves stream counts) and daily, with gaps. Kinds:

- ``organic``: a base daily level (log-uniform), weekly seasonality, multiplicative noise, slow drift;
- ``release``: a release-week peak decaying to a new level (at the start of the series or in its middle);
- ``viral``: an organic ramp (logistic) to many times the level, which then stays;
- ``playlist_step``: a lasting step up (a playlist add);
- ``burst`` (fraud): a few days of injected streams, then back to the baseline at once;
- ``plateau`` (fraud): weeks of bot-regular daily increments (almost no variance).

Gaps come in two forms, both seen in real data: days missing entirely, and a value repeated from the day
before (the source did not update that day). ``fraud_window`` gives the injected days.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

KINDS = ("organic", "release", "viral", "playlist_step", "burst", "plateau")
FRAUD_KINDS = frozenset({"burst", "plateau"})


@dataclass(frozen=True)
class LabelledSeries:
    entity_id: str
    platform: str
    kind: str
    start: date
    values: list[float | None]  # cumulative, one per day from ``start``; None = missing day
    fraud_window: tuple[date, date] | None

    @property
    def is_fraud(self) -> bool:
        return self.kind in FRAUD_KINDS

    def points(self) -> Iterator[tuple[str, str, date, float]]:
        for offset, value in enumerate(self.values):
            if value is not None:
                yield self.entity_id, self.platform, self.start + timedelta(days=offset), value


def _organic_increments(rng: np.random.Generator, days: int, level: float) -> np.ndarray:
    weekday = np.arange(days) % 7
    seasonality = 1 + rng.uniform(0.03, 0.15) * np.sin(2 * np.pi * (weekday + rng.integers(7)) / 7)
    drift = np.exp(np.cumsum(rng.normal(0, 0.01, days)))
    noise = rng.lognormal(0, rng.uniform(0.08, 0.25), days)
    return level * seasonality * drift * noise


def _shape(rng: np.random.Generator, kind: str, days: int) -> tuple[np.ndarray, tuple[int, int] | None]:
    """Multiplier of the organic increments for the kind, and the fraud window (day offsets, inclusive)."""
    t = np.arange(days, dtype=float)
    factor = np.ones(days)
    window = None
    if kind == "release":
        at = 0 if rng.random() < 0.5 else int(rng.integers(60, days - 60))
        half_life = rng.uniform(2.5, 14)
        peak = rng.uniform(3, 12)
        after = np.clip(t - at, 0, None)
        new_level = rng.uniform(1.0, 1.6)
        factor = np.where(t >= at, new_level + (peak - new_level) * 0.5 ** (after / half_life), 1.0)
    elif kind == "viral":
        middle = rng.uniform(60, days - 60)
        width = rng.uniform(3, 10)
        factor = 1 + rng.uniform(4, 30) / (1 + np.exp(-(t - middle) / width))
    elif kind == "playlist_step":
        at = int(rng.integers(45, days - 45))
        factor = np.where(t >= at, rng.uniform(1.5, 4), 1.0)
    elif kind == "burst":
        at = int(rng.integers(60, days - 30))
        window = (at, at + int(rng.integers(1, 6)) - 1)
    elif kind == "plateau":
        at = int(rng.integers(45, days - 80))
        length = int(rng.integers(28, 71))
        window = (at, at + length - 1)
    return factor, window


def generate_series(
    rng: np.random.Generator,
    entity_id: str,
    kind: str,
    *,
    start: date,
    days: int = 365,
    platform: str = "spotify",
) -> LabelledSeries:
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    if days < 150:
        raise ValueError("series need at least 150 days (room for history before and after an event)")
    level = float(np.exp(rng.uniform(np.log(500), np.log(500_000))))
    increments = _organic_increments(rng, days, level)
    factor, window = _shape(rng, kind, days)
    increments = increments * factor
    if kind == "burst" and window is not None:
        at, end = window
        increments[at : end + 1] += level * rng.uniform(3, 12, end - at + 1)
    elif kind == "plateau" and window is not None:
        at, end = window
        constant = float(np.median(increments[at - 28 : at])) * rng.uniform(0.7, 1.5)
        increments[at : end + 1] = constant * (1 + rng.uniform(-0.004, 0.004, end - at + 1))
    cumulative = np.round(rng.uniform(1e4, 1e7) + np.cumsum(increments))
    values: list[float | None] = [float(v) for v in cumulative]
    # Gaps: some missing days, some days the source repeated the previous value.
    for _ in range(int(rng.integers(0, 4))):
        gap_at = int(rng.integers(1, days - 6))
        for offset in range(gap_at, gap_at + int(rng.integers(1, 6))):
            values[offset] = None
    for _ in range(int(rng.integers(0, 3))):
        stale_at = int(rng.integers(1, days))
        if values[stale_at] is not None and values[stale_at - 1] is not None:
            values[stale_at] = values[stale_at - 1]
    fraud_window = None
    if window is not None:
        fraud_window = (start + timedelta(days=window[0]), start + timedelta(days=window[1]))
    return LabelledSeries(entity_id, platform, kind, start, values, fraud_window)


def generate_dataset(
    seed: int, count: int, *, days: int = 365, start: date = date(2025, 1, 1), fraud_share: float = 0.2
) -> list[LabelledSeries]:
    """``count`` series, ``fraud_share`` of them fraud (bursts, plateaus), the rest spread over the others."""
    rng = np.random.default_rng(seed)
    honest = [kind for kind in KINDS if kind not in FRAUD_KINDS]
    fraud = sorted(FRAUD_KINDS)
    series = []
    for number in range(count):
        if rng.random() < fraud_share:
            kind = fraud[int(rng.integers(len(fraud)))]
        else:
            kind = honest[int(rng.integers(len(honest)))]
        series.append(generate_series(rng, f"s{seed}-{number:06d}", kind, start=start, days=days))
    return series
