"""``lapor agencies``: load the agency registry into MongoDB, check a file, list agencies."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

SAMPLE = "lapor/data/agencies-sumsel.yaml"


def _problems(error: Exception) -> int:
    sys.stderr.write(f"{error}\n")
    return 2


def _check(args: argparse.Namespace) -> int:
    from services.routing.registry import RegistryError, read_registry

    try:
        registry = read_registry(args.file)
    except RegistryError as error:
        return _problems(error)
    sys.stdout.write(
        f"{args.file}: valid — {len(registry.agencies)} agencies, "
        f"{len(registry.categories)} categories\n"
    )
    return 0


async def _load_into_store(file: Path) -> int:
    from lapor.errors import CLI_MONGO_TIMEOUT_MS
    from services.routing.registry import (
        RegistryError,
        declare_agency_queues,
        read_registry,
        save_registry,
    )
    from shared.clock import SystemClock
    from shared.settings import LaporSettings
    from shared.storage import Store

    try:
        registry = read_registry(file)
    except RegistryError as error:
        return _problems(error)
    settings = LaporSettings()
    store = Store.from_settings(
        settings, app_name="lapor-cli", server_selection_timeout_ms=CLI_MONGO_TIMEOUT_MS
    )
    try:
        await store.ensure_indexes()
        report = await save_registry(store, registry, SystemClock().now())
        await declare_agency_queues(
            settings.amqp_url.get_secret_value(),
            settings.delivery_limit,
            [a.code for a in registry.agencies],
        )
    finally:
        # A server that cannot be reached is said in one line by ``lapor.cli``.
        await store.close()
    sys.stdout.write(
        f"{file}: {len(report.created)} agencies added, {len(report.updated)} updated, "
        f"{len(report.deactivated)} marked inactive; queues opd.<code> and "
        "penghubung.<code> declared\n"
    )
    for code in report.deactivated:
        sys.stdout.write(f"  inactive: {code}\n")
    return 0


def _load(args: argparse.Namespace) -> int:
    if (args.file is None) == (not args.sample):
        sys.stderr.write("lapor agencies load: give FILE or --sample, not both or neither\n")
        return 2
    if args.sample:
        from services.routing.registry import sample_registry_path

        return asyncio.run(_load_into_store(sample_registry_path()))
    return asyncio.run(_load_into_store(args.file))


async def _print_list(include_inactive: bool) -> int:
    from lapor.errors import CLI_MONGO_TIMEOUT_MS
    from services.routing.registry import all_agencies
    from shared.settings import LaporSettings
    from shared.storage import Store

    store = Store.from_settings(
        LaporSettings(), app_name="lapor-cli", server_selection_timeout_ms=CLI_MONGO_TIMEOUT_MS
    )
    try:
        records = await all_agencies(store)
    finally:
        await store.close()
    rows = [r for r in records if r.active or include_inactive]
    if not rows:
        sys.stdout.write(f"no agencies loaded; try `lapor agencies load {SAMPLE}`\n")
        return 0
    sys.stdout.write(f"{'code':<32} {'level':<10} {'regions':<12} {'categories':<26} state\n")
    for record in rows:
        agency = record.agency
        sys.stdout.write(
            f"{agency.code:<32} {agency.level:<10} {','.join(agency.region_codes):<12} "
            f"{','.join(agency.categories) or '-':<26} "
            f"{'active' if record.active else 'inactive'}\n"
        )
    return 0


def _list(args: argparse.Namespace) -> int:
    return asyncio.run(_print_list(args.all))


def register(subparsers: Any) -> None:
    """Add ``agencies`` with ``load``, ``check`` and ``list``."""
    parser = subparsers.add_parser(
        "agencies",
        help="manage the agency (OPD) registry used for routing",
        description="The agency registry: which OPD handles which category in which region. "
        f"A sample for South Sumatra ships as {SAMPLE}.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    load = actions.add_parser(
        "load",
        help="validate FILE, upsert its agencies into MongoDB, declare their queues",
        description="Validate FILE (YAML or JSON), upsert every agency into MongoDB and "
        "declare its queue opd.<code> on lapor.opd. Agencies not in FILE are marked "
        "inactive, not deleted.",
    )
    load.add_argument("file", type=Path, metavar="FILE", nargs="?")
    load.add_argument(
        "--sample",
        action="store_true",
        help="load the South Sumatra sample that ships with LAPOR (also inside the image)",
    )
    load.set_defaults(handler=_load)

    check = actions.add_parser("check", help="validate FILE only (no database, no broker)")
    check.add_argument("file", type=Path, metavar="FILE")
    check.set_defaults(handler=_check)

    listing = actions.add_parser("list", help="list the agencies in MongoDB")
    listing.add_argument("--all", action="store_true", help="include inactive agencies")
    listing.set_defaults(handler=_list)
