"""``lapor asyncapi``: write the AsyncAPI document of the public message contract."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

DEFAULT_OUT = Path("docs/asyncapi.yaml")


def _asyncapi(args: argparse.Namespace) -> int:
    from lapor.asyncapi import document

    text = document()
    if args.out == "-":
        sys.stdout.write(text)
        return 0
    out = Path(args.out)
    if args.check:
        current = out.read_text(encoding="utf-8") if out.exists() else None
        if current != text:
            sys.stderr.write(f"{out} is stale: regenerate it with `lapor asyncapi --out {out}`\n")
            return 1
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    sys.stderr.write(f"wrote {out}\n")
    return 0


def register(subparsers: Any) -> None:
    """Add ``asyncapi``."""
    parser = subparsers.add_parser(
        "asyncapi",
        help="write the AsyncAPI 3.0 document of the message contract",
        description="Build the AsyncAPI 3.0 document from shared/topology.py and "
        "shared/contract.py (every exchange, queue and message) and write it as YAML.",
    )
    parser.add_argument(
        "--out",
        default=str(DEFAULT_OUT),
        help=f"where to write it; '-' for standard output (default {DEFAULT_OUT})",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if the file differs from what would be written",
    )
    parser.set_defaults(handler=_asyncapi)
