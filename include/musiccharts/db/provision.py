"""The product database owned by its own role, not by the Airflow metadata superuser.

    python -m musiccharts.db.provision      # reads the environment; idempotent, safe on every start

Creates (or updates the password of) the login role ``MUSICCHARTS_DB_USER``, creates the database
``MUSICCHARTS_DB_NAME`` owned by it, and hands it anything in that database still owned by someone else (a
data volume from before the role existed, when Airflow's user owned the product tables). Connects as the
administrator named by ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN``. Never prints a password.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from musiccharts.db.connection import to_libpq_dsn

log = logging.getLogger(__name__)

# Objects of the public schema whose owner follows the database's (ALTER <kind> ... OWNER TO).
_OWNED_OBJECTS = """
SELECT 'TABLE', format('%%I.%%I', n.nspname, c.relname) FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm') AND pg_get_userbyid(c.relowner) <> %(role)s
UNION ALL
SELECT 'SEQUENCE', format('%%I.%%I', n.nspname, c.relname) FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relkind = 'S' AND pg_get_userbyid(c.relowner) <> %(role)s
   AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i'))
UNION ALL
SELECT 'FUNCTION', p.oid::regprocedure::text FROM pg_proc p
  JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) <> %(role)s
"""


def provision(admin_dsn: str, role: str, password: str, database: str) -> None:
    """Make ``role`` (login, ``password``) owner of ``database`` and of everything in its public schema."""
    if not password:
        raise ValueError(f"the product database role {role!r} needs a password")
    admin: dict[str, Any] = {**conninfo_to_dict(to_libpq_dsn(admin_dsn))}
    with psycopg.connect(make_conninfo(**{**admin, "dbname": "postgres"}), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        statement = "ALTER ROLE {} LOGIN PASSWORD {}" if exists else "CREATE ROLE {} LOGIN PASSWORD {}"
        conn.execute(sql.SQL(statement).format(sql.Identifier(role), sql.Literal(password)))
        owner = conn.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if owner is None:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database), sql.Identifier(role))
            )
            log.info("created database %s owned by %s", database, role)
        elif owner[0] != role:
            conn.execute(
                sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                    sql.Identifier(database), sql.Identifier(role)
                )
            )
            log.info("database %s: owner %s -> %s", database, owner[0], role)
        # Nobody else may connect by default (PUBLIC has CONNECT on new databases).
        conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(database)))
    with psycopg.connect(make_conninfo(**{**admin, "dbname": database}), autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(role)))
        for kind, name in conn.execute(_OWNED_OBJECTS, {"role": role}).fetchall():
            conn.execute(sql.SQL(f"ALTER {kind} {name} OWNER TO {{}}").format(sql.Identifier(role)))


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        provision(
            os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"],
            os.environ["MUSICCHARTS_DB_USER"],
            os.environ.get("MUSICCHARTS_DB_PASSWORD", ""),
            os.environ.get("MUSICCHARTS_DB_NAME", "musiccharts"),
        )
    except (KeyError, ValueError) as error:
        print(f"cannot provision the product database: missing or invalid {error}", file=sys.stderr)
        return 2
    print(f"product database {os.environ.get('MUSICCHARTS_DB_NAME', 'musiccharts')} owned by "
          f"{os.environ['MUSICCHARTS_DB_USER']}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
