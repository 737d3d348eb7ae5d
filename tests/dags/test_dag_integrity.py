"""Governance: every DAG in dags/ imports cleanly and follows the house rules. Failures name the DAG."""

from __future__ import annotations

import ast

import pytest
import yaml

from tests.paths import DAGS_DIR, REPO_ROOT


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


def _dag_ids() -> list[str]:
    from airflow.dag_processing.dagbag import DagBag

    return sorted(DagBag(dag_folder=str(DAGS_DIR)).dag_ids)


DAG_IDS = _dag_ids()


def declared_pools() -> set[str]:
    settings = yaml.safe_load((REPO_ROOT / "airflow_settings.yaml").read_text())
    return {pool["pool_name"] for pool in settings["airflow"]["pools"]}


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}, f"DAG import errors: {dagbag.import_errors}"


def test_dags_were_found(dagbag):
    # An empty folder would make every parametrized test below vacuous.
    assert len(dagbag.dags) >= 5


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_owner_tags_and_docs(dagbag, dag_id):
    from musiccharts_airflow.governance import Tag

    dag = dagbag.dags[dag_id]
    assert dag.owner and dag.owner != "airflow", f"{dag_id}: set an owner in default_args"
    assert dag.tags, f"{dag_id}: no tags"
    unknown = set(dag.tags) - {tag.value for tag in Tag}
    assert not unknown, f"{dag_id}: tags {unknown} are not in musiccharts_airflow.governance.Tag"
    assert any(tag.startswith("domain:") for tag in dag.tags), f"{dag_id}: needs a domain:* tag"
    assert dag.doc_md and len(dag.doc_md.strip()) > 80, f"{dag_id}: doc_md missing or trivial"
    for heading in ("Purpose", "Owner", "Schedule", "Troubleshooting"):
        assert heading in dag.doc_md, f"{dag_id}: doc_md lacks a '{heading}' section"


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_tasks_retry_with_backoff_and_alert(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    for task in dag.tasks:
        assert task.retries >= 1, f"{dag_id}.{task.task_id}: retries={task.retries}"
        assert task.retry_exponential_backoff, f"{dag_id}.{task.task_id}: no exponential backoff"
        assert task.on_failure_callback, f"{dag_id}.{task.task_id}: no failure notification"


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_failed_runs_page_through_the_project_notifier(dagbag, dag_id):
    # A run can fail with no task paging for it (run timeout, a mapped leaf, a deadlock): the DAG-level
    # callback covers those, and it must be the project's one notifier.
    from musiccharts_airflow.notifications import MusicChartsNotifier

    callbacks = dagbag.dags[dag_id].on_failure_callback
    callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
    assert any(isinstance(callback, MusicChartsNotifier) for callback in callbacks), (
        f"{dag_id}: no run-level failure notification (on_failure_callback=run_failure_notifier)"
    )


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_only_declared_pools(dagbag, dag_id):
    allowed = declared_pools() | {"default_pool"}
    dag = dagbag.dags[dag_id]
    for task in dag.tasks:
        assert task.pool in allowed, (
            f"{dag_id}.{task.task_id}: pool {task.pool!r} not in airflow_settings.yaml"
        )


def _dag_constructor_calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in {"DAG", "dag"}:
                yield node


# DAG files, and the plugin modules that build DAGs for them (factories shared by several DAG files).
DAG_SOURCES = sorted(DAGS_DIR.rglob("*.py")) + sorted(
    path
    for path in (REPO_ROOT / "plugins").rglob("*.py")
    if any(_dag_constructor_calls(ast.parse(path.read_text())))
)


@pytest.mark.parametrize("path", DAG_SOURCES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_schedule_and_catchup_are_explicit(path):
    """Airflow 3 changed both defaults; a DAG must say what it means (checked in the source)."""
    tree = ast.parse(path.read_text())
    calls = list(_dag_constructor_calls(tree))
    if not calls:
        # A DAG file that delegates to a factory of plugins/, which is checked as a source of its own.
        factories = [
            node.func.id
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "id", "").startswith("build_")
        ]
        assert factories, f"{path.name}: neither a DAG(...) call nor a plugins/ factory (build_*)"
    for call in calls:
        keywords = {kw.arg for kw in call.keywords}
        assert {"schedule", "catchup"} <= keywords, f"{path.name}:{call.lineno}: pass schedule= and catchup="


@pytest.mark.parametrize("dag_id", [d for d in DAG_IDS if d.startswith("sync_chart_rankings__")])
def test_chart_dags_use_data_intervals_and_api_pool(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    assert dag.catchup is True
    # A cron *string* would be a trigger timetable in Airflow 3 (start == end): periods need intervals.
    assert type(dag.timetable).__name__ in {"CronDataIntervalTimetable", "NullTimetable"}, dag.timetable
    assert dag.start_date.tzinfo is not None
    assert dag.max_active_runs <= 3
    assert dag.get_task("sync_period").pool == "soundcharts_api"
