"""data_source: the one kind of Soundcharts source (real API or simulator) this database holds data from.

Recorded here when the deployment's source is known at migration time (``SOUNDCHARTS_BASE_URL``), else by
the first sync; every sync then refuses a source of the other kind (``musiccharts.db.data_source``).

Revision ID: 0007
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE data_source (
            id smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
            kind text NOT NULL CHECK (kind IN ('real', 'simulator')),
            host text NOT NULL,
            recorded_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    from musiccharts.db.data_source import source_from_environment

    source = source_from_environment()
    if source is not None:
        op.get_bind().exec_driver_sql(
            "INSERT INTO data_source (id, kind, host) VALUES (1, %(kind)s, %(host)s)",
            {"kind": source.kind, "host": source.host},
        )


def downgrade() -> None:
    op.execute("DROP TABLE data_source")
