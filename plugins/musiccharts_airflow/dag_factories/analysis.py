"""The song-analysis DAGs: ``analyze_songs`` (new songs) and ``retry_failed_analyses`` (failed songs).

Both are the same three steps: ``collect_songs`` -> ``analyze_song`` (mapped, one instance per song,
labelled by title, deferring while ACRCloud scans) -> ``report`` (one notification for the batch).
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import DAG, Param, TriggerRule, task

from musiccharts_airflow.governance import ACRCLOUD_POOL, PRODUCT_DB_POOL, Tag, default_task_args
from musiccharts_airflow.notifications import run_failure_notifier
from musiccharts_airflow.song_analysis import (
    AnalyzeSongOperator,
    collect_songs,
    mark_song_failed_on_task_failure,
    report_batch,
)

__all__ = ["build_analysis_dag", "deliver_analysis_notification"]

log = logging.getLogger(__name__)


def deliver_analysis_notification(subject: str, body: str, severity: str) -> None:
    """The one place analysis reports leave the system: the project notifier (email and/or webhook)."""
    from musiccharts_airflow.notifications import send_alert

    log.info("%s\n%s", subject, body)
    send_alert(subject, body, severity)


def build_analysis_dag(*, dag_id: str, retry_failed: bool, schedule: Any, doc_md: str) -> DAG:
    with DAG(
        dag_id=dag_id,
        schedule=schedule,
        catchup=False,
        max_active_runs=1,
        default_args=default_task_args(),
        on_failure_callback=run_failure_notifier,
        tags=[Tag.DOMAIN_ACRCLOUD, Tag.SOURCE_ACRCLOUD, Tag.TIER_2],
        doc_md=doc_md,
        params={
            "song_ids": Param(
                [],
                type="array",
                items={"type": "integer"},
                description="Analyse these songs (any status). Empty: see 'audio', else the songs waiting.",
            ),
            "audio": Param(
                [],
                type="array",
                items={
                    "type": "object",
                    "properties": {
                        "path": {"type": "string"},
                        "title": {"type": "string"},
                        "artist": {"type": "string"},
                    },
                    "required": ["path", "title", "artist"],
                },
                description=(
                    "New songs: audio path or URL (file:///..., s3://conn@bucket/key) with title and artist."
                ),
            ),
            "max_songs": Param(
                500,
                type="integer",
                minimum=1,
                maximum=1024,
                description="At most this many songs per run (mapped task instances).",
            ),
        },
    ) as dag:

        @task(task_id="collect_songs", pool=PRODUCT_DB_POOL)
        def collect(params=None, triggering_asset_events=None) -> list[dict]:
            asset_song_ids: list[int] = []
            for events in (triggering_asset_events or {}).values():
                for event in events:
                    asset_song_ids.extend(int(value) for value in (event.extra or {}).get("song_ids", []))
            return collect_songs(
                params or {},
                asset_song_ids,
                statuses=("failed",) if retry_failed else ("uploaded",),
                limit=int((params or {}).get("max_songs") or 500),
            )

        songs = collect()
        analysed = AnalyzeSongOperator.partial(
            task_id="analyze_song",
            pool=ACRCLOUD_POOL,
            map_index_template="{{ task.song['title'] }}",
            on_failure_callback=mark_song_failed_on_task_failure,
        ).expand(song=songs)

        @task(task_id="report", trigger_rule=TriggerRule.ALL_DONE, pool=PRODUCT_DB_POOL)
        def report(songs: Any) -> dict:
            return report_batch(songs, deliver_analysis_notification)

        analysed >> report(songs)
    return dag
