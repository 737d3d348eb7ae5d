"""Typed configuration of maintenance, read from ``include/config/maintenance.yaml``.

Strict like the other domains: an unknown key or a bad value rejects the file with a message naming the
section and the field, so a typo never silently keeps data forever (or deletes it too early).
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from musiccharts.config import CONFIG_DIR, parse_sections

MAINTENANCE_FILE = CONFIG_DIR / "maintenance.yaml"
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _identifier(value: str) -> str:
    if not _IDENTIFIER.match(value):
        raise ValueError(f"{value!r} is not a lower-case SQL identifier")
    return value


class GenerationPolicy(_Strict):
    """How many backups to keep: the newest of each of the last N days, ISO weeks and months."""

    daily: int = Field(7, ge=1)
    weekly: int = Field(4, ge=0)
    monthly: int = Field(6, ge=0)
    #: A backup older than this is deleted whatever its generation (0 = no age limit).
    max_age_days: int = Field(400, ge=0)


class BackupConfig(_Strict):
    #: Where backups go: any fsspec URL ObjectStoragePath understands (``file:///...``, ``s3://conn@bucket/x``).
    #: Empty = ``$MUSICCHARTS_BACKUP_LOCATION``, else ``<AIRFLOW_HOME>/backups`` (``var/airflow/backups``).
    location: str = ""
    keep: GenerationPolicy = GenerationPolicy()
    #: ``pg_restore --jobs`` for the verification restore (and the restore command's default).
    restore_jobs: int = Field(2, ge=1, le=16)
    #: The health check flags the newest verified backup when it is older than this.
    stale_after_hours: float = Field(26, gt=0)


class PruneRule(_Strict):
    """Rows (or a payload column) of one table older than ``days`` by ``age_column``."""

    table: str
    age_column: str
    days: int = Field(90, ge=1)
    #: Set: the column is cleared (NULL or its default) instead of deleting the row (business rows stay).
    clear_column: str | None = None
    batch_size: int = Field(5000, ge=1, le=100_000)

    _table = field_validator("table", "age_column")(classmethod(lambda cls, v: _identifier(v)))

    @field_validator("clear_column")
    @classmethod
    def _column(cls, value: str | None) -> str | None:
        return None if value is None else _identifier(value)


class RetentionConfig(_Strict):
    product: tuple[PruneRule, ...] = ()
    #: Airflow metadata (``airflow db clean``) older than this many days.
    airflow_metadata_days: int = Field(90, ge=1)
    #: Task log files older than this many days.
    task_log_days: int = Field(30, ge=1)
    #: Upper bound of one prune batch's lock: each batch is its own short transaction.
    lock_timeout_seconds: float = Field(5, gt=0)

    @model_validator(mode="after")
    def _one_rule_per_target(self) -> RetentionConfig:
        seen = set()
        for rule in self.product:
            key = (rule.table, rule.clear_column)
            if key in seen:
                raise ValueError(f"table {rule.table} has two rules for the same target")
            seen.add(key)
        return self


class HealthThresholds(_Strict):
    disk_percent: float = Field(90, gt=0, le=100)
    memory_percent: float = Field(95, gt=0, le=100)
    cpu_percent: float = Field(95, gt=0, le=100)
    #: Dead tuples / live tuples above which a table counts as bloated (only tables above bloat_min_rows).
    bloat_ratio: float = Field(0.5, gt=0)
    bloat_min_rows: int = Field(10_000, ge=0)
    database_size_gb: float = Field(200, gt=0)
    replication_lag_seconds: float = Field(300, gt=0)
    heartbeat_seconds: float = Field(180, gt=0)
    #: Soundcharts quota: alert when fewer calls than this remain.
    soundcharts_quota_floor: int = Field(10_000, ge=0)
    #: A chart period is overdue this many hours after its publication deadline.
    overdue_grace_hours: float = Field(6, ge=0)


class HealthConfig(_Strict):
    thresholds: HealthThresholds = HealthThresholds()
    #: Paths whose file system the disk check watches (empty = the root and AIRFLOW_HOME).
    disk_paths: tuple[str, ...] = ()
    #: Results older than this are pruned by the retention DAG.
    keep_results_days: int = Field(30, ge=1)


class MaintenanceConfig(_Strict):
    backup: BackupConfig = BackupConfig()
    retention: RetentionConfig = RetentionConfig()
    health: HealthConfig = HealthConfig()


def parse_maintenance_config(text: str, source: str = "maintenance.yaml") -> MaintenanceConfig:
    """Parse the maintenance YAML; raise :class:`ConfigError` naming section and field on any problem."""
    return parse_sections(text, MaintenanceConfig, source)


def maintenance_file() -> Path:
    """``include/config/maintenance.yaml``, or the file named by ``MUSICCHARTS_MAINTENANCE_FILE``."""
    override = os.environ.get("MUSICCHARTS_MAINTENANCE_FILE")
    return Path(override) if override else MAINTENANCE_FILE


def load_maintenance_config(path: Path | None = None) -> MaintenanceConfig:
    return _load(path or maintenance_file())


@cache
def _load(path: Path) -> MaintenanceConfig:
    return parse_maintenance_config(path.read_text(), source=path.name)


def backup_location(config: BackupConfig) -> str:
    """The backup location URL/path: config, then ``$MUSICCHARTS_BACKUP_LOCATION``, then AIRFLOW_HOME."""
    if config.location:
        return config.location
    if os.environ.get("MUSICCHARTS_BACKUP_LOCATION"):
        return os.environ["MUSICCHARTS_BACKUP_LOCATION"]
    airflow_home = Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow"))
    return str(airflow_home / "backups")
