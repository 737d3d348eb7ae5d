"""Alert texts: the fields, the error's first line, and no secret."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from musiccharts_airflow.notifications import (
    Alert,
    MusicChartsNotifier,
    Severity,
    WebhookChannel,
    failure_alert,
    first_line,
    scrub,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql://u:hunter22@db/x", "postgresql://u:***@db/x"),
        ("https://:tok@h/x", "https://:***@h/x"),
        ("password=abc123 and more", "password=*** and more"),
        ('{"api_key": "k-999"}', '{"api_key": "***"}'),
        ("Authorization: Bearer eyJabc.def", "Authorization: ***"),
        ("x-api-key=zzz", "x-api-key=***"),
        ("nothing secret here: 42 rows", "nothing secret here: 42 rows"),
    ],
)
def test_scrub(text, expected):
    assert scrub(text) == expected


def test_first_line_keeps_type_and_first_line_only():
    assert first_line(ValueError("bad row\nTraceback detail")) == "ValueError: bad row"
    assert first_line(KeyError()) == "KeyError"
    assert first_line(None).startswith("(no exception")
    assert len(first_line(RuntimeError("x" * 1000))) == 300


def ti(map_index=-1, **extra):
    values = {
        "dag_id": "sync_x",
        "task_id": "load",
        "run_id": "scheduled__1",
        "map_index": map_index,
        "try_number": 3,
        "max_tries": 2,
        "log_url": "http://af/dags/sync_x/runs/scheduled__1/tasks/load?try_number=3",
    }
    return SimpleNamespace(**{**values, **extra})


def test_task_failure_alert_fields():
    alert = failure_alert({"ti": ti(), "run_id": "scheduled__1", "exception": OSError("disk\nmore")})
    assert alert.subject == "sync_x: task load failed"
    assert alert.fields == {
        "DAG": "sync_x",
        "Run": "scheduled__1",
        "Task": "load",
        "Try": "3 of 3",
        "Error": "OSError: disk",
        "Log": "http://af/dags/sync_x/runs/scheduled__1/tasks/load?try_number=3",
    }


def test_run_timeout_alert():
    alert = failure_alert({"ti": ti(), "run_id": "r1", "reason": "timed_out", "dag": None})
    assert alert.subject == "sync_x: run r1 failed (timed_out)"
    assert "dagrun_timeout" in alert.fields["Error"]


def test_who_pages():
    notifier = MusicChartsNotifier()
    assert notifier.should_page({"ti": ti()})
    assert not notifier.should_page({"ti": ti(map_index=3)})
    paged_task = SimpleNamespace(on_failure_callback=[notifier])
    silent_task = SimpleNamespace(on_failure_callback=None)
    # The run's failure pages unless an unmapped task with the notifier already did.
    assert not notifier.should_page({"ti": ti(task=paged_task), "reason": "task_failure"})
    assert notifier.should_page({"ti": ti(task=silent_task), "reason": "task_failure"})
    assert notifier.should_page({"ti": ti(map_index=0, task=paged_task), "reason": "task_failure"})
    assert notifier.should_page({"ti": ti(task=paged_task), "reason": "timed_out"})
    assert notifier.should_page({"reason": "all_tasks_deadlocked"})
    # The scheduler-side task dag.test() passes keeps only the flag.
    serialized = SimpleNamespace(has_on_failure_callback=True)
    assert not notifier.should_page({"ti": ti(task=serialized), "reason": "task_failure"})
    assert notifier.should_page(
        {"ti": ti(task=SimpleNamespace(has_on_failure_callback=False)), "reason": "task_failure"}
    )


def test_html_escapes_and_webhook_payload_is_slack_shaped():
    alert = Alert("a <b>", "body {{ x }}", Severity.RECOVERED, {"k": "<v>"})
    assert "&lt;b&gt;" in alert.html() and "&lt;v&gt;" in alert.html()
    payload = WebhookChannel.payload(alert)
    assert payload["text"] == "[MusicCharts][RECOVERED] a <b>"
    assert payload["attachments"][0]["color"] == "good"
    assert payload["attachments"][0]["fields"] == [{"title": "k", "value": "<v>", "short": True}]
