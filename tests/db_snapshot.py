"""Compare product-database states in tests: "a rerun changes nothing" means equal snapshots."""

from __future__ import annotations

import psycopg


def table_snapshot(dsn: str) -> dict[str, list[str]]:
    """Every row of every product table as text: equal snapshots mean byte-identical tables."""
    with psycopg.connect(dsn) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
                " ORDER BY tablename"
            )
        ]
        return {
            table: [row[0] for row in conn.execute(f'SELECT t::text FROM "{table}" t ORDER BY 1')]
            for table in tables
        }
