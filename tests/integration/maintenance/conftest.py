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
