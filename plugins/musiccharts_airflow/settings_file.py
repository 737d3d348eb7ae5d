"""``airflow_settings.yaml``: parse, validate and apply Airflow connections, pools and variables.

The file uses the astro-CLI layout::

    airflow:
      connections:
        - {conn_id, conn_type, conn_host, conn_schema, conn_login, conn_password, conn_port, conn_extra}
          (or conn_id + conn_uri alone)
      pools:
        - {pool_name, pool_slot, pool_description, pool_include_deferred}
      variables:
        - {variable_name, variable_value}

Environment references. Any string value may contain ``${NAME}`` (the variable must be set, otherwise the
file is rejected) or ``${NAME:-default}`` (``default`` when NAME is unset *or empty*, as in docker compose).
``$$`` is a literal ``$``. Inside ``conn_extra`` a value that is exactly one reference is re-read as a YAML
scalar after expansion, so ``requests_per_minute: ${RPM:-600}`` stays the number 600 in the JSON extra.
An empty optional connection field (``conn_login: ${X:-}``) means "not set".

An entry whose values are all empty is skipped, as astro does with the placeholders of its template.

Applying is an upsert in ONE metadata-database transaction with the calls Airflow's own import commands
make (``connections import --overwrite``: a new ``Connection`` merged onto the old row's id;
``Pool.create_or_update_pool``; ``Variable.set``): listed objects are created or updated, unlisted ones are
never touched, an unchanged object is not written, and if anything fails nothing is written. Passwords and
extras are encrypted by the models with the configured Fernet key, as when set through the UI.

Command line (exit status 2 on a malformed file, 1 when applying fails; output names objects and changed
fields, never values)::

    python -m musiccharts_airflow.settings_file validate airflow_settings.yaml
    python -m musiccharts_airflow.settings_file apply [airflow_settings.yaml]

Airflow is imported only inside :func:`apply_settings`, so validating a file is cheap and needs no database.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

#: Column limits of Airflow's metadata schema (airflow.models.connection / variable / pool): checked at
#: validation time so a too-long value is a file error, not a database error halfway through applying.
ID_MAX_LEN = 250
HOST_MAX_LEN = 500
POOL_NAME_MAX_LEN = 256
#: The characters Airflow accepts in a connection id (airflow.models.connection.RE_SANITIZE_CONN_ID).
CONN_ID_PATTERN = re.compile(r"^[\w#!()\-.:/\\]+$")
#: Serialises concurrent appliers (e.g. two init containers) on PostgreSQL; any fixed 64-bit number works.
APPLY_ADVISORY_LOCK_ID = 7_310_245_011

_ENV_REFERENCE = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")
_WHOLE_REFERENCE = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}$")


class SettingsError(ValueError):
    """The settings file is malformed; ``problems`` lists one line per offending entry and key."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(f"{source} is invalid:\n" + "\n".join(f"  - {problem}" for problem in problems))


class _EnvironmentReferenceError(ValueError):
    pass


def expand_environment(text: str, environ: Mapping[str, str]) -> str:
    """Replace ``${NAME}`` / ``${NAME:-default}`` / ``$$`` in ``text`` from ``environ``."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = match.group("name"), match.group("default")
        value = environ.get(name)
        if default is not None:
            return value if value else default
        if value is None:
            raise _EnvironmentReferenceError(
                f"environment variable {name} is not set (use ${{{name}:-default}})"
            )
        return value

    return _ENV_REFERENCE.sub(substitute, text)


def _expand_tree(value: Any, environ: Mapping[str, str], *, retype_whole_references: bool) -> Any:
    """Expand references in every string of a YAML tree (keys are left alone)."""
    if isinstance(value, str):
        expanded = expand_environment(value, environ)
        if retype_whole_references and _WHOLE_REFERENCE.match(value.strip()):
            # The JSON extra keeps numbers/booleans typed even when they come from the environment.
            retyped = yaml.safe_load(expanded) if expanded.strip() else ""
            if isinstance(retyped, str | int | float | bool) or retyped is None:
                return retyped
        return expanded
    if isinstance(value, dict):
        return {
            key: _expand_tree(item, environ, retype_whole_references=retype_whole_references)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [
            _expand_tree(item, environ, retype_whole_references=retype_whole_references) for item in value
        ]
    return value


def _reject_bool(value: Any) -> Any:
    # YAML `yes`/`true` would otherwise be accepted as the integer 1.
    if isinstance(value, bool):
        raise ValueError("must be an integer, not a boolean")
    return value


class ConnectionSetting(BaseModel):
    """One ``airflow.connections[]`` entry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    conn_id: str = Field(min_length=1, max_length=ID_MAX_LEN)
    conn_type: str | None = None
    conn_host: str | None = Field(default=None, max_length=HOST_MAX_LEN)
    conn_schema: str | None = Field(default=None, max_length=HOST_MAX_LEN)
    conn_login: str | None = None
    conn_password: str | None = None
    conn_port: int | None = Field(default=None, ge=1, le=65535)
    conn_extra: dict[str, Any] | None = None
    conn_uri: str | None = None

    @field_validator(
        "conn_type", "conn_host", "conn_schema", "conn_login", "conn_password", "conn_uri", mode="before"
    )
    @classmethod
    def _empty_string_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("conn_port", mode="before")
    @classmethod
    def _port_is_an_integer(cls, value: Any) -> Any:
        return None if value == "" else _reject_bool(value)

    @field_validator("conn_id")
    @classmethod
    def _conn_id_characters(cls, value: str) -> str:
        if not CONN_ID_PATTERN.match(value):
            raise ValueError("may contain only letters, digits and # ! ( ) - . : / \\ _")
        return value

    @field_validator("conn_extra", mode="before")
    @classmethod
    def _extra_is_a_json_object(cls, value: Any) -> Any:
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as error:
                raise ValueError(f"a string extra must be a JSON object ({error.msg})") from None
        if not isinstance(value, dict):
            raise ValueError("must be a map (or a JSON object string)")
        try:
            json.dumps(value)
        except TypeError as error:
            raise ValueError(f"must be JSON-serialisable ({error})") from None
        return value

    @model_validator(mode="after")
    def _type_or_uri(self) -> ConnectionSetting:
        discrete = ("conn_type", "conn_host", "conn_schema", "conn_login", "conn_password", "conn_port")
        if self.conn_uri is not None:
            if any(getattr(self, name) is not None for name in (*discrete, "conn_extra")):
                raise ValueError("conn_uri: cannot be combined with conn_type/conn_host/... (use one form)")
        elif self.conn_type is None:
            raise ValueError("conn_type: field required (or give conn_uri)")
        return self

    def to_connection(self) -> Any:
        """This entry as Airflow's ``Connection`` model, built by its public constructor (URI form too)."""
        connection_model, _, _ = _orm_models()
        if self.conn_uri is not None:
            return connection_model(conn_id=self.conn_id, uri=self.conn_uri)
        return connection_model(
            conn_id=self.conn_id,
            conn_type=self.conn_type,
            host=self.conn_host,
            schema=self.conn_schema,
            login=self.conn_login,
            password=self.conn_password,
            port=self.conn_port,
            extra=self.conn_extra or None,
        )


class PoolSetting(BaseModel):
    """One ``airflow.pools[]`` entry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pool_name: str = Field(min_length=1, max_length=POOL_NAME_MAX_LEN)
    pool_slot: int = Field(gt=0)
    pool_description: str = ""
    pool_include_deferred: bool = False

    @field_validator("pool_slot", mode="before")
    @classmethod
    def _slot_is_an_integer(cls, value: Any) -> Any:
        if value is None or value == "":
            raise ValueError("must be set to a positive integer")
        return _reject_bool(value)

    @field_validator("pool_description", mode="before")
    @classmethod
    def _description_may_be_empty(cls, value: Any) -> Any:
        return "" if value is None else value


class VariableSetting(BaseModel):
    """One ``airflow.variables[]`` entry. Numbers and booleans are stored as their YAML spelling."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    variable_name: str = Field(min_length=1, max_length=ID_MAX_LEN)
    variable_value: str

    @field_validator("variable_value", mode="before")
    @classmethod
    def _scalar_to_string(cls, value: Any) -> Any:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        if isinstance(value, dict | list):
            # Readable with Variable.get(..., deserialize_json=True).
            return json.dumps(value)
        return value


class AirflowSettings(BaseModel):
    """The whole file: every id is unique within its kind (checked by :func:`load_settings`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    connections: tuple[ConnectionSetting, ...] = ()
    pools: tuple[PoolSetting, ...] = ()
    variables: tuple[VariableSetting, ...] = ()


@dataclass(frozen=True)
class _Section:
    key: str
    model: type[BaseModel]
    id_field: str
    # Fields that must not be re-typed after environment expansion (everything but conn_extra).
    retyped_fields: tuple[str, ...] = ()


_SECTIONS = (
    _Section("connections", ConnectionSetting, "conn_id", retyped_fields=("conn_extra",)),
    _Section("pools", PoolSetting, "pool_name"),
    _Section("variables", VariableSetting, "variable_name"),
)


def _entry_label(section: _Section, index: int, raw: Any) -> str:
    identifier = raw.get(section.id_field) if isinstance(raw, dict) else None
    if identifier in (None, ""):
        return f"{section.key}[{index}]"
    return f"{section.key}[{index}] ({section.id_field}={identifier})"


def _describe_validation_error(label: str, error: ValidationError) -> Iterator[str]:
    for detail in error.errors():
        location = ".".join(str(part) for part in detail["loc"])
        message = detail["msg"].removeprefix("Value error, ")
        if detail["type"] == "extra_forbidden":
            message = "unknown key"
        if location:
            yield f"{label}: {location}: {message}"
        else:
            # Model-level checks already start with the key they concern.
            yield f"{label}: {message}"


def parse_settings(document: Any, environ: Mapping[str, str] = os.environ, *, source: str = "<settings>"):
    """Validate an already-parsed YAML document; raise :class:`SettingsError` listing every problem."""
    if not isinstance(document, dict) or set(document) != {"airflow"}:
        found = sorted(document) if isinstance(document, dict) else type(document).__name__
        raise SettingsError(source, [f"top level: expected exactly one key 'airflow', found {found}"])
    body = document["airflow"] or {}
    if not isinstance(body, dict):
        raise SettingsError(source, [f"airflow: expected a map, found {type(body).__name__}"])
    problems = [
        f"airflow.{key}: unknown key (expected connections, pools, variables)"
        for key in body
        if key not in {section.key for section in _SECTIONS}
    ]
    parsed: dict[str, list[BaseModel]] = {}
    for section in _SECTIONS:
        entries = body.get(section.key) or []
        if not isinstance(entries, list):
            problems.append(f"{section.key}: expected a list, found {type(entries).__name__}")
            continue
        parsed[section.key] = []
        seen: dict[str, int] = {}
        for index, raw in enumerate(entries):
            label = _entry_label(section, index, raw)
            if not isinstance(raw, dict):
                problems.append(f"{label}: expected a map of {section.id_field}, ... found {raw!r}")
                continue
            if all(value in (None, "") for value in raw.values()):
                continue  # astro's template placeholder
            expanded: dict[str, Any] = {}
            for key, value in raw.items():
                try:
                    expanded[key] = _expand_tree(
                        value, environ, retype_whole_references=key in section.retyped_fields
                    )
                except _EnvironmentReferenceError as error:
                    problems.append(f"{label}: {key}: {error}")
            if len(expanded) != len(raw):
                continue
            try:
                entry = section.model.model_validate(expanded)
            except ValidationError as error:
                problems.extend(_describe_validation_error(label, error))
                continue
            identifier = getattr(entry, section.id_field)
            if identifier in seen:
                problems.append(
                    f"{label}: {section.id_field}: duplicate of {section.key}[{seen[identifier]}]"
                )
                continue
            seen[identifier] = index
            parsed[section.key].append(entry)
    if problems:
        raise SettingsError(source, problems)
    return AirflowSettings.model_validate({key: tuple(entries) for key, entries in parsed.items()})


def load_settings(path: str | os.PathLike[str], environ: Mapping[str, str] = os.environ) -> AirflowSettings:
    """Read, expand and validate ``path``; a malformed file raises :class:`SettingsError` as a whole."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise SettingsError(source, [f"cannot read the file: {error.strerror}"]) from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise SettingsError(source, [f"not valid YAML: {where}{problem}"]) from None
    return parse_settings(document, environ, source=source)


# --------------------------------------------------------------------------------------------- applying


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class Change:
    """What applying did to one object. ``fields`` names changed fields only, never their values."""

    kind: Literal["connection", "pool", "variable"]
    name: str
    outcome: Outcome
    fields: tuple[str, ...] = ()

    def describe(self) -> str:
        suffix = f" ({', '.join(self.fields)})" if self.outcome is Outcome.UPDATED and self.fields else ""
        return f"{self.kind} {self.name}: {self.outcome}{suffix}"


@dataclass
class ApplyReport:
    """Every listed object with its outcome, in file order (connections, pools, variables)."""

    changes: list[Change] = field(default_factory=list)

    def count(self, outcome: Outcome) -> int:
        return sum(change.outcome is outcome for change in self.changes)

    def summary(self) -> str:
        return ", ".join(f"{self.count(outcome)} {outcome}" for outcome in Outcome)


def _orm_models() -> tuple[Any, Any, Any]:
    """Airflow's ORM models ``(Connection, Pool, Variable)``, imported only when applying.

    The ``airflow.sdk`` classes ruff suggests read through the Execution API and cannot write rows; writing
    the metadata database directly is exactly this module's job (it runs before any task, like the CLI).
    """
    from airflow.models import Connection, Pool, Variable

    return Connection, Pool, Variable  # noqa: AIR311


#: The ``Connection`` fields a settings entry sets (compared to decide whether applying changes anything).
_CONNECTION_FIELDS = ("conn_type", "host", "schema", "login", "password", "port", "extra")


def connection_values(connection: Any) -> dict[str, Any]:
    """The fields of a ``Connection`` as comparable values: password decrypted, extra as a dict."""
    values: dict[str, Any] = {}
    for name in _CONNECTION_FIELDS:
        try:
            value = getattr(connection, name)
            values[name] = (json.loads(value) if value else None) if name == "extra" else value
        except Exception:
            # Encrypted with another Fernet key: differs from any wanted value, so applying rewrites it.
            values[name] = object()
    return values


def _apply_connection(session: Session, setting: ConnectionSetting) -> Change:
    from sqlalchemy import select, update

    connection_model, _, _ = _orm_models()
    wanted = setting.to_connection()
    existing = session.scalar(select(connection_model).where(connection_model.conn_id == setting.conn_id))
    if existing is None:
        session.add(wanted)
        return Change("connection", setting.conn_id, Outcome.CREATED)
    before, after = connection_values(existing), connection_values(wanted)
    changed = tuple(name for name in _CONNECTION_FIELDS if before[name] != after[name])
    if changed:
        # As `airflow connections import --overwrite`: the new row takes the old primary key and is merged.
        # Fields the file does not manage keep what the UI wrote.
        wanted.id = existing.id
        wanted.description, wanted.team_name = existing.description, existing.team_name
        session.merge(wanted)
        if "password" in changed and after["password"] is None:
            # The password setter ignores None, so merging keeps the old one: clear it by an UPDATE.
            session.execute(
                update(connection_model)
                .where(connection_model.id == existing.id)
                .values(password=None, is_encrypted=False)
            )
    return Change("connection", setting.conn_id, Outcome.UPDATED if changed else Outcome.UNCHANGED, changed)


def _apply_pool(session: Session, setting: PoolSetting) -> Change:
    _, pool_model, _ = _orm_models()
    existing = pool_model.get_pool(setting.pool_name, session=session)
    if existing is not None:
        changed = tuple(
            name
            for name, current, wanted in (
                ("pool_slot", existing.slots, setting.pool_slot),
                ("pool_description", existing.description or "", setting.pool_description),
                ("pool_include_deferred", bool(existing.include_deferred), setting.pool_include_deferred),
            )
            if current != wanted
        )
        if not changed:
            return Change("pool", setting.pool_name, Outcome.UNCHANGED)
    pool_model.create_or_update_pool(
        name=setting.pool_name,
        slots=setting.pool_slot,
        description=setting.pool_description,
        include_deferred=setting.pool_include_deferred,
        session=session,
    )
    if existing is None:
        return Change("pool", setting.pool_name, Outcome.CREATED)
    return Change("pool", setting.pool_name, Outcome.UPDATED, changed)


def _apply_variable(session: Session, setting: VariableSetting) -> Change:
    from sqlalchemy import select

    _, _, variable_model = _orm_models()
    existing = session.scalar(select(variable_model).where(variable_model.key == setting.variable_name))
    if existing is not None and existing.val == setting.variable_value:
        return Change("variable", setting.variable_name, Outcome.UNCHANGED)
    variable_model.set(
        setting.variable_name,
        setting.variable_value,
        # Variable.set overwrites the description; keep one written in the UI.
        description=existing.description if existing is not None else None,
        session=session,
    )
    if existing is None:
        return Change("variable", setting.variable_name, Outcome.CREATED)
    return Change("variable", setting.variable_name, Outcome.UPDATED, ("variable_value",))


def apply_settings(settings: AirflowSettings) -> ApplyReport:
    """Upsert every connection, pool and variable in one metadata-DB transaction; never deletes.

    Needs Airflow's metadata database to be configured and migrated (``airflow db migrate``). If any
    object fails, the transaction is rolled back and the exception propagates: nothing is half-applied.
    """
    from airflow.utils.session import create_session
    from sqlalchemy import text

    report = ApplyReport()
    with create_session() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(
                text("SELECT pg_advisory_xact_lock(:lock_id)"), {"lock_id": APPLY_ADVISORY_LOCK_ID}
            )
        for connection in settings.connections:
            report.changes.append(_apply_connection(session, connection))
        for pool in settings.pools:
            report.changes.append(_apply_pool(session, pool))
        for variable in settings.variables:
            report.changes.append(_apply_variable(session, variable))
        # Surface constraint/driver errors here, inside the transaction, rather than at commit.
        session.flush()
    return report


# ------------------------------------------------------------------------------------------ command line


def _safe_error_text(error: BaseException) -> str:
    """The first line of the driver's message: SQLAlchemy's own text would quote the bound parameters."""
    original = getattr(error, "orig", None) or error
    first_line = (str(original).strip().splitlines() or [""])[0]
    return f"{type(original).__name__}: {first_line}"


def main(argv: list[str] | None = None) -> int:
    """``validate FILE`` / ``apply [FILE]``; returns the process exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m musiccharts_airflow.settings_file",
        description="Validate or idempotently apply an astro-style airflow_settings.yaml.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate", help="check the file without touching any database")
    validate.add_argument("path", type=Path)
    apply = commands.add_parser("apply", help="create/update its connections, pools and variables")
    apply.add_argument("path", type=Path, nargs="?", default=Path("airflow_settings.yaml"))
    args = parser.parse_args(argv)

    try:
        settings = load_settings(args.path)
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    if args.command == "validate":
        print(
            f"{args.path} is valid: {len(settings.connections)} connections, {len(settings.pools)} pools, "
            f"{len(settings.variables)} variables"
        )
        return 0
    try:
        report = apply_settings(settings)
    except Exception as error:
        print(f"applying {args.path} failed, nothing was changed: {_safe_error_text(error)}", file=sys.stderr)
        return 1
    for change in report.changes:
        print(change.describe())
    print(f"{args.path}: {report.summary()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
