"""``python -m soundcharts_simulator``: serve the simulator (used by ``make run`` and by hand)."""

from __future__ import annotations

import argparse
import logging
from datetime import datetime

import uvicorn

from soundcharts_simulator.app import create_app
from soundcharts_simulator.catalogue import Catalogue
from soundcharts_simulator.state import SimulatorState


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="soundcharts_simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--app-id", default="soundcharts", help="expected x-app-id (sandbox default)")
    parser.add_argument("--api-key", default="soundcharts", help="expected x-api-key (sandbox default)")
    parser.add_argument("--rate-limit-per-minute", type=int, default=None)
    parser.add_argument("--quota", type=int, default=1_000_000)
    parser.add_argument(
        "--now", type=datetime.fromisoformat, default=None, help="pin the clock (ISO, tz-aware)"
    )
    parser.add_argument(
        "--lenient-ranking-dates",
        action="store_true",
        help="serve the latest ranking on or before any requested datetime instead of 404",
    )
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    state = SimulatorState(
        app_id=args.app_id,
        api_key=args.api_key,
        quota=args.quota,
        rate_limit_per_minute=args.rate_limit_per_minute,
        now=args.now,
        lenient_ranking_dates=args.lenient_ranking_dates,
    )
    app = create_app(state, Catalogue(args.seed))
    logging.getLogger("soundcharts_simulator").info(
        "Soundcharts simulator (seed %d) on http://%s:%d", args.seed, args.host, args.port
    )
    # Our own per-request log line replaces uvicorn's access log (same content, never any header).
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)


if __name__ == "__main__":
    main()
