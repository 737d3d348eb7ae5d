"""Song analysis at scale on the real stack: N songs through ``analyze_songs`` with scan delay D and rate R.

One stack (private Postgres + Redis, the ACRCloud simulator in this process, api-server with the callback
plugin, scheduler, dag-processor, triggerer, Celery workers). N synthetic songs (WAV, mixed kinds) are
registered, then one ``analyze_songs`` run is triggered with their ids. Measured:

- slots held by scan waits: every ``--sample`` seconds the ``analyze_song`` task instances (REST API) are
  joined, by their title label, with the product database; a *waiting* song is one whose upload and
  identification are stored and whose scan result has not arrived, for more than ``GRACE_SECONDS`` (the
  instant between storing the identification and the task handing itself to the triggerer is not a
  wait). Printed: the maximum number of ``running`` instances whose song was waiting (target 0: waits are
  deferred and hold no worker or pool slot; a sensor-style wait would show every waiting song here), next
  to the maximum of waiting songs and of ``deferred`` instances at once;
- wall time from the trigger to the run's end against the floor set by D and R. Per song the minimum is
  one File Scanning call (the upload), one Identification call, and the scan of D seconds; each API is
  limited to R requests per minute (separate limiters). The N uploads therefore cannot be spread over less
  than ``(N - 1) * 60 / R`` seconds, the identification of a song follows its own upload on the other
  API (never the binding limit), and the last upload's scan still takes D, so
  ``floor = (N - 1) * 60 / R + D`` (for N = 1 just D). Airflow's own costs (run creation, task start-up,
  the resume after the wait, the report task) are not in the floor: they are what the ratio measures.
  The ratio wall / floor is printed (target <= 1.2), with a profile of where the time went;
- ACRCloud calls per song by endpoint, against the minimum (1 upload + 1 identify; 0 polls and 0 result
  GETs when the callback carries the results).

    python bench/bench_analysis.py [--songs 100] [--scan-delay 60] [--rate 30] [--concurrency 6]

The defaults (N = 100, D = 60 s, R = 30/min: floor 258 s) keep one run under ten minutes with start-up.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
for part in ("include", "plugins", "simulators", "stack"):
    sys.path.insert(0, str(REPO_ROOT / part))

from acrcloud_simulator.catalogue import RecordingKind  # noqa: E402
from acrcloud_simulator.testing import AcrSimulatorServer, recording_wav  # noqa: E402
from musiccharts_stack.e2e import E2EStack  # noqa: E402

TOKEN = "bench-callback-token"
KINDS = [RecordingKind.ORIGINAL, RecordingKind.COVER, RecordingKind.HUMAN_UNKNOWN, RecordingKind.AI_GENERATED]
#: A song counts as waiting for its scan once its identification has been stored this long ago.
GRACE_SECONDS = 3.0

# Songs uploaded and identified whose scan has not ended, stored more than GRACE_SECONDS ago.
WAITING_SQL = """
SELECT s.title FROM song_analyses a JOIN songs s ON s.id = a.song_id
WHERE a.status = 'processing' AND a.file_id IS NOT NULL AND a.identification IS NOT NULL
  AND a.callback_received_at IS NULL AND a.scan_finished_at IS NULL
  AND a.updated_at < now() - make_interval(secs => %s)
"""


def register_songs(dsn: str, folder: Path, count: int) -> list[int]:
    import psycopg

    folder.mkdir(parents=True, exist_ok=True)
    ids = []
    with psycopg.connect(dsn) as conn:
        for index in range(count):
            path = folder / f"song-{index:03d}.wav"
            path.write_bytes(recording_wav(KINDS[index % len(KINDS)], 5000 + index, 15))
            ids.append(
                conn.execute(
                    "INSERT INTO songs (title, artist, audio_uri) VALUES (%s, %s, %s) RETURNING id",
                    (f"bench song {index:03d}", "Bench Artist", path.as_uri()),
                ).fetchone()[0]
            )
    return ids


@dataclass
class Sample:
    states: dict[str, int]
    waiting: int  # songs waiting for their scan (past the grace)
    waiting_running: int  # ... whose task instance is running, i.e. holds a worker slot while waiting


class Sampler(threading.Thread):
    """Every ``interval`` s: analyze_song instances by state (REST API) joined with the waiting songs."""

    def __init__(self, stack: E2EStack, run_id: str, interval: float) -> None:
        super().__init__(daemon=True)
        self.stack, self.run_id, self.interval = stack, run_id, interval
        self.samples: list[Sample] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        import psycopg

        with psycopg.connect(self.stack.product_dsn, autocommit=True) as conn:
            while not self.stopping.wait(self.interval):
                try:
                    instances = self.stack.api.task_instances("analyze_songs", self.run_id)
                    waiting = {row[0] for row in conn.execute(WAITING_SQL, (GRACE_SECONDS,))}
                except Exception:  # the api-server is busy; the next sample will do
                    continue
                states: dict[str, int] = {}
                running_titles = set()
                for instance in instances:
                    if instance["task_id"] != "analyze_song":
                        continue
                    state = instance["state"] or "none"
                    states[state] = states.get(state, 0) + 1
                    if state == "running":
                        running_titles.add(instance.get("rendered_map_index"))
                self.samples.append(Sample(states, len(waiting), len(waiting & running_titles)))


def song_timeline(dsn: str) -> dict[str, list[float]]:
    """Epoch seconds of each song's upload, callback and completion (the profile's milestones)."""
    import psycopg

    columns = ("upload_started_at", "uploaded_at", "callback_received_at", "completed_at", "updated_at")
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT "
            + ", ".join(f"extract(epoch FROM {name})::float8" for name in columns)
            + " FROM song_analyses"
        ).fetchall()
    return {name: sorted(row[i] for row in rows if row[i] is not None) for i, name in enumerate(columns)}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--songs", type=int, default=100, help="songs in the batch (N)")
    parser.add_argument("--scan-delay", type=float, default=60.0, help="seconds each scan takes (D)")
    parser.add_argument("--rate", type=int, default=30, help="requests per minute per ACRCloud API (R)")
    # Six slots: an uploading task holds its slot while it waits for the rate limiter's next grant, and the
    # finishing tasks of earlier songs must still find one (measured: mean 3.8 of 6 running).
    parser.add_argument("--concurrency", type=int, default=6, help="Celery worker concurrency")
    parser.add_argument("--sample", type=float, default=2.0, help="seconds between state samples")
    parser.add_argument("--timeout", type=float, default=900, help="give up on the run after this")
    parser.add_argument("--keep-logs", metavar="DIR", help="copy the stack's and tasks' logs here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    workdir = Path(tempfile.mkdtemp(prefix="musiccharts-bench-analysis-"))
    acr = AcrSimulatorServer(seed=42, scan_delay=args.scan_delay).start()
    stack = E2EStack(
        workdir=workdir / "stack",
        charts=[],
        celery_workers=1,
        worker_concurrency=args.concurrency,
        extra_env={
            "ACRCLOUD_BASE_URL": acr.base_url,
            "ACRCLOUD_IDENTIFY_URL": acr.base_url,
            "ACRCLOUD_BEARER_TOKEN": acr.bearer_token,
            "ACRCLOUD_CONTAINER_ID": str(acr.container_id),
            "ACRCLOUD_CALLBACK_TOKEN": TOKEN,
            "ACRCLOUD_ACCESS_KEY": acr.access_key,
            "ACRCLOUD_ACCESS_SECRET": acr.access_secret,
            "ACRCLOUD_REQUESTS_PER_MINUTE": str(args.rate),
            "ACRCLOUD_IDENTIFY_REQUESTS_PER_MINUTE": str(args.rate),
            # Twice the worker's slots may be queued or running: a freed worker process then finds the next
            # song already waiting in the broker instead of idling until the scheduler's next loop (measured
            # with pool = slots: mean 3.5 of 6 running while 41 songs waited to be scheduled).
            "AIRFLOW__CORE__PARALLELISM": str(2 * args.concurrency),
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "1024",
        },
    )
    sampler: Sampler | None = None
    timeline: dict[str, list[float]] = {}
    try:
        print(f"starting the stack in {workdir} ...", flush=True)
        stack.start()
        acr.state.set_callback_url(f"{stack.native.api_url}/acrcloud/callback?token={TOKEN}")
        # The acrcloud_api pool limits concurrent uploads/identifications (the rate limiter paces them);
        # twice the worker's slots keeps a queue in the broker (see PARALLELISM above).
        stack.api.call(
            "PATCH",
            "/api/v2/pools/acrcloud_api",
            json={"pool": "acrcloud_api", "slots": 2 * args.concurrency, "include_deferred": False},
        )
        stack.api.wait_for_dag("analyze_songs")
        stack.api.set_paused("analyze_songs", False)
        # Unpausing creates the run of the latest cron slot (catchup=False); with max_active_runs=1 it would
        # queue the measured run behind it and analyse the batch itself. Let it find no songs and finish.
        time.sleep(10)
        stack.api.wait_for_runs("analyze_songs", count=0, timeout=300)
        song_ids = register_songs(stack.product_dsn, workdir / "audio", args.songs)
        print(f"stack up; triggering {args.songs} songs at {time.strftime('%H:%M:%S')}", flush=True)
        started_epoch, started = time.time(), time.monotonic()
        run = stack.api.call(
            "POST",
            "/api/v2/dags/analyze_songs/dagRuns",
            json={"logical_date": None, "conf": {"song_ids": song_ids}},
        )
        sampler = Sampler(stack, run["dag_run_id"], args.sample)
        sampler.start()
        finished = stack.api.wait_run_finished(
            "analyze_songs", run["dag_run_id"], timeout=args.timeout, check=stack.check_alive
        )
        wall = time.monotonic() - started
        ended_epoch = time.time()
        sampler.stopping.set()
        sampler.join(timeout=10)
        timeline = song_timeline(stack.product_dsn)
        report_task = [
            instance
            for instance in stack.api.task_instances("analyze_songs", run["dag_run_id"])
            if instance["task_id"] == "report"
        ]
    finally:
        if sampler is not None:  # its database connection would hold up the private Postgres's shutdown
            sampler.stopping.set()
            sampler.join(timeout=10)
        if args.keep_logs and stack.stack is not None:
            print(f"logs kept in {stack.copy_logs(Path(args.keep_logs))}")
        stack.stop()
        acr.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    samples = sampler.samples if sampler else []
    floor = (args.songs - 1) * 60 / args.rate + args.scan_delay
    upload_span = (args.songs - 1) * 60 / args.rate
    per_song = {
        name: acr.state.count(name) / args.songs for name in ("file_upload", "identify", "file", "files")
    }
    print(
        f"\nanalyze_songs: {args.songs} songs, scan delay D={args.scan_delay:g} s,"
        f" rate R={args.rate}/min per API, Celery concurrency {args.concurrency}"
    )
    print(f"  run state: {finished['state']}")
    print(
        f"  wall time: {wall:.1f} s; floor (N-1)*60/R + D = {upload_span:.1f} + {args.scan_delay:g}"
        f" = {floor:.1f} s; ratio {wall / floor:.2f} (target <= 1.2)"
    )
    print(
        f"  scan waits ({len(samples)} samples every {args.sample:g} s): max running analyze_song TIs"
        f" whose song was waiting for its scan: {max((x.waiting_running for x in samples), default=0)}"
        f" (target 0); max songs waiting at once {max((x.waiting for x in samples), default=0)},"
        f" max deferred {max((x.states.get('deferred', 0) for x in samples), default=0)},"
        f" max running (uploading or storing) {max((x.states.get('running', 0) for x in samples), default=0)}"
    )
    print(
        "  ACRCloud calls per song: "
        + ", ".join(f"{name} {value:.2f}" for name, value in per_song.items())
        + " (minimum: file_upload 1, identify 1, file 0, files 0)"
    )
    print(f"  callbacks sent: {len(acr.state.callbacks)}")
    busy = [x.states for x in samples if x.states.get("scheduled", 0) + x.states.get("queued", 0) > 0]
    if busy:
        print(
            f"  while songs waited to start ({len(busy)} samples): mean running"
            f" {statistics.mean(x.get('running', 0) for x in busy):.1f} of {args.concurrency} slots,"
            f" mean queued {statistics.mean(x.get('queued', 0) for x in busy):.1f},"
            f" mean scheduled {statistics.mean(x.get('scheduled', 0) for x in busy):.1f}"
        )
    uploads, callbacks, completed = (
        timeline.get("uploaded_at", []),
        timeline.get("callback_received_at", []),
        timeline.get("completed_at", []),
    )
    if uploads and callbacks and completed:
        first_start = timeline["upload_started_at"][0]
        print("  profile (seconds from the trigger):")
        print(f"    first upload started   {first_start - started_epoch:7.1f}  (collect_songs, expand)")
        print(
            f"    last upload done       {uploads[-1] - started_epoch:7.1f}  (upload span"
            f" {uploads[-1] - uploads[0]:.1f} s vs (N-1)*60/R = {upload_span:.1f} s)"
        )
        print(
            f"    last callback          {callbacks[-1] - started_epoch:7.1f}  (last upload + D ="
            f" {uploads[-1] + args.scan_delay - started_epoch:.1f})"
        )
        print(
            f"    last song completed    {completed[-1] - started_epoch:7.1f}  (resume after the callback:"
            f" median {statistics.median(pair_gaps(callbacks, completed)):.1f} s per song)"
        )
        if report_task and report_task[0].get("end_date"):
            print(f"    report task ended      {iso_epoch(report_task[0]['end_date']) - started_epoch:7.1f}")
        print(f"    run end seen           {ended_epoch - started_epoch:7.1f}")
    return 0 if finished["state"] == "success" and wall / floor <= 1.2 else 1


def pair_gaps(earlier: list[float], later: list[float]) -> list[float]:
    """Gaps between the i-th smallest of each list (songs finish roughly in the order they were called)."""
    return [b - a for a, b in zip(earlier, later, strict=False)] or [0.0]


def iso_epoch(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


if __name__ == "__main__":
    sys.exit(main())
