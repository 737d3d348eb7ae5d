"""Alembic environment of the product database.

Migrations always run programmatically through :func:`musiccharts.db.migrate.upgrade`, which passes an open
SQLAlchemy connection (already inside a transaction holding the migration lock) in
``config.attributes["connection"]``. There is no alembic.ini and no offline mode.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run product-database migrations with `python -m musiccharts.db.migrate upgrade`, not the alembic CLI"
    )

# Revisions are raw SQL, so there is no metadata to compare against (no autogenerate).
context.configure(connection=connection, target_metadata=None, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
