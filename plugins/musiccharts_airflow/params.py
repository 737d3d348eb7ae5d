"""DAG Params used by several DAGs, so that their validation in the trigger form is written once."""

from __future__ import annotations

from airflow.sdk import Param

#: A Soundcharts uuid (canonical 8-4-4-4-12 hex form).
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


def uuid_list_param(description: str) -> Param:
    """A list of uuids, empty by default (empty = no restriction); anything else is refused at trigger."""
    return Param(
        [],
        type="array",
        items={"type": "string", "format": "uuid", "pattern": UUID_PATTERN},
        description=description,
    )
