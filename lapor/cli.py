"""``lapor``: the operator's command line. Each subcommand lives in ``lapor.commands``."""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence

from lapor import commands
from lapor.errors import one_line

DEBUG_FLAG = "--debug"


def build_parser() -> argparse.ArgumentParser:
    """The parser with every subcommand found in :mod:`lapor.commands`."""
    parser = argparse.ArgumentParser(
        prog="lapor",
        description=(
            "LAPOR: citizens' complaints about public services, from any channel to the "
            "responsible agency and back. Settings come from LAPOR_* environment variables "
            "(or .env). Add --debug anywhere to see the traceback of a failure."
        ),
    )
    parser.add_argument(
        DEBUG_FLAG, action="store_true", help="show the traceback when a command fails"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; its return value is the exit code.

    A failure an operator can fix (a server not reachable, a bad setting) is said in one
    line on stderr with exit code 1; ``--debug`` (anywhere on the line) shows the traceback.
    """
    given = list(sys.argv[1:] if argv is None else argv)
    debug = DEBUG_FLAG in given
    args = build_parser().parse_args([a for a in given if a != DEBUG_FLAG])
    if not debug and not logging.getLogger().handlers:
        # Without this, a driver's own warning ("error when creating transport ...") reaches
        # the terminal through logging's last resort, before our one line. Commands that
        # want logs (run, dev, demo) install their own handlers.
        logging.getLogger().addHandler(logging.NullHandler())
    try:
        code: int = args.handler(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if debug:
            raise
        sys.stderr.write(f"lapor {args.command}: {one_line(exc)}\n")
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
