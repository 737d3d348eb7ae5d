"""Typed configuration read from ``include/config/*.yaml``.

Parsing is strict: a bad entry rejects the whole file with a message naming the entry and the field, so a
typo never silently drops a chart from the schedule.
"""

from __future__ import annotations

import os
import re
from datetime import date, timedelta
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Annotated, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"
CHARTS_FILE = CONFIG_DIR / "charts.yaml"


ModelT = TypeVar("ModelT", bound=BaseModel)


class ConfigError(ValueError):
    """A configuration file is invalid; the message names the file, the entry and the field."""


def parse_sections(text: str, model: type[ModelT], source: str) -> ModelT:
    """Parse a YAML document of sections into ``model``; raise :class:`ConfigError` naming each bad field."""
    try:
        document = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as error:
        raise ConfigError(f"{source}: not valid YAML: {error}") from None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ConfigError(f"{source}: expected a mapping of sections at the top level")
    try:
        return model.model_validate(document)
    except ValidationError as error:
        problems = "; ".join(
            f"field '{'.'.join(str(part) for part in item['loc']) or '<root>'}': {item['msg']}"
            for item in error.errors()
        )
        raise ConfigError(f"{source}: {problems}") from None


class Frequency(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=100)]

#: How long after the end of its period a chart's ranking may take to be published before the run fails.
#: Real charts appear hours after the day they rank; weekly and monthly ones may lag by days.
DEFAULT_PUBLICATION_DEADLINE: dict[Frequency, timedelta] = {
    Frequency.DAILY: timedelta(hours=48),
    Frequency.WEEKLY: timedelta(days=8),
    Frequency.MONTHLY: timedelta(days=35),
}

_DURATION = re.compile(r"^(?P<amount>[1-9][0-9]*)(?P<unit>[mhd])$")
_DURATION_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta:
    """``90m``, ``48h``, ``8d`` -> a timedelta; anything else raises ValueError naming the accepted form."""
    match = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"expected a duration such as 90m, 48h or 8d, got {text!r}")
    return timedelta(**{_DURATION_UNITS[match["unit"]]: int(match["amount"])})


class ChartConfig(BaseModel):
    """One chart to sync. ``history_start`` is the first period catchup fills."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    slug: Slug
    platform: Slug
    country: str = Field(pattern=r"^([A-Z]{2}|GLOBAL)$")
    frequency: Frequency
    history_start: date
    enabled: bool = True
    publication_deadline: timedelta | None = None

    @field_validator("publication_deadline", mode="before")
    @classmethod
    def _parse_deadline(cls, value: object) -> object:
        return parse_duration(value) if isinstance(value, str) else value

    @property
    def deadline(self) -> timedelta:
        """How long after its period ends a ranking may take to appear (``publication_deadline``)."""
        return self.publication_deadline or DEFAULT_PUBLICATION_DEADLINE[self.frequency]

    @field_validator("frequency", mode="before")
    @classmethod
    def _lowercase_frequency(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @property
    def dag_id(self) -> str:
        return f"sync_chart_rankings__{self.slug}"

    @property
    def country_code(self) -> str | None:
        """Country code as Soundcharts spells it (global charts have none)."""
        return None if self.country == "GLOBAL" else self.country


class _ChartsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    charts: list[dict]


def parse_chart_configs(text: str, source: str = "charts.yaml") -> list[ChartConfig]:
    """Parse the charts YAML document; raise :class:`ConfigError` naming entry and field on any problem."""
    try:
        # libyaml's loader when available: this runs at every DAG parse.
        document = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as error:
        raise ConfigError(f"{source}: not valid YAML: {error}") from None
    try:
        entries = _ChartsFile.model_validate(document or {}).charts
    except ValidationError as error:
        raise ConfigError(
            f"{source}: expected a top-level 'charts:' list ({error.errors()[0]['msg']})"
        ) from None

    charts: list[ChartConfig] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        label = f"charts[{index}]" + (f" (slug={entry.get('slug')})" if isinstance(entry, dict) else "")
        try:
            chart = ChartConfig.model_validate(entry)
        except ValidationError as error:
            problems = "; ".join(
                f"field '{'.'.join(str(p) for p in item['loc']) or '<entry>'}': {item['msg']}"
                for item in error.errors()
            )
            raise ConfigError(f"{source}: {label}: {problems}") from None
        if chart.slug in seen:
            raise ConfigError(f"{source}: {label}: field 'slug': duplicate of charts[{seen[chart.slug]}]")
        seen[chart.slug] = index
        charts.append(chart)
    return charts


def charts_file() -> Path:
    """``include/config/charts.yaml``, or the file named by ``MUSICCHARTS_CHARTS_FILE`` (tests, demos)."""
    override = os.environ.get("MUSICCHARTS_CHARTS_FILE")
    return Path(override) if override else CHARTS_FILE


def load_chart_configs(path: Path | None = None) -> tuple[ChartConfig, ...]:
    """The configured charts (cached per file: DAG parsing calls this often)."""
    return _load_chart_configs(path or charts_file())


@cache
def _load_chart_configs(path: Path) -> tuple[ChartConfig, ...]:
    return tuple(parse_chart_configs(path.read_text(), source=str(path.name)))
