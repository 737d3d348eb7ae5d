"""Typed configuration of song analysis, read from ``include/config/analysis.yaml`` (strict)."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from musiccharts.config import CONFIG_DIR, ConfigError

ANALYSIS_FILE = CONFIG_DIR / "analysis.yaml"

__all__ = ["ANALYSIS_FILE", "AnalysisConfig", "load_analysis_config"]

RiskLevel = str


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScoredRule(_Strict):
    score_above: float = Field(ge=0, le=100)
    similarity_above: float | None = Field(None, ge=0, le=1)
    risk: str = Field(pattern="^(low|medium|high|critical)$")


class PlainRule(_Strict):
    risk: str = Field(pattern="^(low|medium|high|critical)$")


class CriticalRule(_Strict):
    exact_other_artist_score_above: float = Field(ge=0, le=100)
    ai_probability_at_least: float = Field(ge=0, le=100)


class RiskConfig(_Strict):
    exact: ScoredRule
    cover: ScoredRule
    similar: ScoredRule
    no_match: PlainRule
    critical: CriticalRule
    ai_medium_probability_at_least: float = Field(50, ge=0, le=100)


class ScanConfig(_Strict):
    callback_check_seconds: float = Field(1, gt=0)
    first_poll_seconds: float = Field(180, gt=0)
    poll_backoff_factor: float = Field(2.0, ge=1)
    max_poll_seconds: float = Field(300, gt=0)
    deadline_seconds: float = Field(7200, gt=0)


class IdentificationConfig(_Strict):
    sample_seconds: float = Field(12, gt=0, le=15)
    sample_offset_seconds: float = Field(0, ge=0)
    max_sample_bytes: int = Field(5_000_000, gt=0, le=5 * 1024 * 1024)


class AudioConfig(_Strict):
    max_file_bytes: int = Field(50 * 1024 * 1024, gt=0)
    presigned_upload_above_bytes: int = Field(20 * 1024 * 1024, gt=0)


class BatchConfig(_Strict):
    max_songs: int = Field(500, ge=1, le=1024)


class AnalysisConfig(_Strict):
    risk: RiskConfig
    scan: ScanConfig = ScanConfig()
    identification: IdentificationConfig = IdentificationConfig()
    audio: AudioConfig = AudioConfig()
    batch: BatchConfig = BatchConfig()


def parse_analysis_config(text: str, source: str = "analysis.yaml") -> AnalysisConfig:
    try:
        data = yaml.safe_load(text)
        return AnalysisConfig.model_validate(data)
    except (yaml.YAMLError, ValidationError) as error:
        raise ConfigError(f"{source}: {error}") from error


@cache
def _load(path: str, mtime: float) -> AnalysisConfig:
    return parse_analysis_config(Path(path).read_text(), path)


def load_analysis_config(path: Path | str | None = None) -> AnalysisConfig:
    """The analysis configuration (``MUSICCHARTS_ANALYSIS_CONFIG`` overrides the file path)."""
    chosen = Path(path or os.environ.get("MUSICCHARTS_ANALYSIS_CONFIG") or ANALYSIS_FILE)
    return _load(str(chosen), chosen.stat().st_mtime)
