"""Song analysis at scale on the real stack: N songs through ``analyze_songs`` with scan delay D and rate R.

One stack (private Postgres + Redis, the ACRCloud simulator in this process, api-server with the callback
plugin, scheduler, dag-processor, triggerer, Celery workers). N synthetic songs (WAV, mixed kinds) are
registered, then one ``analyze_songs`` run is triggered with their ids. Measured:

- ``analyze_song`` task instances by state, sampled every 0.5 s through the REST API: during the wait
  phase (first to last sample with a deferred song) the running ones are only songs uploading or storing
  results; waiting songs are ``deferred`` and hold no worker slot (a sensor-style wait would show them
  ``running``). Printed: max running and max deferred during that phase;
- wall time from trigger to run end against the floor set by D and R: each song needs one File Scanning
  call (upload) and one Identification call, each API limited to R requests per minute, and every scan
  takes D seconds, so ``floor = max(N * 60 / R, D) + D`` (the last upload still waits D); the ratio is
  printed (target <= 1.2);
- ACRCloud calls per song by endpoint, against the minimum (1 upload + 1 identify; polls 0 with callbacks).

    python bench/bench_analysis.py [--songs 100] [--scan-delay 30] [--rate 120] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
for part in ("include", "plugins", "simulators", "stack"):
    sys.path.insert(0, str(REPO_ROOT / part))

from acrcloud_simulator.catalogue import RecordingKind  # noqa: E402
from acrcloud_simulator.testing import AcrSimulatorServer, recording_wav  # noqa: E402
from musiccharts_stack.e2e import E2EStack  # noqa: E402

TOKEN = "bench-callback-token"
KINDS = [RecordingKind.ORIGINAL, RecordingKind.COVER, RecordingKind.HUMAN_UNKNOWN, RecordingKind.AI_GENERATED]


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


class Sampler(threading.Thread):
    """Counts analyze_song instances by state every ``interval`` s (REST API) until stopped."""

    def __init__(self, stack: E2EStack, run_id: str, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.stack, self.run_id, self.interval = stack, run_id, interval
        self.samples: list[dict[str, int]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                instances = self.stack.api.task_instances("analyze_songs", self.run_id)
            except Exception:  # the api-server is busy; the next sample will do
                time.sleep(self.interval)
                continue
            counts: dict[str, int] = {}
            for instance in instances:
                if instance["task_id"] == "analyze_song":
                    counts[instance["state"] or "none"] = counts.get(instance["state"] or "none", 0) + 1
            self.samples.append(counts)
            time.sleep(self.interval)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--songs", type=int, default=100, help="songs in the batch (N)")
    parser.add_argument("--scan-delay", type=float, default=30.0, help="seconds each scan takes (D)")
    parser.add_argument("--rate", type=int, default=120, help="requests per minute per ACRCloud API (R)")
    parser.add_argument("--concurrency", type=int, default=4, help="Celery worker concurrency")
    parser.add_argument("--timeout", type=float, default=1800)
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
            # Scan waits: the callback normally ends them; polls only as the fallback.
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "1024",
        },
    )
    try:
        print(f"starting the stack in {workdir} ...", flush=True)
        stack.start()
        acr.state.set_callback_url(f"{stack.stack.api_url}/acrcloud/callback/{TOKEN}")
        # The acrcloud_api pool limits concurrent uploads/identifications; give it the worker's slots.
        stack.api.call(
            "PATCH",
            "/api/v2/pools/acrcloud_api",
            json={"pool": "acrcloud_api", "slots": args.concurrency, "include_deferred": False},
        )
        song_ids = register_songs(stack.product_dsn, workdir / "audio", args.songs)
        stack.api.wait_for_dag("analyze_songs")
        stack.api.set_paused("analyze_songs", False)
        started = time.monotonic()
        run = stack.api.call(
            "POST",
            "/api/v2/dags/analyze_songs/dagRuns",
            json={"logical_date": None, "conf": {"song_ids": song_ids}},
        )
        sampler = Sampler(stack, run["dag_run_id"])
        sampler.start()
        finished = stack.api.wait_run_finished(
            "analyze_songs", run["dag_run_id"], timeout=args.timeout, check=stack.check_alive
        )
        wall = time.monotonic() - started
        sampler.stopping.set()
        sampler.join(timeout=5)
    finally:
        stack.stop()
        acr.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    # The wait phase: from the first sample with a deferred song to the last one.
    marks = [index for index, sample in enumerate(sampler.samples) if sample.get("deferred", 0) > 0]
    phase = sampler.samples[marks[0] : marks[-1] + 1] if marks else []
    floor = max(args.songs * 60 / args.rate, args.scan_delay) + args.scan_delay
    per_song = {
        name: acr.state.count(name) / args.songs for name in ("file_upload", "identify", "file", "files")
    }
    print(
        f"\nanalyze_songs: {args.songs} songs, scan delay D={args.scan_delay:g} s,"
        f" rate R={args.rate}/min per API"
    )
    print(f"  run state: {finished['state']}")
    print(
        f"  wall time: {wall:.1f} s; floor max(N*60/R, D) + D = {floor:.1f} s;"
        f" ratio {wall / floor:.2f} (target <= 1.2)"
    )
    print(
        f"  wait phase ({len(phase)} samples): max running analyze_song TIs"
        f" {max((x.get('running', 0) for x in phase), default=0)}"
        f" (uploads/stores of other songs; a waiting song is 'deferred', never 'running'),"
        f" samples with 0 running: {sum(1 for x in phase if not x.get('running'))}"
    )
    print(f"  max deferred at once: {max((s.get('deferred', 0) for s in sampler.samples), default=0)}")
    print(
        "  ACRCloud calls per song: "
        + ", ".join(f"{name} {value:.2f}" for name, value in per_song.items())
        + " (minimum: file_upload 1, identify 1, file 0, files 0)"
    )
    print(f"  callbacks sent: {len(acr.state.callbacks)}")
    return 0 if finished["state"] == "success" and wall / floor <= 1.2 else 1


if __name__ == "__main__":
    sys.exit(main())
