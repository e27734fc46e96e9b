"""``lapor``: the operator's command line. Each subcommand lives in ``lapor.commands``."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from lapor import commands


def build_parser() -> argparse.ArgumentParser:
    """The parser with every subcommand found in :mod:`lapor.commands`."""
    parser = argparse.ArgumentParser(
        prog="lapor",
        description=(
            "LAPOR: citizens' complaints about public services, from any channel to the "
            "responsible agency and back. Settings come from LAPOR_* environment variables."
        ),
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; its return value is the exit code."""
    args = build_parser().parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
