"""Running every service in one process: ``lapor dev`` and ``lapor demo``."""

from __future__ import annotations

import base64
import importlib
import logging
import os
from contextlib import AsyncExitStack

from shared.clock import Clock
from shared.runtime import Service

log = logging.getLogger("lapor.local")

SERVICES = ("intake", "verification", "routing", "escalation")


def prepare_environment() -> list[str]:
    """Defaults for a laptop: the in-process stand-in MongoDB and a throwaway identity key.

    Returns warnings to show. Anything already set in the environment is kept.
    """
    warnings = []
    if "LAPOR_MONGO_URL" not in os.environ:
        os.environ["LAPOR_MONGO_URL"] = "memory://"
        warnings.append(
            "LAPOR_MONGO_URL is not set: using the in-memory stand-in (data is lost on exit)"
        )
    if "LAPOR_SENDERS" not in os.environ:
        # A laptop's channels, consoles and demo actors all connect as guest: no user_id.
        os.environ["LAPOR_SENDERS"] = "open"
        warnings.append(
            "LAPOR_SENDERS is not set: using `open` (senders without a LAPOR broker user act "
            "as any role); never in a deployment"
        )
    if "LAPOR_PII_KEY" not in os.environ:
        os.environ["LAPOR_PII_KEY"] = base64.b64encode(os.urandom(32)).decode()
        warnings.append(
            "LAPOR_PII_KEY is not set: using a throwaway key; identities stored now cannot be "
            "read after this process ends"
        )
    return warnings


async def start_all(stack: AsyncExitStack, clock: Clock | None = None) -> list[Service]:
    """Start every service (settings from the environment); they stop with ``stack``."""
    services = []
    for name in SERVICES:
        app = importlib.import_module(f"services.{name}.app")
        service: Service = app.create(clock=clock)
        await stack.enter_async_context(service)
        services.append(service)
    return services
