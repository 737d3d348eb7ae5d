"""Start, supervise and stop the processes of a native stack (each in its own process group).

Supervision works like ``restart: always`` in a compose file, plus two things compose does not do for a
native process tree: a component's own children die with it (its whole process group is killed once the
component itself has exited, so a scheduler killed with -9 cannot leave its forked executor workers
running), and a component that keeps failing fast stops the stack with a message instead of looping.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("musiccharts.stack")

_PR_SET_PDEATHSIG = 1


class StackError(RuntimeError):
    """A component failed to start or became unhealthy; the message says which and where its log is."""


def _die_with_parent() -> None:
    """In the forked child: get SIGTERM when the supervisor dies, even by SIGKILL (Linux only)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "still running"
    if returncode < 0:
        with contextlib.suppress(ValueError):
            return f"code {returncode} (killed by {signal.Signals(-returncode).name})"
    return f"code {returncode}"


@dataclass(frozen=True)
class RestartPolicy:
    """Restart with exponential backoff; give up after ``max_failures`` exits within ``window_seconds``."""

    max_failures: int = 5
    window_seconds: float = 120.0
    first_delay_seconds: float = 1.0
    max_delay_seconds: float = 30.0

    def delay(self, recent_failures: int) -> float:
        return min(self.first_delay_seconds * 2 ** max(recent_failures - 1, 0), self.max_delay_seconds)


@dataclass
class ManagedProcess:
    name: str
    command: list[str]
    log_path: Path
    env: dict[str, str]
    process: subprocess.Popen | None = None
    #: Restarts wait until this returns True (e.g. the metadata database accepts connections again), so a
    #: database outage does not burn the component's failure budget.
    ready: Callable[[], bool] | None = None
    restarts: int = 0
    failures: deque = field(default_factory=deque)
    restart_at: float | None = None
    waiting_logged: bool = False

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # Opened 0600 from the start: component logs may carry connection details.
        descriptor = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(descriptor, "ab") as log_file:
            self.process = subprocess.Popen(
                self.command,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                # Own process group: Ctrl-C reaches the supervisor only, which then stops everything in
                # order, and the group is what is killed to take the component's children with it.
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def returncode(self) -> int | None:
        """The exit code once the process has exited (``None`` while running or before it started)."""
        return self.process.returncode if self.process is not None else None

    def signal_group(self, signum: int) -> None:
        """Signal the component and every process it forked (they share its process group)."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signum)

    def leftovers(self) -> list[int]:
        """Pids still in the component's session: its process group, and the processes its children moved
        into groups of their own (Airflow runs each task in a new process group of the same session)."""
        if self.process is None:
            return []
        session = self.process.pid
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    if os.getsid(int(entry.name)) == session:
                        found.append(int(entry.name))
        return found

    def group_alive(self) -> bool:
        """True while any process of the component's session exists (the component or a descendant)."""
        return bool(self.leftovers())

    def kill_leftovers(self, timeout: float = 10.0) -> None:
        """SIGKILL what the exited component left behind (forked workers ignore SIGTERM, orphaned task
        processes would run on): its process group and every other process of its session."""
        self.signal_group(signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while (remaining := self.leftovers()) and time.monotonic() < deadline:
            for pid in remaining:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


@dataclass
class ProcessGroup:
    processes: list[ManagedProcess] = field(default_factory=list)
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    clock: Callable[[], float] = time.monotonic

    def start(self, process: ManagedProcess) -> ManagedProcess:
        process.start()
        self.processes.append(process)
        return process

    def check_alive(self) -> None:
        """Raise if a component exited (for callers that do not supervise)."""
        for process in self.processes:
            if not process.running:
                raise StackError(
                    f"{process.name} exited ({describe_exit(process.returncode)}); "
                    f"log {process.log_path}:\n" + process.log_tail()
                )

    def supervise(self) -> list[str]:
        """One supervision pass: notice exits, kill leftovers, restart due components; return restarted names.

        Raises :class:`StackError` when a component exited ``max_failures`` times within the window.
        """
        restarted = []
        now = self.clock()
        for process in self.processes:
            if process.running:
                continue
            if process.restart_at is None:
                self._schedule_restart(process, now)
            elif now >= process.restart_at:
                if process.ready is not None and not _safely(process.ready):
                    if not process.waiting_logged:
                        log.warning("%s: waiting for its database before restarting it", process.name)
                        process.waiting_logged = True
                    continue
                process.start()
                process.restarts += 1
                process.restart_at = None
                process.waiting_logged = False
                pid = process.process.pid if process.process else None
                log.warning("%s restarted (pid %s, restart #%d)", process.name, pid, process.restarts)
                restarted.append(process.name)
        return restarted

    def _schedule_restart(self, process: ManagedProcess, now: float) -> None:
        process.kill_leftovers()
        process.failures.append(now)
        while process.failures and now - process.failures[0] > self.policy.window_seconds:
            process.failures.popleft()
        exit_text = describe_exit(process.process.returncode if process.process else None)
        if len(process.failures) >= self.policy.max_failures:
            raise StackError(
                f"{process.name} exited {len(process.failures)} times within "
                f"{self.policy.window_seconds:.0f} s (last: {exit_text}); giving up and stopping the stack. "
                f"Its log: {shown(process.log_path)}\n" + process.log_tail()
            )
        delay = self.policy.delay(len(process.failures))
        process.restart_at = now + delay
        log.warning(
            "%s exited (%s); restarting it in %.0f s (%d exit(s) in the last %.0f s). "
            "Last lines of %s:\n%s",
            process.name, exit_text, delay, len(process.failures), self.policy.window_seconds,
            shown(process.log_path), _indent(process.log_tail(15)),
        )  # fmt: skip

    @property
    def restarting(self) -> list[str]:
        return [process.name for process in self.processes if not process.running]

    def stop(self, grace_seconds: float = 30.0) -> None:
        """SIGTERM every group (newest first), SIGKILL what is still alive after the grace period, and
        always SIGKILL each group at the end so no child that ignores SIGTERM outlives its component."""
        for process in reversed(self.processes):
            process.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + grace_seconds
        for process in reversed(self.processes):
            if process.process is None:
                continue
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            process.kill_leftovers()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.process.wait(timeout=10)
        self.processes.clear()


def shown(path: Path) -> str:
    """``path`` relative to the working directory when inside it, so messages name no machine path."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _safely(condition: Callable[[], bool]) -> bool:
    try:
        return bool(condition())
    except Exception:
        return False


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def wait_until(
    condition: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    interval: float = 1.0,
    check: Callable[[], None] | None = None,
) -> None:
    """Poll ``condition`` until true; every wait is bounded and says what it waited for."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check:
            check()
        try:
            if condition():
                return
        except Exception:  # the component is still starting
            pass
        time.sleep(interval)
    raise StackError(f"timed out after {timeout:.0f}s waiting for {what}")


def http_json(url: str, timeout: float = 5.0) -> dict:
    import json

    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


def airflow_healthy(api_url: str, components: tuple[str, ...]) -> bool:
    """True when /api/v2/monitor/health reports every named component healthy."""
    health = http_json(f"{api_url}/api/v2/monitor/health")
    return all((health.get(name) or {}).get("status") == "healthy" for name in components)
