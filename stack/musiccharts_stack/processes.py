"""Start, watch and stop the processes of a native stack (each in its own process group)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


class StackError(RuntimeError):
    """A component failed to start or became unhealthy; the message says which and where its log is."""


@dataclass
class ManagedProcess:
    name: str
    command: list[str]
    log_path: Path
    env: dict[str, str]
    process: subprocess.Popen | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env,
            # Own process group: Ctrl-C reaches the supervisor only, which then stops everything in order.
            start_new_session=True,
        )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def returncode(self) -> int | None:
        """The exit code once the process has exited (``None`` while running or before it started)."""
        return self.process.returncode if self.process is not None else None

    def signal_group(self, signum: int) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


@dataclass
class ProcessGroup:
    processes: list[ManagedProcess] = field(default_factory=list)

    def start(self, process: ManagedProcess) -> ManagedProcess:
        process.start()
        self.processes.append(process)
        return process

    def check_alive(self) -> None:
        for process in self.processes:
            if not process.running:
                raise StackError(
                    f"{process.name} exited (code {process.returncode}); log {process.log_path}:\n"
                    + process.log_tail()
                )

    def stop(self, grace_seconds: float = 30.0) -> None:
        """SIGTERM every group (newest first), then SIGKILL what is still alive after the grace period."""
        for process in reversed(self.processes):
            process.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + grace_seconds
        for process in reversed(self.processes):
            if process.process is None:
                continue
            try:
                process.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.signal_group(signal.SIGKILL)
                process.process.wait(timeout=10)
        self.processes.clear()


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
