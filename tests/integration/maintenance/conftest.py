"""Fixtures of the maintenance tests: the local SMTP sink and the alert connections pointing at it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from smtp_sink import SmtpSink


@pytest.fixture
def smtp_sink(tmp_path: Path, monkeypatch) -> Iterator[SmtpSink]:
    """A running SMTP sink and ``smtp_default`` pointing at it; the webhook connection is off."""
    with SmtpSink(tmp_path / "mail") as sink:
        monkeypatch.setenv(
            "AIRFLOW_CONN_SMTP_DEFAULT",
            json.dumps(
                {
                    "conn_type": "smtp",
                    "host": "127.0.0.1",
                    "port": sink.port,
                    "extra": {
                        "from_email": "airflow@musiccharts.test",
                        "alert_to": "oncall@musiccharts.test, data@musiccharts.test",
                        "disable_ssl": True,
                        "disable_tls": True,
                        "timeout": 5,
                        "retry_limit": 0,
                    },
                }
            ),
        )
        monkeypatch.delenv("AIRFLOW_CONN_ALERTS_WEBHOOK", raising=False)
        yield sink


@pytest.fixture
def seeded_product_db(postgres_server, request) -> Iterator[str]:
    """A migrated product database of its own (backups create and drop databases beside it), seeded."""
    import os

    from musiccharts.db.migrate import upgrade
    from tests.maintenance_seed import seed_rankings

    name = f"mc_test_maint_{os.getpid()}_{request.node.name[:20].lower()}"
    dsn = postgres_server.recreate_database(name)
    upgrade(dsn)
    seed_rankings(dsn, charts=3, days=20, entries=50, tracks=120)
    yield dsn
    postgres_server.drop_database(name)
