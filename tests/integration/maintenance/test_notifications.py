"""The project notifier on a real Airflow run (``dag.test()``) delivering to the local SMTP sink."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import quote

import pytest

pytestmark = pytest.mark.integration

SECRET_PASSWORD = "pw-Zx81-never-in-alerts"
SECRET_TOKEN = "tok-Qq55-never-in-alerts"
ALERT_DAGS = Path(__file__).parent / "alert_dags"


def body_text(message) -> str:
    part = message.get_body(preferencelist=("html", "plain"))
    return part.get_content()


@pytest.fixture(scope="module")
def alert_dags():
    """The DAGs of alert_dags/, with that folder as the DAG bundle (``dag.test()`` runs only bundled DAGs)."""
    from airflow.dag_processing.dagbag import DagBag

    with pytest.MonkeyPatch.context() as patch:
        bundle = {
            "name": "alert-test-dags",
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(ALERT_DAGS)},
        }
        patch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps([bundle]))
        bag = DagBag(dag_folder=str(ALERT_DAGS))
        assert bag.import_errors == {}
        yield bag.dags


@pytest.fixture
def failing_task_env(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_ALERT_TEST_DB",
        json.dumps({"conn_type": "postgres", "host": "db.internal", "password": SECRET_PASSWORD}),
    )
    monkeypatch.setenv("ALERT_TEST_TOKEN", SECRET_TOKEN)
    monkeypatch.setenv("MUSICCHARTS_RETRY_DELAY_SECONDS", "0")


def test_failing_dag_sends_one_email_with_the_fields_and_no_secret(
    smtp_sink, airflow_metadata_db, alert_dags, failing_task_env
):
    run = alert_dags["alert_test_failing_dag"].test()
    assert run.state == "failed"

    messages = smtp_sink.messages()
    assert len(messages) == 1, [m["Subject"] for m in messages]
    message = messages[0]
    text = body_text(message)
    raw = message.as_string()
    assert (
        message["Subject"]
        == "[MusicCharts][CRITICAL] alert_test_failing_dag: task load_secret_and_fail failed"
    )
    assert message["X-Sink-Rcpt-To"] == "oncall@musiccharts.test, data@musiccharts.test"
    assert "alert_test_failing_dag" in text
    assert run.run_id in text
    assert "load_secret_and_fail" in text
    assert "2 of 2" in text  # the last of two tries (retries=1) is what pages
    assert "RuntimeError: could not reach postgresql://loader:***@db.internal/charts token=***" in text
    assert "second line" not in text
    assert (
        f"/dags/alert_test_failing_dag/runs/{quote(run.run_id)}/tasks/load_secret_and_fail?try_number=2"
        in text
    )
    assert SECRET_PASSWORD not in raw
    assert SECRET_TOKEN not in raw


def test_mapped_task_failure_under_threshold_pages_nobody(
    smtp_sink, airflow_metadata_db, alert_dags, failing_task_env
):
    assert alert_dags["alert_test_mapped_threshold"].test().state == "success"
    assert smtp_sink.messages() == []


def test_mapped_leaf_failures_page_once_for_the_run(
    smtp_sink, airflow_metadata_db, alert_dags, failing_task_env
):
    run = alert_dags["alert_test_mapped_leaf"].test()
    assert run.state == "failed"
    [message] = smtp_sink.messages()
    assert (
        message["Subject"]
        == f"[MusicCharts][CRITICAL] alert_test_mapped_leaf: run {run.run_id} failed (task_failure)"
    )
    assert "fetch_every_batch[" in body_text(message)


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict] = []
    status = 200

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        self.received.append(
            {"body": json.loads(self.rfile.read(length)), "auth": self.headers.get("Authorization")}
        )
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook(monkeypatch) -> Iterator[type[_Receiver]]:
    handler = type("Receiver", (_Receiver,), {"received": [], "status": 200})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv(
        "AIRFLOW_CONN_ALERTS_WEBHOOK",
        json.dumps(
            {
                "conn_type": "http",
                "host": f"http://127.0.0.1:{server.server_port}/hooks/T1",
                "password": "hook-token-1",
            }
        ),
    )
    yield handler
    server.shutdown()


def test_send_alert_reaches_both_channels_and_scrubs(smtp_sink, webhook):
    from musiccharts_airflow.notifications import Severity, send_alert

    delivery = send_alert(
        "Soundcharts quota low",
        body=f"calls used up; retry with api_key={SECRET_TOKEN}",
        severity=Severity.WARNING,
        fields={"Remaining": 900, "Endpoint": f"https://app:{SECRET_PASSWORD}@api.example/v2"},
    )
    assert delivery.delivered == ("email", "webhook")
    [posted] = webhook.received
    assert posted["auth"] == "Bearer hook-token-1"
    payload = posted["body"]
    assert payload["text"] == "[MusicCharts][WARNING] Soundcharts quota low"
    fields = {f["title"]: f["value"] for f in payload["attachments"][0]["fields"]}
    assert fields == {"Remaining": "900", "Endpoint": "https://app:***@api.example/v2"}
    [message] = smtp_sink.messages()
    for text in (json.dumps(payload), message.as_string()):
        assert SECRET_TOKEN not in text
        assert SECRET_PASSWORD not in text


def test_send_alert_raises_when_every_enabled_channel_fails(smtp_sink, webhook):
    from musiccharts_airflow.notifications import AlertDeliveryError, send_alert

    webhook.status = 400
    smtp_sink.stop()
    with pytest.raises(
        AlertDeliveryError, match=r"email: .*; webhook: RuntimeError: webhook answered HTTP 400"
    ):
        send_alert("disk full", severity="critical")


def test_send_alert_without_any_channel_only_logs(monkeypatch, caplog):
    from musiccharts_airflow.notifications import send_alert

    monkeypatch.delenv("AIRFLOW_CONN_SMTP_DEFAULT", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_ALERTS_WEBHOOK", raising=False)
    delivery = send_alert("backup is stale")
    assert delivery.enabled == ()
    assert "backup is stale" in caplog.text
