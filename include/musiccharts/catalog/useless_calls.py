"""Calls known to be useless are not repeated every day: a memory of them, with a backoff.

An audience series that answers 404 or no data, and a uuid a batch endpoint leaves out of its answer, would
otherwise cost one wasted call per day forever. Each is remembered in ``soundcharts_call_backoff`` with the
day before which it is not asked again; that delay doubles with every useless answer (2, 4, 8, 16 days) up
to :data:`MAX_BACKOFF_DAYS`, and a useful answer forgets it at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import psycopg

#: The longest a known-useless call is put off: data may appear later (a new platform link, a release).
MAX_BACKOFF_DAYS = 30

_REMEMBER_SQL = """
INSERT INTO soundcharts_call_backoff AS b
    (endpoint, entity_uuid, platform, reason, useless_answers, retry_after)
SELECT %(endpoint)s, x.entity_uuid, x.platform, x.reason, 1, %(today)s::date + 2
FROM unnest(%(uuids)s::text[], %(platforms)s::text[], %(reasons)s::text[])
    AS x(entity_uuid, platform, reason)
ON CONFLICT (endpoint, entity_uuid, platform) DO UPDATE SET
    reason = EXCLUDED.reason,
    useless_answers = b.useless_answers + 1,
    retry_after = %(today)s::date + least(%(max_days)s, power(2, b.useless_answers + 1)::integer),
    last_seen_at = now()
"""

_FORGET_SQL = """
DELETE FROM soundcharts_call_backoff
WHERE endpoint = %(endpoint)s
  AND (entity_uuid, platform) IN (
      SELECT * FROM unnest(%(uuids)s::text[], %(platforms)s::text[])
  )
"""

_RESTING_SQL = """
SELECT entity_uuid, platform FROM soundcharts_call_backoff
WHERE endpoint = %(endpoint)s AND retry_after > %(today)s AND entity_uuid = ANY(%(uuids)s::text[])
"""


def remember_useless(
    conn: psycopg.Connection, endpoint: str, calls: Iterable[tuple[str, str, str]], *, today: date
) -> None:
    """Record ``(entity uuid, platform or "", reason)`` answers as useless on ``today``."""
    rows = sorted(set(calls))
    if rows:
        conn.execute(
            _REMEMBER_SQL,
            {
                "endpoint": endpoint,
                "uuids": [uuid.lower() for uuid, _, _ in rows],
                "platforms": [platform for _, platform, _ in rows],
                "reasons": [reason for _, _, reason in rows],
                "today": today,
                "max_days": MAX_BACKOFF_DAYS,
            },
        )


def forget_useless(conn: psycopg.Connection, endpoint: str, calls: Iterable[tuple[str, str]]) -> None:
    """A useful answer came back for these ``(entity uuid, platform)``: ask them normally again."""
    rows = sorted(set(calls))
    if rows:
        conn.execute(
            _FORGET_SQL,
            {
                "endpoint": endpoint,
                "uuids": [uuid.lower() for uuid, _ in rows],
                "platforms": [platform for _, platform in rows],
            },
        )


def resting_calls(
    conn: psycopg.Connection, endpoint: str, uuids: Iterable[str], *, today: date
) -> set[tuple[str, str]]:
    """The ``(entity uuid, platform)`` of ``uuids`` not to be asked on ``today``."""
    rows = conn.execute(
        _RESTING_SQL, {"endpoint": endpoint, "today": today, "uuids": [uuid.lower() for uuid in uuids]}
    ).fetchall()
    return {(row[0], row[1]) for row in rows}
