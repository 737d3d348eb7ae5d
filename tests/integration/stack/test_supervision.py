"""The supervisor of ``make run`` on small real processes: restarts, children dying with their component,
backoff, give-up after repeated fast failures, restarts gated on the database, and stop."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from musiccharts_stack.processes import ManagedProcess, ProcessGroup, RestartPolicy, StackError, wait_until

pytestmark = pytest.mark.integration

# A component that forks a child which ignores SIGTERM (like a LocalExecutor worker) and records its pid.
PARENT_WITH_STUBBORN_CHILD = textwrap.dedent(
    """
    import os, signal, sys, time
    child = os.fork()
    if child == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        while True:
            time.sleep(1)
    # Like an Airflow task process: moved into a process group of its own (same session).
    task = os.fork()
    if task == 0:
        os.setpgid(0, 0)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        while True:
            time.sleep(1)
    with open(sys.argv[1], "a") as pids:
        pids.write(f"{os.getpid()} {child} {task}\\n")
    print("component started", flush=True)
    while True:
        time.sleep(1)
    """
)

FAST_POLICY = RestartPolicy(
    max_failures=5, window_seconds=120, first_delay_seconds=0.05, max_delay_seconds=0.2
)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie child of ours would still answer; a reaped or foreign-parented one is gone.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def component(tmp_path: Path, name: str, code: str, *args: str, **kwargs) -> ManagedProcess:
    script = tmp_path / f"{name}.py"
    script.write_text(code)
    return ManagedProcess(
        name,
        [sys.executable, str(script), *args],
        tmp_path / "logs" / f"{name}.log",
        dict(os.environ),
        **kwargs,
    )


def pids_of(path: Path) -> list[tuple[int, ...]]:
    if not path.exists():
        return []
    return [tuple(map(int, line.split())) for line in path.read_text().splitlines() if line.strip()]


def supervise_until(group: ProcessGroup, condition, what: str, timeout: float = 30) -> None:
    wait_until(condition, timeout=timeout, what=what, interval=0.05, check=group.supervise)


def test_component_killed_with_sigkill_comes_back_and_its_children_die(tmp_path, caplog):
    pid_file = tmp_path / "pids"
    group = ProcessGroup(policy=FAST_POLICY)
    process = group.start(component(tmp_path, "scheduler", PARENT_WITH_STUBBORN_CHILD, str(pid_file)))
    try:
        wait_until(lambda: len(pids_of(pid_file)) == 1, timeout=20, what="first start", interval=0.05)
        first_parent, first_child, first_task = pids_of(pid_file)[0]

        caplog.set_level(logging.WARNING, logger="musiccharts.stack")
        os.kill(first_parent, signal.SIGKILL)
        supervise_until(group, lambda: len(pids_of(pid_file)) == 2, "the restarted component")

        assert process.restarts == 1
        assert not alive(first_child), "the SIGTERM-ignoring child outlived its killed component"
        assert not alive(first_task), "the child in a process group of its own outlived its component"
        second_parent, second_child, second_task = pids_of(pid_file)[1]
        assert alive(second_parent) and alive(second_child) and alive(second_task)
        messages = "\n".join(record.getMessage() for record in caplog.records)
        assert "scheduler exited (code -9 (killed by SIGKILL))" in messages
        assert "component started" in messages  # the tail of its log
        assert "scheduler restarted" in messages
    finally:
        group.stop(grace_seconds=2)
    for pids in pids_of(pid_file):
        assert not any(alive(pid) for pid in pids), "stop() left a process of the component behind"


def test_component_failing_fast_five_times_stops_the_stack_naming_it_and_its_log(tmp_path):
    group = ProcessGroup(policy=FAST_POLICY)
    failing = component(
        tmp_path, "dag-processor", "import sys; print('cannot start: bad config'); sys.exit(3)"
    )
    group.start(failing)
    with pytest.raises(StackError) as raised:
        supervise_until(group, lambda: False, "the give-up", timeout=30)
    message = str(raised.value)
    assert "dag-processor exited 5 times within 120 s" in message
    assert "giving up" in message
    assert str(failing.log_path) in message
    assert "cannot start: bad config" in message
    assert failing.restarts == 4


def test_backoff_doubles_between_restarts_up_to_its_ceiling():
    policy = RestartPolicy(first_delay_seconds=1, max_delay_seconds=30)
    assert [policy.delay(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


def test_exits_older_than_the_window_do_not_count_towards_giving_up(tmp_path):
    now = [0.0]
    group = ProcessGroup(policy=RestartPolicy(max_failures=2, window_seconds=10, first_delay_seconds=0),
                         clock=lambda: now[0])  # fmt: skip
    process = group.start(component(tmp_path, "triggerer", "import sys; sys.exit(1)"))
    for step in range(4):  # one exit every 11 s: never two within 10 s
        process.process.wait(timeout=20)
        group.supervise()  # notices the exit
        assert group.supervise() == ["triggerer"], f"not restarted at step {step}"
        now[0] += 11
    process.process.wait(timeout=20)
    group.supervise()
    now[0] += 1  # a second exit within 10 s of the last one: give up
    process.process.wait(timeout=20)
    group.supervise()
    group.supervise()
    process.process.wait(timeout=20)
    with pytest.raises(StackError, match="triggerer exited 2 times within 10 s"):
        group.supervise()
    group.stop(grace_seconds=1)


def test_restart_waits_for_the_database_without_spending_the_failure_budget(tmp_path, caplog):
    database_up = [False]
    group = ProcessGroup(policy=FAST_POLICY)
    process = group.start(
        component(tmp_path, "api-server", "import time; time.sleep(60)", ready=lambda: database_up[0])
    )
    caplog.set_level(logging.WARNING, logger="musiccharts.stack")
    try:
        process.signal_group(signal.SIGKILL)
        process.process.wait(timeout=20)
        deadline = time.monotonic() + 1
        while time.monotonic() < deadline:
            assert group.supervise() == []
            time.sleep(0.05)
        assert not process.running and len(process.failures) == 1
        assert "waiting for its database" in caplog.text
        database_up[0] = True
        supervise_until(group, lambda: process.running, "the restart once the database is back")
        assert process.restarts == 1
    finally:
        group.stop(grace_seconds=2)


def test_components_die_when_the_supervisor_itself_is_killed(tmp_path):
    """``make run`` killed with -9 (no chance to stop anything) must not leave its components running."""
    pid_file = tmp_path / "pids"
    supervisor_code = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from musiccharts_stack.processes import ManagedProcess, ProcessGroup
        group = ProcessGroup()
        group.start(ManagedProcess("worker", [sys.executable, "-c", "import os, time; "
            "open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(120)"],
            Path({str(tmp_path / "worker.log")!r}), {{}}))
        time.sleep(120)
        """
    )
    supervisor = subprocess.Popen([sys.executable, "-c", supervisor_code], env=dict(os.environ))
    try:
        wait_until(lambda: pid_file.exists() and pid_file.read_text(), timeout=20, what="the worker")
        worker = int(pid_file.read_text())
        supervisor.kill()
        supervisor.wait(timeout=10)
        wait_until(lambda: not alive(worker), timeout=10, what="the orphaned worker to die", interval=0.05)
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
