"""``lapor demo``: the main job, end to end, in one command."""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path
from typing import Any

DEFAULT_LOG_FILE = Path("lapor-demo.log")


class WarningCount(logging.Handler):
    """Counts the warnings and errors written to the log file, to mention them at the end."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        """Count one record."""
        self.count += 1


def log_to_file(path: Path) -> WarningCount:
    """Send every log record of this process to ``path`` (JSON lines), none to the terminal.

    The narration on stdout is the demo's story; the services' structured logs would cut
    through it line by line, so they go to the file, whose name the narration gives.
    """
    from shared.logs import JsonFormatter

    path.parent.mkdir(parents=True, exist_ok=True)
    to_file = logging.FileHandler(path, mode="w", encoding="utf-8")
    to_file.setFormatter(JsonFormatter("demo"))
    counter = WarningCount()
    root = logging.getLogger()
    root.handlers[:] = [to_file, counter]
    root.setLevel(logging.INFO)
    for noisy in ("aiormq", "aio_pika", "pymongo"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return counter


def _demo(args: argparse.Namespace) -> int:
    from lapor.demo import out, run_demo
    from shared.logs import configure_logging

    if args.verbose:
        configure_logging("demo", "INFO")
        return asyncio.run(run_demo(days=args.days, pause=args.pause))
    counter = log_to_file(args.log_file)
    out(f"(log layanan ditulis ke {args.log_file}, tidak ke layar; --verbose menampilkannya)")
    try:
        return asyncio.run(run_demo(days=args.days, pause=args.pause))
    finally:
        if counter.count:
            out(f"(log: {counter.count} peringatan/galat tercatat di {args.log_file})")


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
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show the services' logs on the terminal, between the narration lines",
    )
    parser.add_argument(
        "--log-file",
        type=Path,
        default=DEFAULT_LOG_FILE,
        help=f"where the services' logs go otherwise (default {DEFAULT_LOG_FILE})",
    )
    parser.set_defaults(handler=_demo)
