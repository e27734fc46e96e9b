"""``lapor health``: can this process reach its RabbitMQ and MongoDB? Exit 0 or 1.

Container health checks run it (``docker-compose.yml``), so it must answer within a few
seconds whatever the network does, and never print a password: URLs are shown without
their credentials.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from lapor.errors import one_line, scrub
from shared.settings import LaporSettings

DEFAULT_TIMEOUT = 5.0


def without_credentials(url: str) -> str:
    """``url`` with any user name and password removed, for messages."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port is not None else host
    return urlunsplit(parts._replace(netloc=netloc))


async def check_rabbitmq(url: str, timeout: float) -> None:
    """Open (and close) one AMQP connection: the broker answers and lets us in."""
    import aio_pika

    connection = await aio_pika.connect(url, timeout=timeout)
    await connection.close()


async def check_mongodb(url: str, timeout: float) -> None:
    """Run ``ping`` on the server (a replica set must have a primary to answer)."""
    from pymongo import AsyncMongoClient

    timeout_ms = max(1, int(timeout * 1000))
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        url,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        socketTimeoutMS=timeout_ms,
        appname="lapor-health",
    )
    try:
        await client.admin.command("ping")
    finally:
        await client.close()


async def _timed(
    name: str, target: str, check: Callable[[], Awaitable[None]], timeout: float
) -> bool:
    started = time.monotonic()
    try:
        await asyncio.wait_for(check(), timeout=timeout)
    except TimeoutError:
        outcome, ok = f"no answer within {timeout:g}s", False
    except Exception as exc:
        outcome, ok = scrub(f"{type(exc).__name__}: {exc}"), False
    else:
        outcome, ok = "ok", True
    elapsed = time.monotonic() - started
    sys.stdout.write(f"{name} {target}: {outcome} ({elapsed:.2f}s)\n")
    return ok


async def run_checks(settings: LaporSettings, timeout: float, only: str | None = None) -> bool:
    """Check the configured servers concurrently; True if every check passed."""
    amqp_url = settings.amqp_url.get_secret_value()
    mongo_url = settings.mongo_url.get_secret_value()
    checks: list[Awaitable[bool]] = []
    if only in (None, "rabbitmq"):
        checks.append(
            _timed(
                "rabbitmq",
                without_credentials(amqp_url),
                lambda: check_rabbitmq(amqp_url, timeout),
                timeout,
            )
        )
    if only in (None, "mongodb"):
        if mongo_url.startswith("memory://"):
            # The in-process stand-in lives and dies with the service process itself.
            sys.stdout.write("mongodb memory://: in-process stand-in, nothing to reach\n")
        else:
            checks.append(
                _timed(
                    "mongodb",
                    without_credentials(mongo_url),
                    lambda: check_mongodb(mongo_url, timeout),
                    timeout,
                )
            )
    results = await asyncio.gather(*checks)
    return all(results)


def _health(args: argparse.Namespace) -> int:
    try:
        settings = LaporSettings()
    except Exception as exc:  # a bad setting is an unhealthy container, said plainly
        # ``one_line`` names the setting and why, never the value (it may be a secret).
        sys.stdout.write(f"settings: {one_line(exc)}\n")
        return 1
    healthy = asyncio.run(run_checks(settings, args.timeout, args.only))
    return 0 if healthy else 1


def register(subparsers: Any) -> None:
    """Add ``health``."""
    parser = subparsers.add_parser(
        "health",
        help="check that the configured RabbitMQ and MongoDB answer (exit 0 or 1)",
        description="Connect to LAPOR_AMQP_URL and ping LAPOR_MONGO_URL, each within "
        "--timeout seconds; exit 0 if both answer, 1 otherwise. Used by container health "
        "checks.",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds each check may take (default {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--only",
        choices=("rabbitmq", "mongodb"),
        help="check one server only",
    )
    parser.set_defaults(handler=_health)
