"""``python -m smtp_sink``: serve the SMTP sink (``make run`` starts it on port 8025)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from smtp_sink.server import SmtpSink


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="smtp_sink", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--mailbox", type=Path, default=Path("var/mail"), help="one .eml file per message")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    SmtpSink(args.mailbox, args.host, args.port).serve_forever()


if __name__ == "__main__":
    main()
