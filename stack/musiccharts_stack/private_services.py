"""Private PostgreSQL and Redis servers that a test or benchmark owns outright (and may restart at will).

The end-to-end fault scenarios restart the broker and the database mid-run; doing that to the machine's
shared services would break every other test and helper on the machine, so the E2E stack runs on these.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from musiccharts_stack.native import PostgresParts
from musiccharts_stack.processes import ManagedProcess, StackError, wait_until

log = logging.getLogger("musiccharts.stack")
# pgserver logs each pg_ctl call at INFO, and again from an atexit hook after pytest has closed its streams.
logging.getLogger("pgserver").setLevel(logging.WARNING)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    """``redis-server`` on a free loopback port, append-only persistence in ``workdir`` (a real broker)."""

    def __init__(self, workdir: Path, port: int | None = None, executable: str | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.executable = executable or shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def command(self) -> list[str]:
        if not Path(self.executable).exists():
            raise StackError(
                "redis-server is not installed: `make run` installs it (Debian package redis-server)"
            )
        return [
            self.executable,
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dir",
            str(self.workdir),
            # Persist like a production broker would, so a restart loses no queued message.
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
            "--protected-mode",
            "yes",
        ]

    def managed_process(self) -> ManagedProcess:
        """This server as a supervised component (restarted like the others if it exits)."""
        self.workdir.mkdir(mode=0o700, parents=True, exist_ok=True)
        return ManagedProcess("redis", self.command(), self.workdir / "redis.log", {})

    def start(self, timeout: float = 30) -> PrivateRedis:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log_file = (self.workdir / "redis.log").open("ab")
        self.process = subprocess.Popen(
            self.command(),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_until(self.ping, timeout=timeout, what=f"private Redis on port {self.port}", interval=0.2)
        return self

    def ping(self) -> bool:
        import redis

        if self.process is None or self.process.poll() is not None:
            raise StackError(f"redis-server exited; see {self.workdir / 'redis.log'}")
        return bool(redis.Redis.from_url(self.url(), socket_timeout=2).ping())

    def stop(self, timeout: float = 20) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def restart(self, down_seconds: float = 2.0) -> None:
        """Stop (clean shutdown), stay down ``down_seconds``, start again on the same port."""
        self.stop()
        time.sleep(down_seconds)
        self.start()


class PrivatePostgres:
    """PostgreSQL 16 from the ``pgserver`` wheel in ``datadir``, reached over its Unix socket."""

    def __init__(self, datadir: Path) -> None:
        import pgserver

        # pgserver needs the parent directory to exist (a fresh clone has no var/ yet).
        datadir.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.datadir = datadir
        self.server = pgserver.get_server(datadir, cleanup_mode="stop")
        self.parts = PostgresParts.from_url(self.server.get_uri())

    def _pg_ctl(self, *args: str, timeout: float = 60) -> None:
        from pgserver._commands import create_command_function

        pg_ctl = create_command_function("pg_ctl")
        pg_ctl(list(args), pgdata=self.datadir, user=self.server.system_user, timeout=timeout)

    def restart(self, down_seconds: float = 2.0) -> None:
        """Fast shutdown (every connection is cut, like a crash to the clients), pause, start again."""
        self._pg_ctl("-w", "-m", "fast", "stop")
        time.sleep(down_seconds)
        self.start()

    def accepting(self) -> bool:
        return self.parts.accepting()

    def postmaster_running(self) -> bool:
        """True while the postmaster named in ``postmaster.pid`` is alive (up, starting or stopping)."""
        try:
            pid = int((self.datadir / "postmaster.pid").read_text().splitlines()[0])
            os.kill(pid, 0)
        except (FileNotFoundError, ValueError, IndexError, ProcessLookupError):
            return False
        except PermissionError:
            return True
        return True

    def ensure_running(self) -> bool:
        """Start the server again if its postmaster died (a crash, an OOM kill); True if it was started."""
        if self.postmaster_running():
            return False
        log.warning("private PostgreSQL is down; starting it again")
        self.start()
        return True

    def start(self) -> None:
        # The same options pgserver starts it with: no TCP listener, the same socket directory and log.
        self._pg_ctl(
            "-w", "-o", '-h ""', "-o", f"-k {self.parts.host}", "-l", str(self.server.log), "start"
        )  # fmt: skip

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.server.cleanup()
        # After a restart() the postmaster is not the one pgserver started, so cleanup() leaves it running.
        if (self.datadir / "postmaster.pid").exists():
            with contextlib.suppress(Exception):
                self._pg_ctl("-w", "-m", "fast", "stop")
