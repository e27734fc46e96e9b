"""``lapor keygen``: a new identity key for LAPOR_PII_KEY."""

from __future__ import annotations

import argparse
import base64
import os
import sys
from typing import Any


def _keygen(_: argparse.Namespace) -> int:
    sys.stdout.write(base64.b64encode(os.urandom(32)).decode() + "\n")
    return 0


def register(subparsers: Any) -> None:
    """Add ``keygen``."""
    parser = subparsers.add_parser(
        "keygen",
        help="print a new random key for LAPOR_PII_KEY",
        description="Print 32 random bytes, base64, for LAPOR_PII_KEY. Keep it secret and "
        "backed up: without it no stored reporter identity can be read.",
    )
    parser.set_defaults(handler=_keygen)
