"""``lapor devdb``: the development stand-in MongoDB server on a port."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any


def _devdb(args: argparse.Namespace) -> int:
    from shared.storage import StandInMissing, import_stand_in

    try:
        stand_in = import_stand_in()
    except StandInMissing as exc:
        sys.stderr.write(f"lapor devdb: {exc}\n")
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    def ready(url: str) -> None:
        # Alone on stdout, so a script starting it with --port 0 learns where it listens.
        sys.stdout.write(f"{url}\n")
        sys.stdout.flush()

    stand_in.serve_forever(args.host, args.port, ready)
    return 0


def register(subparsers: Any) -> None:
    """Add ``devdb``."""
    parser = subparsers.add_parser(
        "devdb",
        help="run the in-memory development stand-in for MongoDB (never for production)",
        description="Serve the MongoDB wire protocol from memory for development and tests, "
        "so several LAPOR processes can share data without a MongoDB server. Data is lost "
        "when it stops. Point LAPOR_MONGO_URL at mongodb://HOST:PORT/ (printed on stdout "
        "once it answers).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port", type=int, default=27017, help="0: any free port (default: %(default)s)"
    )
    parser.set_defaults(handler=_devdb)
