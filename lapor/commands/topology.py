"""``lapor topology declare``: create LAPOR's exchanges and service queues on RabbitMQ.

A deployment runs it once before the services, with a broker user that may create
things (docker compose: the one-shot ``topology`` service, as ``lapor-admin``); the
services then run with ``LAPOR_DECLARE_TOPOLOGY=false`` as users that may only read their
own queues and publish. Declaring is idempotent: run it again after an upgrade.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from shared import topology
from shared.settings import LaporSettings


def _declare(_: argparse.Namespace) -> int:
    settings = LaporSettings()
    try:
        asyncio.run(
            topology.declare_at(
                settings.amqp_url.get_secret_value(),
                settings.delivery_limit,
                dead_letter_limits=settings.dead_letter_limits(),
            )
        )
    except Exception as exc:  # the operator needs the broker's own words, not a trace
        sys.stderr.write(f"cannot declare the topology: {type(exc).__name__}: {exc}\n")
        return 1
    sys.stdout.write(
        f"declared {len(topology.EXCHANGES)} exchanges and {len(topology.QUEUES)} queues "
        f"(delivery limit {settings.delivery_limit}); agency queues opd.<code> are declared "
        "by `lapor agencies load` and by routing\n"
    )
    return 0


def register(subparsers: Any) -> None:
    """Add ``topology``."""
    parser = subparsers.add_parser(
        "topology",
        help="declare LAPOR's exchanges and queues on RabbitMQ (deployment step)",
        description="Manage LAPOR's RabbitMQ topology (shared/topology.py) on the broker "
        "of LAPOR_AMQP_URL.",
    )
    commands = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    declare = commands.add_parser(
        "declare",
        help="create every exchange and service queue (idempotent)",
        description="Create every exchange and service queue, with the dead-letter "
        "exchange and LAPOR_DELIVERY_LIMIT. Run it with a user that may configure them, "
        "before services started with LAPOR_DECLARE_TOPOLOGY=false.",
    )
    declare.set_defaults(handler=_declare)
