"""``lapor dev``: every service in one process, for a laptop without Docker."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from contextlib import AsyncExitStack
from typing import Any

log = logging.getLogger("lapor.dev")


async def _serve(load_sample: bool) -> None:
    from lapor.local import start_all, start_portal
    from services.routing.registry import (
        active_agencies,
        read_registry,
        sample_registry_path,
        save_registry,
    )
    from shared.clock import SystemClock
    from shared.settings import LaporSettings
    from shared.storage import Store

    settings = LaporSettings()
    store = Store.from_settings(settings, "lapor-dev")
    if load_sample and not await active_agencies(store):
        report = await save_registry(
            store, read_registry(sample_registry_path()), SystemClock().now()
        )
        log.info("sample South Sumatra agency registry loaded", extra={"report": str(report)})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with AsyncExitStack() as stack:
        await start_all(stack)
        address = await start_portal(stack)
        log.info("all services running; Ctrl+C stops them", extra={"portal": address})
        sys.stderr.write(f"LAPOR portal: {address}\n")
        await stop.wait()
    with contextlib.suppress(Exception):
        await store.close()


def _dev(args: argparse.Namespace) -> int:
    from lapor.local import prepare_environment
    from shared.logs import configure_logging
    from shared.settings import LaporSettings

    warnings = prepare_environment()
    configure_logging("dev", LaporSettings().log_level)
    for warning in warnings:
        log.warning(warning)
    asyncio.run(_serve(not args.no_sample))
    return 0


def register(subparsers: Any) -> None:
    """Add ``dev``."""
    parser = subparsers.add_parser(
        "dev",
        help="run every service and the portal in one process (laptop without Docker)",
        description="Run intake, verification, routing, escalation and the portal (on "
        "LAPOR_PORTAL_HOST:LAPOR_PORTAL_PORT, default 127.0.0.1:8080) in one process against "
        "LAPOR_AMQP_URL (default localhost) and LAPOR_MONGO_URL (default here: memory://, the "
        "in-process stand-in). Loads the sample South Sumatra agency registry when none is "
        "loaded. Stops on Ctrl+C / SIGTERM.",
    )
    parser.add_argument(
        "--no-sample", action="store_true", help="do not load the sample agency registry"
    )
    parser.set_defaults(handler=_dev)
