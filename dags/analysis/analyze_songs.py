"""Analyse uploaded songs with ACRCloud: upload, deferred wait for the scan, identify, matches, risk."""

from __future__ import annotations

import airflow.sdk.definitions.decorators  # noqa: F401  (pre-import for the dag-processor)
from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable

from musiccharts_airflow.dag_factories.analysis import build_analysis_dag
from musiccharts_airflow.governance import ACRCLOUD_POOL
from musiccharts_airflow.song_analysis import SONGS_UPLOADED_ASSET

DOC = f"""\
### Purpose
Checks uploaded songs for rights risks with ACRCloud. Per song (mapped task `analyze_song`, labelled by the
song's title): read the audio (`songs.audio_uri`, any ObjectStoragePath URL), upload it to File Scanning,
identify a <= 12 s sample, then **defer**: the triggerer waits for the container's callback (recorded by the
api-server plugin at `/acrcloud/callback?token=<token>`) or polls the file with backoff until the deadline
(`include/config/analysis.yaml`). Then every match is stored, linked to catalogue tracks by ISRC, and a risk
report (exact/cover/similar/no_match; low/medium/high/critical) is written. `report` sends one notification
for the batch.

### Owner
data-platform

### Schedule
Every 15 minutes (songs with status `uploaded`), on the `songs_uploaded` Asset (event extra `song_ids`), or
by hand with Params. `catchup=False`, `max_active_runs=1`: runs select songs by status, not by period.

### Params
- `song_ids`: analyse these songs whatever their status.
- `audio`: new songs as `{{"path", "title", "artist"}}`; they are registered, then analysed.
- `max_songs`: cap on mapped instances.

### Upstream / Downstream
ACRCloud File Scanning (`acrcloud_default`) and Identification (`acrcloud_identify`), pool `{ACRCLOUD_POOL}`;
product database (`musiccharts_db`). Downstream: the report notification.

### Troubleshooting
- A song that fails (empty/oversized/corrupt file, ACRCloud state -2/-3, no result before the deadline) is
  marked `failed` with the reason; the other songs go on. `retry_failed_analyses` re-runs failed songs
  without uploading again.
- Clearing any task is safe: uploads, matches and reports are keyed and never duplicated.
- Waiting songs sit in state `deferred` and hold no worker or pool slot.
"""

dag = build_analysis_dag(
    dag_id="analyze_songs",
    retry_failed=False,
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("*/15 * * * *", timezone="UTC"), assets=[SONGS_UPLOADED_ASSET]
    ),
    doc_md=DOC,
)
