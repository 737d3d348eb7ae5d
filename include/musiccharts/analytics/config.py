"""Typed analytics thresholds from ``include/config/analytics.yaml``; a bad value rejects the whole file."""

from __future__ import annotations

import itertools
import os
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from musiccharts.config import CONFIG_DIR, parse_sections

ANALYTICS_FILE = CONFIG_DIR / "analytics.yaml"

_STRICT = ConfigDict(extra="forbid", frozen=True)


class FraudThresholds(BaseModel):
    model_config = _STRICT

    detector_version: str = Field(min_length=1)
    burst_z: float = Field(gt=0)
    burst_max_days: int = Field(ge=1)
    burst_min_ratio: float = Field(gt=1)
    revert_days: int = Field(ge=1)
    revert_z: float = Field(gt=0)
    min_relative_scale: float = Field(gt=0)
    min_history_weeks: int = Field(ge=1, le=4)
    plateau_spread: float = Field(gt=0)
    plateau_weeks: int = Field(ge=1)
    plateau_min_increment: float = Field(ge=0)
    mismatch_ratio: float = Field(gt=1)
    mismatch_min_days: int = Field(ge=1)

    @model_validator(mode="after")
    def _revert_below_burst(self) -> FraudThresholds:
        if self.revert_z >= self.burst_z:
            raise ValueError("revert_z must be below burst_z")
        return self


def _descending(values: list[float]) -> bool:
    return all(a > b for a, b in itertools.pairwise(values))


def _ascending(values: list[float]) -> bool:
    return all(a < b for a, b in itertools.pairwise(values))


class HealthThresholds(BaseModel):
    model_config = _STRICT

    completeness_bands: list[float] = Field(min_length=3, max_length=3)
    entry_ratio_bands: list[float] = Field(min_length=3, max_length=3)
    consistency_bands: list[float] = Field(min_length=3, max_length=3)
    freshness_bands: list[float] = Field(min_length=3, max_length=3)
    band_points: list[int] = Field(min_length=4, max_length=4)
    validation_failure_penalty: int = Field(default=5, ge=0)
    score_bands: dict[str, int]
    alert_below: int = Field(ge=0, le=100)
    recent_windows: dict[str, int]

    @model_validator(mode="after")
    def _ordered(self) -> HealthThresholds:
        if not (_descending(self.completeness_bands) and _descending(self.entry_ratio_bands)):
            raise ValueError("completeness_bands and entry_ratio_bands must be decreasing (best first)")
        if not (_ascending(self.consistency_bands) and _ascending(self.freshness_bands)):
            raise ValueError("consistency_bands and freshness_bands must be increasing (best first)")
        if self.band_points[0] != 25 or not _descending([float(p) for p in self.band_points]):
            raise ValueError("band_points must be decreasing and start at 25 (four parts of 25 points)")
        if set(self.recent_windows) != {"daily", "weekly", "monthly"}:
            raise ValueError("recent_windows needs exactly daily, weekly and monthly")
        if not self.score_bands or min(self.score_bands.values()) != 0:
            raise ValueError("score_bands needs a band starting at 0")
        return self

    def band(self, score: int) -> str:
        """The name of the band the score falls in (the highest lower bound not above it)."""
        return max(
            ((lower, name) for name, lower in self.score_bands.items() if score >= lower),
        )[1]


class ExportSettings(BaseModel):
    model_config = _STRICT

    base_url: str = Field(min_length=1)
    bump_chart_top: int = Field(ge=1)
    bump_chart_periods: int = Field(ge=2)


class AirplaySettings(BaseModel):
    model_config = _STRICT

    #: Days before today whose radio spins are fetched again on every run (Soundcharts may still be crawling
    #: them, so an empty answer is not final); older days are fetched once. 0 = every day fetched once.
    settle_days: int = Field(default=3, ge=0, le=30)


class AnalyticsConfig(BaseModel):
    model_config = _STRICT

    fraud: FraudThresholds
    health: HealthThresholds
    exports: ExportSettings
    airplay: AirplaySettings = Field(default_factory=AirplaySettings)


def analytics_file() -> Path:
    """``include/config/analytics.yaml``, or the file named by ``MUSICCHARTS_ANALYTICS_FILE``."""
    override = os.environ.get("MUSICCHARTS_ANALYTICS_FILE")
    return Path(override) if override else ANALYTICS_FILE


def parse_analytics_config(text: str, source: str = "analytics.yaml") -> AnalyticsConfig:
    """Parse the analytics YAML document; raise ``ConfigError`` naming section and field of every problem."""
    return parse_sections(text, AnalyticsConfig, source)


def load_analytics_config(path: Path | None = None) -> AnalyticsConfig:
    return _load(path or analytics_file())


@cache
def _load(path: Path) -> AnalyticsConfig:
    return parse_analytics_config(path.read_text(), source=path.name)
