"""Track metadata at scale against the simulator: API calls vs the minimum, mapped instances, wall time.

Mimics the ``fetch_track_metadata`` DAG without a scheduler: the same selection, the same batch plan
(``plan_batches``: the number of mapped task instances the DAG would create) and the same batch unit of work
(``fetch_and_load_tracks``), run by ``--workers`` threads as the ``soundcharts_api`` pool would, each with
its own client sharing one rate limiter. The simulator enforces ``--rpm`` requests per minute (a 429 above
it), so the run shows both that the limiter holds the rate and how close the wall time gets to the floor
``ceil(tracks / batch size) / R`` minutes. A rerun inside the staleness window must make zero calls.

    python bench/bench_metadata.py [--tracks 10000] [--rpm 500] [--workers 4] [--redis-url URL] [--dsn DSN]

Prints ratios: calls / minimum (target 1.00); wall time against the floor set by R (a smooth rate, and the
lower bound of a 60 s moving window, which lets R calls through at once); and the wall time of the same plan
without a rate limit, measured in this run, as the baseline. Exit status 1 when calls exceed the minimum,
a 429 was served or the rerun made a call.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
for part in ("include", "plugins", "simulators", "stack"):
    sys.path.insert(0, str(REPO_ROOT / part))

import psycopg  # noqa: E402
from psycopg.conninfo import conninfo_to_dict, make_conninfo  # noqa: E402

from musiccharts.catalog.batching import minimum_calls, plan_batches  # noqa: E402
from musiccharts.catalog.config import load_catalog_config  # noqa: E402
from musiccharts.catalog.select import select_stale_entities  # noqa: E402
from musiccharts.catalog.sync import fetch_and_load_tracks  # noqa: E402
from soundcharts_simulator.testing import SimulatorServer  # noqa: E402

BENCH_DB = "mc_bench_catalog"


def scratch_database(admin_dsn: str) -> str:
    """Create (or recreate) the scratch database and migrate it; return its DSN."""
    from musiccharts.db.migrate import upgrade

    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {BENCH_DB}")
    dsn = make_conninfo(admin_dsn, dbname=BENCH_DB)
    upgrade(dsn)
    return dsn


def drop_database(admin_dsn: str) -> None:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")


def seed_tracks(dsn: str, sim: SimulatorServer, count: int) -> None:
    """``count`` tracks as the chart loader leaves them (uuid + name, no metadata): all stale."""
    with psycopg.connect(dsn) as conn:
        conn.execute("TRUNCATE tracks RESTART IDENTITY CASCADE")
        with conn.cursor().copy("COPY tracks (uuid, name) FROM STDIN") as copy:
            for song_id in range(count):
                copy.write_row((sim.catalogue.song_uuid(song_id), "seeded"))


def make_client_factory(sim: SimulatorServer, rpm: int | None, redis_url: str | None = None):
    """One client per worker thread (a requests.Session is not shared), one limiter for all of them."""
    from musiccharts.soundcharts.client import SoundchartsClient

    limiter = None
    if rpm:
        from musiccharts_airflow.rate_limit import build_rate_limiter

        limiter = build_rate_limiter("soundcharts-bench", rpm, redis_url)
    local = threading.local()

    def client():
        if not hasattr(local, "client"):
            local.client = SoundchartsClient(
                sim.base_url, sim.app_id, sim.api_key, limiter=limiter, max_retries=3, backoff_base=0.05
            )
        return local.client

    return client


def run_plan(
    dsn: str, sim: SimulatorServer, rpm: int | None, workers: int, redis_url: str | None = None
) -> dict:
    """Select, plan and run every batch like the DAG's mapped tasks; return counts and wall time."""
    config = load_catalog_config().track_metadata
    client = make_client_factory(sim, rpm, redis_url)
    sim.state.reset()
    sim.state.set_rate_limit(rpm)
    started = time.perf_counter()
    with psycopg.connect(dsn) as conn:
        stale = select_stale_entities(
            conn, "track", staleness_days=config.staleness_days, now=datetime.now(UTC)
        )
    batches = plan_batches(stale, endpoint_max=config.endpoint_max, max_batches=config.max_batches)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(
            pool.map(
                lambda batch: fetch_and_load_tracks(
                    client(), dsn, batch["ids"], endpoint_max=config.endpoint_max
                ),
                batches,
            )
        )
    wall = time.perf_counter() - started
    return {
        "stale": len(stale),
        "mapped_instances": len(batches),
        # A batch whose last chunk holds one uuid uses the single-song endpoint: both count.
        "calls": sim.state.call_count("song_batch") + sim.state.call_count("song"),
        "rate_limited": sim.state.call_count(status=429),
        "loaded": sum(result["entities"] for result in results),
        "wall": wall,
        "endpoint_max": config.endpoint_max,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=10_000)
    parser.add_argument("--rpm", type=int, default=500, help="rate limit R (requests per minute)")
    parser.add_argument("--workers", type=int, default=4, help="parallel batch tasks (pool slots)")
    parser.add_argument(
        "--redis-url", default=None, help="share the limiter through Redis (default: in-process limiter)"
    )
    parser.add_argument("--dsn", default="host=127.0.0.1 port=5432 user=postgres dbname=postgres")
    args = parser.parse_args()
    # One log line per simulated request would drown the report.
    logging.getLogger("soundcharts_simulator").setLevel(logging.WARNING)

    admin = make_conninfo(**{**conninfo_to_dict(args.dsn), "dbname": "postgres"})
    dsn = scratch_database(admin)
    try:
        with SimulatorServer(seed=42) as sim:
            # Baseline: the same plan with no rate limit, measured in this run.
            seed_tracks(dsn, sim, args.tracks)
            baseline = run_plan(dsn, sim, None, args.workers)
            # The measured run: fresh tracks again, rate limited at R.
            seed_tracks(dsn, sim, args.tracks)
            limited = run_plan(dsn, sim, args.rpm, args.workers, args.redis_url)
            # Rerun inside the staleness window: nothing selected, nothing called.
            rerun = run_plan(dsn, sim, args.rpm, args.workers, args.redis_url)
    finally:
        drop_database(admin)

    minimum = minimum_calls(args.tracks, limited["endpoint_max"])
    # Two floors: a smooth rate of R/min, and what a 60 s moving window allows (R calls at once, the next R
    # a minute after the first ones), the true lower bound for a window limiter.
    smooth_floor = minimum / args.rpm * 60.0
    window_floor = (math.ceil(minimum / args.rpm) - 1) * 60.0
    print(
        f"tracks={args.tracks} batch endpoint max={limited['endpoint_max']} R={args.rpm}/min "
        f"workers={args.workers}"
    )
    print(f"mapped task instances        : {limited['mapped_instances']} (max_map_length 1024)")
    print(
        f"API calls made / minimum     : {limited['calls']} / {minimum} = {limited['calls'] / minimum:.2f}x"
    )
    print(f"429 responses                : {limited['rate_limited']}")
    print(f"tracks loaded                : {limited['loaded']} of {limited['stale']} stale")
    print(
        f"wall time (rate limited)     : {limited['wall']:.1f} s; smooth floor at R = {smooth_floor:.1f} s "
        f"(ratio {limited['wall'] / smooth_floor:.2f}x); 60 s window floor = {window_floor:.1f} s"
        + (f" (ratio {limited['wall'] / window_floor:.2f}x)" if window_floor else "")
    )
    print(
        f"baseline (no limit, same run): {baseline['wall']:.1f} s ({baseline['calls']} calls); "
        f"limited / baseline = {limited['wall'] / baseline['wall']:.2f}x"
    )
    print(
        f"rerun within staleness       : {rerun['calls']} calls, {rerun['mapped_instances']} instances, "
        f"{rerun['wall']:.2f} s"
    )
    if limited["calls"] != minimum or rerun["calls"] or limited["rate_limited"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
