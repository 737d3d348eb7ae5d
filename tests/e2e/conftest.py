"""One Celery stack (private Postgres + Redis, simulator in-process) shared by every E2E scenario.

Start-up costs about a minute, so the stack is session-scoped; each scenario works on its own chart(s) of
the E2E charts file, so scenarios do not see each other's data. Component, task, Postgres and Redis logs
are copied to ``var/test-artifacts/e2e/<test>/`` when a scenario (or the start-up) fails.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from musiccharts_stack.e2e import E2EStack
from tests.e2e.scenario_charts import E2E_CHARTS
from tests.paths import REPO_ROOT

ARTIFACTS = REPO_ROOT / "var" / "test-artifacts" / "e2e"


def _artifact_dir(name: str) -> Path:
    return ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"e2e_report_{report.when}", report)


@pytest.fixture(scope="session")
def e2e_stack() -> Iterator[E2EStack]:
    workdir = Path(tempfile.mkdtemp(prefix="musiccharts-e2e-"))
    harness = E2EStack(workdir=workdir / "stack", charts=E2E_CHARTS, celery_workers=2, worker_concurrency=2)
    try:
        harness.start()
    except BaseException:
        harness.copy_logs(_artifact_dir("startup"))
        harness.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    yield harness
    harness.stop()
    # Failed scenarios already copied their logs to var/test-artifacts; the databases are not kept.
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def stack(e2e_stack: E2EStack, request: pytest.FixtureRequest) -> Iterator[E2EStack]:
    """The shared stack, checked alive before the scenario; its logs are kept if the scenario fails."""
    e2e_stack.check_alive()
    e2e_stack.simulator.state.clear_faults()
    yield e2e_stack
    report = getattr(request.node, "e2e_report_call", None)
    if report is not None and report.failed:
        e2e_stack.copy_logs(_artifact_dir(request.node.name))
