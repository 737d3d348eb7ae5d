"""Alert configuration: the compose file carries the SMTP settings the notifier's connection reads."""

from __future__ import annotations

import re

import yaml

from musiccharts_airflow.settings_file import load_settings
from tests.paths import REPO_ROOT

#: The one setting the file requires without a default (a secret): these tests are about the alert channels.
REQUIRED_ENV = {"ACRCLOUD_CALLBACK_TOKEN": "test-callback-token"}

SMTP_VARIABLES = {
    "SMTP_HOST",
    "SMTP_PORT",
    "SMTP_USER",
    "SMTP_PASSWORD",
    "SMTP_FROM",
    "SMTP_DISABLE_SSL",
    "SMTP_DISABLE_TLS",
    "ALERT_EMAIL_TO",
    "ALERTS_WEBHOOK_URL",
}


def compose_problems(doc: dict) -> list[str]:
    """What keeps the compose deployment from delivering alert emails."""
    problems = []
    sink = doc["services"].get("smtp-sink")
    if not sink or "8025" not in " ".join(map(str, sink.get("command", []))):
        problems.append("no smtp-sink service listening on 8025")
    for name in ("airflow-worker", "airflow-dag-processor", "airflow-init"):
        env = doc["services"][name].get("environment") or {}
        missing = SMTP_VARIABLES - set(env)
        if missing:
            problems.append(f"{name} lacks {sorted(missing)}")
        elif not str(env["SMTP_HOST"]).endswith(":-smtp-sink}"):
            problems.append(f"{name}: SMTP_HOST must default to the smtp-sink service")
    return problems


def test_compose_carries_the_smtp_settings():
    doc = yaml.safe_load((REPO_ROOT / "docker-compose.yaml").read_text())
    assert compose_problems(doc) == []


def test_compose_check_can_fail():
    doc = yaml.safe_load((REPO_ROOT / "docker-compose.yaml").read_text())
    services = doc["services"]
    # YAML anchors share one environment dict between services: give each its own copy first.
    for name in ("airflow-worker", "airflow-init"):
        services[name]["environment"] = dict(services[name]["environment"])
    del services["airflow-worker"]["environment"]["SMTP_PORT"]
    services["airflow-init"]["environment"]["SMTP_HOST"] = "${SMTP_HOST:-localhost}"
    assert len(compose_problems(doc)) == 2


def test_settings_file_reads_every_smtp_variable():
    text = (REPO_ROOT / "airflow_settings.yaml").read_text()
    referenced = set(re.findall(r"\$\{([A-Z_]+)", text))
    assert referenced >= SMTP_VARIABLES


def test_smtp_connection_from_the_environment():
    environ = {
        "SMTP_HOST": "mail.example.org",
        "SMTP_PORT": "587",
        "SMTP_DISABLE_TLS": "false",
        "ALERT_EMAIL_TO": "a@example.org,b@example.org",
    }
    settings = load_settings(REPO_ROOT / "airflow_settings.yaml", REQUIRED_ENV | environ)
    smtp = next(c for c in settings.connections if c.conn_id == "smtp_default")
    assert (smtp.conn_host, smtp.conn_port) == ("mail.example.org", 587)
    # Booleans stay booleans: the SMTP hook treats any non-empty string as true.
    assert smtp.conn_extra["disable_tls"] is False
    assert smtp.conn_extra["disable_ssl"] is True
    assert smtp.conn_extra["alert_to"] == "a@example.org,b@example.org"
    webhook = next(c for c in settings.connections if c.conn_id == "alerts_webhook")
    assert webhook.conn_host is None  # no URL: the webhook channel is off


def test_local_defaults_point_at_the_sink():
    settings = load_settings(REPO_ROOT / "airflow_settings.yaml", REQUIRED_ENV)
    smtp = next(c for c in settings.connections if c.conn_id == "smtp_default")
    assert (smtp.conn_host, smtp.conn_port) == ("127.0.0.1", 8025)
