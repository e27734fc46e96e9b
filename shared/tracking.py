"""Tracking IDs: short, unguessable, not sequential, and easy to read over SMS.

The alphabet leaves out 0/O, 1/I/L and U, so nothing a citizen reads aloud or types on a
phone can be confused. Twelve symbols from 30 give about 59 bits from ``secrets``.
"""

from __future__ import annotations

import re
import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
_GROUPS = 3
_GROUP_LEN = 4
_CANONICAL = re.compile(
    rf"^[{ALPHABET}]{{{_GROUP_LEN}}}(-[{ALPHABET}]{{{_GROUP_LEN}}}){{{_GROUPS - 1}}}$"
)


class InvalidTrackingId(ValueError):
    """The text is not a LAPOR tracking ID."""


def new_tracking_id() -> str:
    """A fresh tracking ID such as ``7KQM-X3RT-9DHV``."""
    symbols = "".join(secrets.choice(ALPHABET) for _ in range(_GROUPS * _GROUP_LEN))
    return "-".join(symbols[i : i + _GROUP_LEN] for i in range(0, len(symbols), _GROUP_LEN))


def normalise_tracking_id(text: str) -> str:
    """The canonical form of a tracking ID typed by a person (any case, spaces or dashes)."""
    compact = re.sub(r"[\s\-]", "", text).upper()
    if len(compact) != _GROUPS * _GROUP_LEN or any(c not in ALPHABET for c in compact):
        raise InvalidTrackingId(f"not a tracking ID: {text!r}")
    return "-".join(compact[i : i + _GROUP_LEN] for i in range(0, len(compact), _GROUP_LEN))


def is_tracking_id(text: str) -> bool:
    """Whether ``text`` is a tracking ID in canonical form."""
    return bool(_CANONICAL.match(text))
