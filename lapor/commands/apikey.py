"""``lapor apikey create NAME`` / ``revoke NAME``: Open311 clients' API keys (hashed)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any


async def _apikey(args: argparse.Namespace) -> int:
    from services.portal.apikeys import ApiKeyError, create_key, revoke_key
    from services.portal.store import PortalStore
    from shared.clock import SystemClock
    from shared.settings import LaporSettings
    from shared.storage import Store

    settings = LaporSettings()
    store = Store.from_settings(settings, "lapor-cli")
    portal_store = PortalStore(store.db)
    try:
        await portal_store.ensure_indexes()
        if args.action == "create":
            try:
                key = await create_key(portal_store, args.name, SystemClock().now())
            except ApiKeyError as exc:
                sys.stderr.write(f"lapor apikey: {exc}\n")
                return 2
            sys.stdout.write(f"API key for {args.name} (shown once; only its hash is stored):\n")
            sys.stdout.write(f"{key}\n")
            return 0
        if await revoke_key(portal_store, args.name):
            sys.stdout.write(f"API key of {args.name} revoked\n")
            return 0
        sys.stderr.write(f"lapor apikey: no key named {args.name!r}\n")
        return 1
    finally:
        await store.close()


def _run(args: argparse.Namespace) -> int:
    return asyncio.run(_apikey(args))


def register(subparsers: Any) -> None:
    """Add ``apikey``."""
    parser = subparsers.add_parser(
        "apikey",
        help="create or revoke an Open311 client's API key",
        description="Open311 clients send an API key with every POST. `create NAME` prints a "
        "new key on its last line (only its hash is stored); `revoke NAME` removes it.",
    )
    parser.add_argument("action", choices=("create", "revoke"))
    parser.add_argument("name", help="the client, e.g. fixmystreet")
    parser.set_defaults(handler=_run)
