"""Re-run failed song analyses, reusing what ACRCloud already has (no second upload)."""

from __future__ import annotations

import airflow.sdk.definitions.decorators  # noqa: F401  (pre-import for the dag-processor)
from airflow.sdk import CronTriggerTimetable

from musiccharts_airflow.dag_factories.analysis import build_analysis_dag

DOC = """\
### Purpose
Re-runs every song whose analysis `failed` (or the `song_ids` given). The analysis is reopened: a file
ACRCloud already holds is not uploaded again (a scan that ended in error is rescanned; a wait that hit its
deadline waits again); a song whose file is bad fails again with the same clear reason.

### Owner
data-platform

### Schedule
Daily at 03:30 UTC and by hand. `catchup=False`, `max_active_runs=1`.

### Troubleshooting
- Songs failing again for the same reason need a new file (upload a corrected file as a new song).
- See `analyze_songs` for the steps; this DAG shares its tasks.
"""

dag = build_analysis_dag(
    dag_id="retry_failed_analyses",
    retry_failed=True,
    schedule=CronTriggerTimetable("30 3 * * *", timezone="UTC"),
    doc_md=DOC,
)
