"""``lapor run SERVICE``: one service alone, until SIGTERM."""

from __future__ import annotations

import argparse
import importlib
from typing import Any

SERVICES = ("intake", "verification", "routing", "escalation", "portal")


def _run(args: argparse.Namespace) -> int:
    if args.service == "portal":  # an HTTP server (uvicorn), not a FastStream app
        from services.portal.app import NAME, create_app
        from services.portal.serve import run as serve

        serve(NAME, create_app)
        return 0
    from shared.runtime import run

    app = importlib.import_module(f"services.{args.service}.app")
    run(app.NAME, app.create)
    return 0


def register(subparsers: Any) -> None:
    """Add ``run``."""
    parser = subparsers.add_parser(
        "run",
        help="run one service against the configured RabbitMQ and MongoDB",
        description="Run one LAPOR service until SIGINT/SIGTERM; the message in hand finishes.",
    )
    parser.add_argument("service", choices=SERVICES)
    parser.set_defaults(handler=_run)
