"""Health checks: a time series of probe results and the incidents they open and close.

Every 15 minutes the health DAG stores one row per probe (``health_check_results``); a breach opens an
incident (``health_incidents``, at most one open per check, enforced by a partial unique index) that is
alerted once, and the first healthy result closes it and sends the recovery notice. Both tables are
append-mostly and small per run; results are pruned by the retention DAG (``maintenance.yaml``).

Revision ID: 0006
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0003"
branch_labels = None
depends_on = None

UPGRADE_SQL = """
CREATE TABLE health_check_results (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    checked_at timestamptz NOT NULL,
    check_name text NOT NULL,
    status text NOT NULL CHECK (status IN ('ok', 'breach', 'error')),
    value double precision,
    threshold double precision,
    unit text,
    detail text NOT NULL DEFAULT '',
    CONSTRAINT health_check_results_natural_key UNIQUE (check_name, checked_at)
);
CREATE INDEX health_check_results_checked_at_idx ON health_check_results (checked_at);

CREATE TABLE health_incidents (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    check_name text NOT NULL,
    opened_at timestamptz NOT NULL,
    closed_at timestamptz,
    status text NOT NULL CHECK (status IN ('breach', 'error')),
    detail text NOT NULL DEFAULT '',
    alerted_at timestamptz,
    recovery_alerted_at timestamptz,
    CONSTRAINT health_incidents_natural_key UNIQUE (check_name, opened_at),
    CONSTRAINT health_incidents_closed_after_opened CHECK (closed_at IS NULL OR closed_at >= opened_at)
);
CREATE UNIQUE INDEX health_incidents_one_open_per_check
    ON health_incidents (check_name) WHERE closed_at IS NULL;
"""

DOWNGRADE_SQL = """
DROP TABLE health_incidents;
DROP TABLE health_check_results;
"""


def upgrade() -> None:
    op.execute(UPGRADE_SQL)


def downgrade() -> None:
    op.execute(DOWNGRADE_SQL)
