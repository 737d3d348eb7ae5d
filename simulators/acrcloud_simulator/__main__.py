"""``python -m acrcloud_simulator``: serve the ACRCloud simulator (used by ``make run`` and by hand)."""

from __future__ import annotations

import argparse
import logging
import os

import uvicorn

from acrcloud_simulator.app import create_app
from acrcloud_simulator.state import AcrState


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="acrcloud_simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--access-key", default="acrcloud", help="identification access key")
    parser.add_argument("--access-secret", default="acrcloud", help="identification access secret")
    parser.add_argument("--bearer-token", default="acrcloud-token", help="Console API token")
    parser.add_argument("--container-id", type=int, default=26685)
    parser.add_argument("--scan-delay", type=float, default=5.0, help="seconds from upload to scan result")
    parser.add_argument(
        "--callback-url",
        default=os.environ.get("ACRCLOUD_SIMULATOR_CALLBACK_URL"),
        help="the container's callback_url (default: env ACRCLOUD_SIMULATOR_CALLBACK_URL)",
    )
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    state = AcrState(
        access_key=args.access_key,
        access_secret=args.access_secret,
        bearer_token=args.bearer_token,
        container_id=args.container_id,
        scan_delay=args.scan_delay,
        callback_url=args.callback_url,
        seed=args.seed,
    )
    logging.getLogger("acrcloud_simulator").info(
        "ACRCloud simulator (seed %d, container %d) on http://%s:%d",
        args.seed,
        args.container_id,
        args.host,
        args.port,
    )
    uvicorn.run(create_app(state), host=args.host, port=args.port, log_level=args.log_level, access_log=False)


if __name__ == "__main__":
    main()
