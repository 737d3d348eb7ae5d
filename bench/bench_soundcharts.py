"""Benchmark of the Soundcharts client and the shared rate limiter against an in-process simulator.

Run: ``python bench/bench_soundcharts.py [--rate 300] [--seconds 90] [--processes 4]`` (about 2 minutes).
Needs Redis (``MUSICCHARTS_RATE_LIMIT_REDIS_URL``, default ``redis://127.0.0.1:6379/15``).

1. Calls per chart ranking vs pages needed (``ceil(total / 100)``), and retries on a clean run (target 0).
2. ``--processes`` processes share one Redis limit of R requests/minute against a simulator that enforces
   R/minute (429 beyond it). Measured at the simulator: the most requests in any 60 s window / R
   (target <= 1.0), the achieved steady rate / R (target >= 0.9) and the number of 429s (target 0).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import sys
import time
import uuid
from bisect import bisect_left
from datetime import UTC, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
for part in ("include", "plugins", "simulators", "stack"):
    if str(REPO_ROOT / part) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT / part))

from musiccharts.soundcharts.client import PAGE_LIMIT, SoundchartsClient  # noqa: E402
from musiccharts_airflow.rate_limit import RedisRateLimiter  # noqa: E402
from soundcharts_simulator.testing import SimulatorServer  # noqa: E402

NOW = datetime(2026, 11, 29, 13, 0, tzinfo=UTC)
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"


def max_in_any_window(moments: list[float], window: float) -> int:
    ordered = sorted(moments)
    return max((bisect_left(ordered, start + window) - i for i, start in enumerate(ordered)), default=0)


def bench_pages(sim: SimulatorServer) -> list[tuple[str, int, int, int, int]]:
    """(chart, entries, pages needed, calls made, retries) for a few charts of different sizes."""
    rows = []
    for chart in sim.catalogue.charts(platform="spotify")[:1] + sim.catalogue.charts(platform="shazam")[:1]:
        for when in (None, NOW.date()):
            sim.state.reset()
            sim.state.set_now(NOW)
            client = SoundchartsClient(sim.base_url, sim.app_id, sim.api_key)
            ranking = client.get_chart_ranking(chart.slug, when)
            needed = max(1, math.ceil(ranking.total / PAGE_LIMIT))
            label = f"{chart.slug} ({'latest' if when is None else when.isoformat()})"
            rows.append((label, ranking.total, needed, client.stats.requests, client.stats.retries))
    return rows


def _worker(
    base_url: str,
    app_id: str,
    api_key: str,
    redis_url: str,
    key_prefix: str,
    rate: int,
    song_uuids: list[str],
    start_at: float,
    stop_at: float,
    results,
) -> None:
    limiter = RedisRateLimiter("soundcharts", rate, redis_url, key_prefix=key_prefix)
    client = SoundchartsClient(base_url, app_id, api_key, limiter=limiter, limiter_timeout=None)
    time.sleep(max(0.0, start_at - time.time()))
    index = 0
    while time.time() < stop_at:
        client.get_song(song_uuids[index % len(song_uuids)])
        index += 1
    results.put(client.stats.as_dict())


def bench_shared_limit(rate: int, seconds: float, processes: int, redis_url: str) -> dict[str, float]:
    with SimulatorServer(seed=42, now=NOW, rate_limit_per_minute=rate) as sim:
        song_uuids = [sim.catalogue.song_uuid(5_000 + i) for i in range(50)]
        key_prefix = f"bench-{uuid.uuid4().hex}"
        context = multiprocessing.get_context("spawn")
        results = context.Queue()
        start_at = time.time() + 3.0
        stop_at = start_at + seconds
        workers = [
            context.Process(
                target=_worker,
                args=(
                    sim.base_url,
                    sim.app_id,
                    sim.api_key,
                    redis_url,
                    key_prefix,
                    rate,
                    song_uuids,
                    start_at,
                    stop_at,
                    results,
                ),
            )
            for _ in range(processes)
        ]
        for worker in workers:
            worker.start()
        stats = [results.get(timeout=seconds + 120) for _ in workers]
        for worker in workers:
            worker.join(timeout=30)
        ok = [record.time.timestamp() for record in sim.state.calls("song", 200)]
        rejected = sim.state.call_count(status=429)
        RedisRateLimiter("soundcharts", rate, redis_url, key_prefix=key_prefix).reset()
    span = max(ok) - min(ok)
    steady_per_minute = (len(ok) - 1) / span * 60 if span > 0 else 0.0
    return {
        "requests": len(ok),
        "max_window": max_in_any_window(ok, 60.0),
        "steady_per_minute": steady_per_minute,
        "rejected_429": rejected,
        "client_rate_limited_waits": sum(s["rate_limited_waits"] for s in stats),
        "client_retries": sum(s["retries"] for s in stats),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=300, help="R, requests per minute (default 300)")
    parser.add_argument("--seconds", type=float, default=90.0, help="load duration (default 90 s)")
    parser.add_argument("--processes", type=int, default=4)
    args = parser.parse_args()
    redis_url = os.environ.get("MUSICCHARTS_RATE_LIMIT_REDIS_URL") or DEFAULT_REDIS_URL

    print("== 1. calls per chart ranking (clean run) ==")
    with SimulatorServer(seed=42, now=NOW) as sim:
        rows = bench_pages(sim)
    print(f"{'chart':<40} {'entries':>7} {'pages':>5} {'calls':>5} {'calls/pages':>11} {'retries':>7}")
    for label, total, needed, calls, retries in rows:
        print(f"{label:<40} {total:>7} {needed:>5} {calls:>5} {calls / needed:>11.2f} {retries:>7}")
    pages_ok = all(calls == needed and retries == 0 for _, _, needed, calls, retries in rows)

    print(
        f"\n== 2. {args.processes} processes, one Redis limit of R={args.rate}/min, "
        f"simulator enforcing {args.rate}/min, {args.seconds:.0f} s =="
    )
    result = bench_shared_limit(args.rate, args.seconds, args.processes, redis_url)
    max_ratio = result["max_window"] / args.rate
    rate_ratio = result["steady_per_minute"] / args.rate
    print(f"{'metric':<42} {'value':>10} {'target':>10} {'ok':>4}")
    lines = [
        ("max requests in any 60 s window / R", f"{max_ratio:.3f}", "<= 1.0", max_ratio <= 1.0),
        ("achieved steady rate / R", f"{rate_ratio:.3f}", ">= 0.9", rate_ratio >= 0.9),
        ("429 answers", f"{result['rejected_429']}", "0", result["rejected_429"] == 0),
        ("client retries", f"{result['client_retries']}", "0", result["client_retries"] == 0),
    ]
    for name, value, target, ok in lines:
        print(f"{name:<42} {value:>10} {target:>10} {'yes' if ok else 'NO':>4}")
    print(
        f"(requests served: {result['requests']}, max in a 60 s window: {result['max_window']}, "
        f"steady rate: {result['steady_per_minute']:.1f}/min)"
    )
    all_ok = pages_ok and all(ok for *_, ok in lines)
    print("\nRESULT:", "all targets met" if all_ok else "TARGET MISSED")
    sys.exit(0 if all_ok else 1)


if __name__ == "__main__":
    main()
