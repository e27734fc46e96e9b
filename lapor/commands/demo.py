"""``lapor demo``: the main job, end to end, in one command."""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import Any


def _demo(args: argparse.Namespace) -> int:
    from lapor.demo import run_demo
    from shared.logs import configure_logging

    configure_logging("demo", "WARNING" if not args.verbose else "INFO")
    logging.getLogger("lapor.demo").setLevel(logging.INFO)
    return asyncio.run(run_demo(days=args.days, pause=args.pause))


def register(subparsers: Any) -> None:
    """Add ``demo``."""
    parser = subparsers.add_parser(
        "demo",
        help="run a realistic day of reports through every service and print the recap",
        description="Start intake, verification, routing and escalation in this process, "
        "feed a day of South Sumatran reports through several channels, play the admin, the "
        "agencies and the reporters over AMQP, move the clock forward so late cases escalate, "
        "and end with the leaders' recap. Uses the configured RabbitMQ (a throwaway vhost when "
        "rabbitmqctl is available) and, unless LAPOR_MONGO_URL is set, the in-memory MongoDB "
        "stand-in. Leaves nothing running.",
    )
    parser.add_argument("--days", type=int, default=21, help="days the clock moves (default 21)")
    parser.add_argument(
        "--pause", type=float, default=1.0, help="quiet seconds that mean a step has settled"
    )
    parser.add_argument("--verbose", action="store_true", help="show the services' logs")
    parser.set_defaults(handler=_demo)
