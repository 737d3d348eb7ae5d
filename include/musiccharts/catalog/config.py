"""Typed configuration of the catalog domain, read from ``include/config/catalog.yaml``.

Parsing is strict like :mod:`musiccharts.config`: an unknown key or an invalid value rejects the whole file
with a message naming the section and the field, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from musiccharts.config import CONFIG_DIR, parse_sections

CATALOG_FILE = CONFIG_DIR / "catalog.yaml"

#: Airflow's default ``[core] max_map_length``: more mapped instances than this fail the upstream task.
DEFAULT_MAX_MAP_LENGTH = 1024


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MetadataConfig(_Strict):
    """Batched metadata fetch of one entity kind (tracks or artists)."""

    endpoint_max: int = Field(10, ge=1, le=100)
    staleness_days: int = Field(30, ge=0)
    failure_threshold: float = Field(0.1, ge=0.0, le=1.0)
    max_batches: int = Field(1000, ge=1, le=DEFAULT_MAX_MAP_LENGTH)


class AudienceConfig(_Strict):
    track_platforms: tuple[str, ...] = ("spotify", "youtube", "shazam", "airplay")
    artist_platforms: tuple[str, ...] = ("spotify", "youtube", "instagram", "tiktok")
    entities_per_batch: int = Field(25, ge=1)
    max_batches: int = Field(1000, ge=1, le=DEFAULT_MAX_MAP_LENGTH)
    first_fetch_days: int = Field(90, ge=1)
    max_window_days: int = Field(90, ge=1, le=90)
    failure_threshold: float = Field(0.1, ge=0.0, le=1.0)

    @field_validator("track_platforms", "artist_platforms")
    @classmethod
    def _unique_slugs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for slug in value:
            if not slug or slug != slug.strip().lower():
                raise ValueError(f"platform {slug!r} must be a lowercase Soundcharts platform code")
        if len(set(value)) != len(value):
            raise ValueError("platforms are listed twice")
        return value


class CatalogueConfig(_Strict):
    countries: tuple[str, ...] = ("GLOBAL",)
    platforms: tuple[str, ...] = ()

    @field_validator("countries")
    @classmethod
    def _country_codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for code in value:
            if code != "GLOBAL" and not (len(code) == 2 and code.isalpha() and code.isupper()):
                raise ValueError(f"country {code!r} must be an ISO 3166-1 alpha-2 code or GLOBAL")
        return value


class CatalogConfig(_Strict):
    track_metadata: MetadataConfig = MetadataConfig()
    artist_metadata: MetadataConfig = MetadataConfig()
    audience: AudienceConfig = AudienceConfig()
    catalogue: CatalogueConfig = CatalogueConfig()


def parse_catalog_config(text: str, source: str = "catalog.yaml") -> CatalogConfig:
    """Parse the catalog YAML document; raise :class:`ConfigError` naming section and field on any problem."""
    return parse_sections(text, CatalogConfig, source)


def catalog_file() -> Path:
    """``include/config/catalog.yaml``, or the file named by ``MUSICCHARTS_CATALOG_FILE`` (tests, demos)."""
    override = os.environ.get("MUSICCHARTS_CATALOG_FILE")
    return Path(override) if override else CATALOG_FILE


def load_catalog_config(path: Path | None = None) -> CatalogConfig:
    """The catalog configuration (cached per file: DAG parsing calls this often)."""
    return _load(path or catalog_file())


@cache
def _load(path: Path) -> CatalogConfig:
    return parse_catalog_config(path.read_text(), source=path.name)
