"""The project's one notifier: failure callbacks of every DAG and the alerts of every domain.

Two channels, each switched on by its Airflow connection (so by ``airflow_settings.yaml`` and the
environment, never by code):

* email through the SMTP provider's maintained ``SmtpNotifier``: connection ``smtp_default`` with a host,
  recipients in its extra ``alert_to`` (comma separated) and the sender in ``from_email``;
* a Slack-compatible webhook (``{"text": ..., "attachments": [{"fields": [...]}]}``, understood by Slack,
  Mattermost and Rocket.Chat incoming webhooks and by any JSON receiver): HTTP connection
  ``alerts_webhook`` whose host is the full URL; a password, if set, is sent as a bearer token.

Who gets paged for a failure:

* a task-level failure (``default_task_args`` wires :data:`task_failure_notifier`) pages once when an
  unmapped task has exhausted its retries; a failed *mapped* task instance only logs, because its batch's
  threshold task decides whether the run fails, and that outcome is what pages;
* a run-level failure (``DAG(on_failure_callback=run_failure_notifier)``) pages when the run failed for a
  reason no task already paged for: a ``dagrun_timeout``, a deadlock, or a failed mapped leaf.

Messages name the DAG, run, task (and map index), try, the error's first line and the log URL. Every text
that leaves the process goes through :func:`scrub`: Airflow's secrets masker (connection passwords and
masked variables) plus patterns for credentials in URLs and ``key=value`` pairs.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from airflow.sdk import BaseNotifier

log = logging.getLogger(__name__)

SMTP_CONN_ID = "smtp_default"
WEBHOOK_CONN_ID = "alerts_webhook"
WEBHOOK_TIMEOUT_SECONDS = 10
#: The error line of an alert is cut here: enough to recognise the failure, the log has the rest.
MAX_ERROR_LINE = 300


class Severity(StrEnum):
    """How urgent an alert is (shown in the subject; receivers may route on it)."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"
    RECOVERED = "recovered"


class AlertDeliveryError(RuntimeError):
    """Every enabled channel failed to deliver an alert."""


@dataclass(frozen=True)
class Alert:
    """One message: a subject line, a free-text body and named fields shown as a table."""

    subject: str
    body: str = ""
    severity: Severity = Severity.WARNING
    fields: Mapping[str, str] = field(default_factory=dict)

    def scrubbed(self) -> Alert:
        return Alert(
            subject=scrub(self.subject),
            body=scrub(self.body),
            severity=self.severity,
            fields={key: scrub(str(value)) for key, value in self.fields.items()},
        )

    @property
    def title(self) -> str:
        return f"[MusicCharts][{self.severity.upper()}] {self.subject}"

    def text(self) -> str:
        lines = [self.title]
        lines += [f"{key}: {value}" for key, value in self.fields.items()]
        if self.body:
            lines += ["", self.body]
        return "\n".join(lines)

    def html(self) -> str:
        rows = "".join(
            f"<tr><th align='left'>{html.escape(key)}</th><td>{html.escape(value)}</td></tr>"
            for key, value in self.fields.items()
        )
        body = f"<pre>{html.escape(self.body)}</pre>" if self.body else ""
        return f"<h3>{html.escape(self.title)}</h3><table>{rows}</table>{body}"


@dataclass(frozen=True)
class Delivery:
    """What happened to one alert: channels that delivered it and channels that failed (with why)."""

    delivered: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()
    enabled: tuple[str, ...] = ()


# --- secrets -------------------------------------------------------------------------------------------

_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^/\s:@]*):(?P<pw>[^/\s@]+)@")
_KEY_VALUE_SECRET = re.compile(
    r"(?P<key>\b(?:password|passwd|pwd|secret|token|api[_-]?key|x-api-key|access[_-]?key|authorization)\b"
    r"['\"]?\s*[=:]\s*['\"]?)(?P<value>(?:bearer\s+)?[^\s'\",;&]+)",
    re.IGNORECASE,
)


def scrub(text: str) -> str:
    """``text`` with known secrets and credential-shaped substrings replaced by ``***``."""
    try:
        from airflow.sdk._shared.secrets_masker import redact

        text = str(redact(text))
    except Exception:  # the masker is best effort here; the patterns below still apply
        log.debug("secrets masker unavailable", exc_info=True)
    text = _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)
    return _KEY_VALUE_SECRET.sub(lambda m: f"{m['key']}***", text)


def first_line(error: BaseException | str | None) -> str:
    """``Type: first line of the message``, scrubbed and cut to :data:`MAX_ERROR_LINE` characters."""
    if error is None:
        return "(no exception: the task process ended without reporting one; see the log)"
    if isinstance(error, BaseException):
        message = str(error).strip().splitlines()
        line = f"{type(error).__name__}: {message[0]}" if message else type(error).__name__
    else:
        stripped = str(error).strip().splitlines()
        line = stripped[0] if stripped else ""
    line = scrub(line)
    return line if len(line) <= MAX_ERROR_LINE else line[: MAX_ERROR_LINE - 1] + "…"


# --- channels ------------------------------------------------------------------------------------------


def _connection(conn_id: str) -> Any | None:
    """The connection, or None when it is not configured (the channel is then off)."""
    from airflow.sdk import BaseHook

    try:
        return BaseHook.get_connection(conn_id)
    except Exception as error:
        # Not configured is the normal "channel off"; anything else (a secrets backend down) is worth a line.
        level = logging.DEBUG if type(error).__name__ == "AirflowNotFoundException" else logging.WARNING
        log.log(level, "connection %s unavailable: %s", conn_id, type(error).__name__)
        return None


def _split_addresses(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(item).strip() for item in value if str(item).strip()]
    return [item.strip() for item in str(value or "").replace(";", ",").split(",") if item.strip()]


class EmailChannel:
    """Email through ``SmtpNotifier``; on when the SMTP connection has a host and ``alert_to``."""

    name = "email"

    def __init__(self, conn_id: str = SMTP_CONN_ID) -> None:
        self.conn_id = conn_id

    def recipients(self) -> list[str] | None:
        connection = _connection(self.conn_id)
        if connection is None or not connection.host:
            return None
        return _split_addresses(connection.extra_dejson.get("alert_to"))

    def send(self, alert: Alert, recipients: list[str]) -> None:
        if not recipients:
            raise ValueError(
                f"connection {self.conn_id} has a host but no recipients in its extra 'alert_to'"
            )
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        notifier = SmtpNotifier(
            to=recipients, subject=alert.title, html_content=alert.html(), smtp_conn_id=self.conn_id
        )
        # notify() directly, not notifier(context): the content is final and must not be rendered as a
        # Jinja template (an error message may contain "{{").
        notifier.notify({})


class WebhookChannel:
    """Slack-compatible JSON POST; on when the HTTP connection has a host (the full webhook URL)."""

    name = "webhook"

    def __init__(self, conn_id: str = WEBHOOK_CONN_ID) -> None:
        self.conn_id = conn_id

    def target(self) -> tuple[str, str | None] | None:
        connection = _connection(self.conn_id)
        if connection is None or not connection.host:
            return None
        host = connection.host
        url = host if "://" in host else f"{connection.schema or 'https'}://{host}"
        if connection.port and "://" not in host:
            url = url.replace(host, f"{host}:{connection.port}", 1)
        return url, connection.password or None

    @staticmethod
    def payload(alert: Alert) -> dict[str, Any]:
        colour = {
            Severity.INFO: "#439FE0",
            Severity.WARNING: "warning",
            Severity.CRITICAL: "danger",
            Severity.RECOVERED: "good",
        }[alert.severity]
        return {
            "text": alert.title,
            "attachments": [
                {
                    "color": colour,
                    "fallback": alert.text(),
                    "text": alert.body,
                    "fields": [
                        {"title": key, "value": value, "short": len(value) < 40}
                        for key, value in alert.fields.items()
                    ],
                }
            ],
        }

    def send(self, alert: Alert, target: tuple[str, str | None]) -> None:
        import requests
        from requests.adapters import HTTPAdapter
        from urllib3.util.retry import Retry

        url, token = target
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        retry = Retry(
            total=3, backoff_factor=0.5, status_forcelist=(429, 500, 502, 503, 504), allowed_methods=None
        )
        with requests.Session() as session:
            session.mount("http://", HTTPAdapter(max_retries=retry))
            session.mount("https://", HTTPAdapter(max_retries=retry))
            response = session.post(
                url, json=self.payload(alert), headers=headers, timeout=WEBHOOK_TIMEOUT_SECONDS
            )
        if response.status_code >= 400:
            # The URL itself is a credential for most webhooks: name the status, never the URL.
            raise RuntimeError(f"webhook answered HTTP {response.status_code} {response.reason}")


def deliver(
    alert: Alert, *, smtp_conn_id: str = SMTP_CONN_ID, webhook_conn_id: str = WEBHOOK_CONN_ID
) -> Delivery:
    """Send ``alert`` on every enabled channel; one channel failing never stops the other."""
    alert = alert.scrubbed()
    # One structured line per alert: the log is the alert of last resort when no channel is configured.
    log.warning("MusicCharts alert: %s", alert.text().replace("\n", " | "))
    delivered: list[str] = []
    failed: list[tuple[str, str]] = []
    enabled: list[str] = []
    email = EmailChannel(smtp_conn_id)
    webhook = WebhookChannel(webhook_conn_id)
    for channel, setting in ((email, email.recipients()), (webhook, webhook.target())):
        if setting is None:
            continue
        enabled.append(channel.name)
        try:
            channel.send(alert, setting)  # type: ignore[arg-type]
        except Exception as error:
            reason = first_line(error)
            log.error("alert not delivered by %s: %s", channel.name, reason)
            failed.append((channel.name, reason))
        else:
            delivered.append(channel.name)
    if not enabled:
        log.warning("no alert channel is configured (connections %s, %s)", smtp_conn_id, webhook_conn_id)
    return Delivery(tuple(delivered), tuple(failed), tuple(enabled))


def send_alert(
    subject: str,
    body: str = "",
    severity: Severity | str = Severity.WARNING,
    *,
    fields: Mapping[str, Any] | None = None,
) -> Delivery:
    """Send a domain alert (from a task, a callback or a script) through every enabled channel.

    :param subject: one line saying what happened, e.g. ``"Soundcharts quota below 10%"``.
    :param body: free text (details, what to do).
    :param severity: :class:`Severity` or its value.
    :param fields: named values shown as a table (rendered with ``str``).
    :raises AlertDeliveryError: channels are enabled and all of them failed (so the caller's task fails
        and the failure is visible, instead of an alert silently lost).
    """
    alert = Alert(
        subject=subject,
        body=body,
        severity=Severity(severity),
        fields={key: str(value) for key, value in (fields or {}).items()},
    )
    delivery = deliver(alert)
    if delivery.enabled and not delivery.delivered:
        raise AlertDeliveryError(
            "alert not delivered: " + "; ".join(f"{name}: {why}" for name, why in delivery.failed)
        )
    return delivery


# --- failure callbacks ---------------------------------------------------------------------------------


def _ti_value(ti: Any, name: str) -> Any:
    try:
        return getattr(ti, name, None)
    except Exception:  # properties such as log_url read configuration and may fail
        return None


def _task_label(ti: Any) -> str:
    map_index = _ti_value(ti, "map_index")
    task_id = _ti_value(ti, "task_id") or "?"
    return f"{task_id}[{map_index}]" if isinstance(map_index, int) and map_index >= 0 else task_id


def failure_alert(context: Mapping[str, Any]) -> Alert:
    """The alert for a failed task (task-level context) or a failed run (DAG-level context)."""
    ti = context.get("ti") or context.get("task_instance")
    dag = context.get("dag")
    dag_id = _ti_value(ti, "dag_id") or getattr(dag, "dag_id", None) or "?"
    run_id = context.get("run_id") or _ti_value(ti, "run_id") or "?"
    reason = context.get("reason")
    fields: dict[str, str] = {"DAG": str(dag_id), "Run": str(run_id)}
    if reason is not None:
        fields["Run outcome"] = f"failed ({reason})"
    if ti is not None:
        try_number = _ti_value(ti, "try_number")
        max_tries = _ti_value(ti, "max_tries")
        fields["Task"] = _task_label(ti)
        fields["Try"] = f"{try_number} of {max_tries + 1}" if isinstance(max_tries, int) else str(try_number)
    if reason in {"timed_out", "all_tasks_deadlocked"}:
        error_line = {
            "timed_out": "the run exceeded its dagrun_timeout; unfinished tasks were skipped",
            "all_tasks_deadlocked": "no task could be scheduled (deadlock)",
        }[reason]
    elif reason is not None:
        error_line = "a task failed; its error is in the log below"
    else:
        error_line = first_line(context.get("exception"))
    fields["Error"] = error_line
    log_url = _ti_value(ti, "log_url") if ti is not None else None
    if log_url:
        fields["Log"] = str(log_url)
    if reason is None:
        subject = f"{dag_id}: task {_task_label(ti)} failed"
    else:
        subject = f"{dag_id}: run {run_id} failed ({reason})"
    return Alert(subject=subject, severity=Severity.CRITICAL, fields=fields)


def _pages_on_task_failure(ti: Any) -> bool:
    """Did this failed task instance already page through the task-level notifier?"""
    map_index = _ti_value(ti, "map_index")
    if isinstance(map_index, int) and map_index >= 0:
        return False
    task = getattr(ti, "task", None)
    if task is not None and not hasattr(task, "on_failure_callback"):
        # A scheduler-side (serialized) task, as dag.test() hands to DAG callbacks, keeps only the flag that
        # a callback exists; in this project that callback is the notifier (default_task_args, checked for
        # every task by the DAG integrity tests).
        return bool(getattr(task, "has_on_failure_callback", False))
    callbacks = getattr(task, "on_failure_callback", None)
    callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
    return any(isinstance(callback, MusicChartsNotifier) for callback in callbacks)


class MusicChartsNotifier(BaseNotifier):
    """Failure notifier for ``on_failure_callback`` at task level (``default_task_args``) and DAG level.

    Task level: pages for an unmapped task that failed its last try; a mapped task instance only logs.
    DAG level: pages unless the failure was a task that already paged (see the module docstring).
    """

    template_fields = ()

    def __init__(self, *, smtp_conn_id: str = SMTP_CONN_ID, webhook_conn_id: str = WEBHOOK_CONN_ID) -> None:
        super().__init__()
        self.smtp_conn_id = smtp_conn_id
        self.webhook_conn_id = webhook_conn_id

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        """Nothing to render: alerts are built from the context, and never rendered as Jinja.

        (The base class would build a Jinja environment from ``context["dag"]``, which fails for the
        scheduler-side DAG object that ``dag.test()`` passes to DAG-level callbacks.)
        """

    def should_page(self, context: Mapping[str, Any]) -> bool:
        ti = context.get("ti") or context.get("task_instance")
        if "reason" in context:  # DAG-level callback: the run failed
            return not (context["reason"] == "task_failure" and ti is not None and _pages_on_task_failure(ti))
        map_index = _ti_value(ti, "map_index")
        if isinstance(map_index, int) and map_index >= 0:
            log.error(
                "mapped task %s of %s failed: %s (no page: the batch threshold decides the run's outcome)",
                _task_label(ti),
                _ti_value(ti, "dag_id"),
                first_line(context.get("exception")),
            )
            return False
        return True

    def notify(self, context: Any) -> None:
        if not self.should_page(context):
            return
        delivery = deliver(
            failure_alert(context), smtp_conn_id=self.smtp_conn_id, webhook_conn_id=self.webhook_conn_id
        )
        if delivery.enabled and not delivery.delivered:
            raise AlertDeliveryError("failure alert not delivered by any channel")


#: The instances DAGs use: ``default_task_args`` wires the first, ``DAG(on_failure_callback=...)`` the second.
task_failure_notifier = MusicChartsNotifier()
run_failure_notifier = MusicChartsNotifier()
