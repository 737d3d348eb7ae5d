"""Small query helpers shared by the maintenance modules."""

from __future__ import annotations

from typing import Any

import psycopg


def one(conn: psycopg.Connection, query: Any, params: Any = None) -> tuple[Any, ...]:
    """The single row of a query that always returns one (aggregates, SHOW); an error otherwise."""
    row = conn.execute(query, params).fetchone()
    if row is None:
        raise RuntimeError("the query returned no row")
    return tuple(row)
