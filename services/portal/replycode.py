"""The reply code: the secret that lets only the reporter reply, rate or reopen from the web.

How a ``reporter.reply`` from the portal proves it comes from the reporter: the report the
portal publishes carries ``reporter.handle`` = :func:`reporter_handle` of the code, so
intake stores a keyed fingerprint of that handle with the case (as it does for every
channel's handle). A reply carries the same handle, which only someone holding the code
can compute, and routing matches it against the case's fingerprints; the message also
carries the portal's AMQP ``user_id``, so only the portal can speak for ``channel.web``.
The portal itself keeps only a hash of the code (to refuse a wrong code with a clear
message before anything is sent), never the code or the handle.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

#: No 0/O or 1/I: read aloud and typed from paper without confusion.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
_GROUPS, _GROUP_LEN = 4, 4  # 16 symbols, about 78 bits: no guessing within a rate limit
_NOT_SYMBOL = re.compile(r"[^0-9A-Z]")


def new_reply_code() -> str:
    """A fresh reply code, e.g. ``7KQM-X3RT-9DHV-M2PA``."""
    symbols = "".join(secrets.choice(ALPHABET) for _ in range(_GROUPS * _GROUP_LEN))
    return "-".join(symbols[i : i + _GROUP_LEN] for i in range(0, len(symbols), _GROUP_LEN))


def normalise(code: str) -> str:
    """The code as typed, without spaces, dashes or case differences."""
    return _NOT_SYMBOL.sub("", code.upper())


def code_hash(code: str) -> str:
    """What the portal stores to check a code (the code has enough entropy for SHA-256)."""
    return hashlib.sha256(f"lapor-reply-check:{normalise(code)}".encode()).hexdigest()


def matches(code: str, stored_hash: str) -> bool:
    """Whether ``code`` is the one ``stored_hash`` was made from (constant-time)."""
    return hmac.compare_digest(code_hash(code), stored_hash)


def reporter_handle(code: str) -> str:
    """The channel handle derived from a code; it identifies the reporter to routing."""
    digest = hashlib.sha256(f"lapor-reply-handle:{normalise(code)}".encode()).hexdigest()
    return f"kode-{digest[:40]}"
