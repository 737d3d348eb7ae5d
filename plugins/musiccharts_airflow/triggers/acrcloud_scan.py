"""Waiting for an ACRCloud File Scanning result on the triggerer, holding no worker slot.

The wait ends as soon as either

- the container's callback has been recorded for the analysis (the callback endpoint writes it to the
  product database; all waiting triggers of one triggerer share one query every ``callback_check_seconds``),
- or a poll of the file finds its state is no longer 0 (processing). Polls start ``first_poll_seconds``
  after the upload and back off by ``poll_backoff_factor`` up to ``max_poll_seconds``, so a callback that
  never comes costs a handful of API calls, not one per check,
- or the deadline passes (an absolute time, so a triggerer restart does not extend it).

The event carries only the outcome (``done``/``timeout``/``error``, the state, and how it was learnt),
never the results: those are read from the database or fetched once by the resumed task.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

__all__ = ["AcrCloudScanTrigger"]

log = logging.getLogger(__name__)


class _CallbackBoard:
    """Which waiting analyses had their callback, for all triggers of this process: one query per tick."""

    def __init__(self) -> None:
        self.waiting: dict[str, set[int]] = {}
        self.arrived: dict[str, dict[int, int | None]] = {}
        self.checked_at: dict[str, float] = {}
        self.connections: dict[str, Any] = {}
        self.lock: asyncio.Lock | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.queries = 0

    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self.lock is None or self.loop is not loop:
            self.lock, self.loop, self.connections = asyncio.Lock(), loop, {}
        return self.lock

    def watch(self, dsn: str, analysis_id: int) -> None:
        self.waiting.setdefault(dsn, set()).add(analysis_id)

    def forget(self, dsn: str, analysis_id: int) -> None:
        self.waiting.get(dsn, set()).discard(analysis_id)
        self.arrived.get(dsn, {}).pop(analysis_id, None)

    async def arrived_state(self, dsn: str, analysis_id: int, max_age: float) -> tuple[bool, int | None]:
        """(callback recorded?, its scan state), refreshing the shared view if older than ``max_age``."""
        async with self._lock():
            if time.monotonic() - self.checked_at.get(dsn, 0.0) >= max_age:
                await self._refresh(dsn)
        found = self.arrived.get(dsn, {})
        if analysis_id in found:
            return True, found[analysis_id]
        return False, None

    async def _refresh(self, dsn: str) -> None:
        import psycopg

        ids = sorted(self.waiting.get(dsn, set()))
        self.checked_at[dsn] = time.monotonic()
        if not ids:
            return
        connection = self.connections.get(dsn)
        try:
            if connection is None or connection.closed:
                connection = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
                self.connections[dsn] = connection
            cursor = await connection.execute(
                "SELECT id, scan_state FROM song_analyses"
                " WHERE id = ANY(%s) AND callback_received_at IS NOT NULL",
                (ids,),
            )
            rows = await cursor.fetchall()
            self.queries += 1
        except psycopg.Error as error:
            # The poll path still ends the wait; a database hiccup only delays the early finish.
            log.warning("could not check for ACRCloud callbacks: %s", type(error).__name__)
            self.connections.pop(dsn, None)
            return
        self.arrived.setdefault(dsn, {}).update({int(row[0]): row[1] for row in rows})


_BOARD = _CallbackBoard()


async def _product_dsn(conn_id: str) -> str:
    from airflow.sdk import BaseHook
    from psycopg.conninfo import make_conninfo

    connection = await BaseHook.aget_connection(conn_id)
    parts = {
        "host": connection.host or "127.0.0.1",
        "port": str(connection.port or 5432),
        "dbname": connection.schema or "musiccharts",
        "user": connection.login or "postgres",
        "application_name": "musiccharts-triggerer",
    }
    if connection.password:
        parts["password"] = connection.password
    return make_conninfo(**parts)


class AcrCloudScanTrigger(BaseTrigger):
    """Fires when the scan of ``file_id`` (of analysis ``analysis_id``) ended, or at ``deadline`` (epoch)."""

    def __init__(
        self,
        *,
        analysis_id: int,
        file_id: str,
        deadline: float,
        acrcloud_conn_id: str = "acrcloud_default",
        product_conn_id: str = "musiccharts_db",
        callback_check_seconds: float = 1.0,
        first_poll_seconds: float = 180.0,
        poll_backoff_factor: float = 2.0,
        max_poll_seconds: float = 300.0,
        polls_done: int = 0,
    ) -> None:
        super().__init__()
        self.analysis_id = int(analysis_id)
        self.file_id = str(file_id)
        self.deadline = float(deadline)
        self.acrcloud_conn_id = acrcloud_conn_id
        self.product_conn_id = product_conn_id
        self.callback_check_seconds = float(callback_check_seconds)
        self.first_poll_seconds = float(first_poll_seconds)
        self.poll_backoff_factor = float(poll_backoff_factor)
        self.max_poll_seconds = float(max_poll_seconds)
        self.polls_done = int(polls_done)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "analysis_id": self.analysis_id,
                "file_id": self.file_id,
                "deadline": self.deadline,
                "acrcloud_conn_id": self.acrcloud_conn_id,
                "product_conn_id": self.product_conn_id,
                "callback_check_seconds": self.callback_check_seconds,
                "first_poll_seconds": self.first_poll_seconds,
                "poll_backoff_factor": self.poll_backoff_factor,
                "max_poll_seconds": self.max_poll_seconds,
                "polls_done": self.polls_done,
            },
        )

    def poll_interval(self, polls_done: int) -> float:
        return min(self.max_poll_seconds, self.first_poll_seconds * self.poll_backoff_factor**polls_done)

    def _event(self, status: str, **extra: Any) -> TriggerEvent:
        return TriggerEvent(
            {
                "status": status,
                "analysis_id": self.analysis_id,
                "file_id": self.file_id,
                "polls": self.polls_done,
            }
            | extra
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow.sdk import BaseHook

        from musiccharts.analysis.acrcloud import AcrAuthError, AcrError, AcrNotFound, AcrUnavailable
        from musiccharts_airflow.hooks.acrcloud import file_scanning_client_from_connection

        try:
            dsn = await _product_dsn(self.product_conn_id)
            connection = await BaseHook.aget_connection(self.acrcloud_conn_id)
            client = file_scanning_client_from_connection(connection, self.acrcloud_conn_id)
        except Exception as error:
            yield self._event("error", message=f"cannot set up the wait: {type(error).__name__}: {error}")
            return
        _BOARD.watch(dsn, self.analysis_id)
        next_poll = time.time() + self.poll_interval(self.polls_done)
        try:
            while True:
                arrived, state = await _BOARD.arrived_state(
                    dsn, self.analysis_id, self.callback_check_seconds
                )
                if arrived:
                    yield self._event("done", via="callback", state=state)
                    return
                now = time.time()
                if now >= self.deadline:
                    yield self._event("timeout")
                    return
                if now >= next_poll:
                    try:
                        scanned = await asyncio.to_thread(client.get_file, self.file_id)
                    except (AcrAuthError, AcrNotFound) as error:
                        yield self._event("error", message=str(error), fatal=True)
                        return
                    except (AcrUnavailable, AcrError) as error:
                        log.warning("poll of ACRCloud file %s failed: %s", self.file_id, error)
                        scanned = None
                    self.polls_done += 1
                    if scanned is not None and int(scanned.get("state", 0)) != 0:
                        yield self._event("done", via="poll", state=int(scanned["state"]))
                        return
                    next_poll = time.time() + self.poll_interval(self.polls_done)
                wake = min(next_poll, self.deadline, time.time() + self.callback_check_seconds)
                await asyncio.sleep(max(0.05, wake - time.time()))
        finally:
            _BOARD.forget(dsn, self.analysis_id)
