"""``make run`` on a fresh clone: its private PostgreSQL starts even though ``var/`` does not exist yet."""

from __future__ import annotations

import psycopg
import pytest

from musiccharts_stack.run import start_postgres

pytestmark = pytest.mark.integration


def test_private_postgres_starts_in_a_var_directory_that_does_not_exist_yet(tmp_path, monkeypatch):
    monkeypatch.delenv("MUSICCHARTS_DATABASE_URL", raising=False)
    var = tmp_path / "fresh-clone" / "var"

    parts, server = start_postgres(var)
    try:
        assert server is not None
        assert (var / "pgdata").is_dir()
        # What the stack is handed (host may be the server's Unix-socket directory) reaches the server.
        with psycopg.connect(**parts.libpq("postgres")) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        server.stop()
