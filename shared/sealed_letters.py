"""Refused messages that carry a reporter's identity are dead-lettered sealed (issue 10).

A ``reporter.reply`` carries the reporter's contacts as their channel knows them (name,
phone, e-mail), and a report carries the reporter; neither may sit in
``lapor.dead-letters`` in plaintext. A service that refuses such a message (routing's
checks, the sender check of the service holding the identity key) therefore does
not reject it as it came. It seals the whole body with the identity key, publishes the
sealed copy (same ``message_id``, same routing key) to ``lapor.refused``, records the
refusal's reason, and then acknowledges the original. The copy lands in
``lapor.sealed-refusals``, whose messages expire on arrival, so RabbitMQ itself
dead-letters it into ``lapor.dead-letters``: ``lapor dlq list`` shows it (queue
``lapor.sealed-refusals``, reason ``expired``, ``refused=<reason>``) and ``lapor dlq
replay`` still sees only a broker-made dead letter — and keeps it, since a refusal is
final. Only the refusing service's user can publish it (``user_id``), and the body is
``{"tracking_id": ..., "sealed": "<base64>"}``: the tracking ID (no identity) and the
original bytes, readable with the identity key (:func:`open_sealed`).

What is *not* covered: a message that fails on every delivery until its delivery limit
is dead-lettered by the broker as it came; ``lapor.dead-letters`` keeps it for a limited
time and number only (``LAPOR_DEAD_LETTER_TTL_HOURS``, ``LAPOR_DEAD_LETTER_MAX``).
"""

from __future__ import annotations

import base64
import json

from shared.pii import IdentityProtector
from shared.senders import REPLY

#: Reports arrive on ``channel.<name>``; a reporter's reply on ``reporter.reply``.
REPORT_PREFIX = "channel."


def carries_identity(routing_key: str) -> bool:
    """Whether a message on ``routing_key`` names a reporter (a report or a reply)."""
    return routing_key == REPLY or routing_key.startswith(REPORT_PREFIX)


def _context(message_id: str | None) -> str:
    return f"refused:{message_id or ''}"


def sealed_body(protector: IdentityProtector, body: bytes, message_id: str | None) -> bytes:
    """``body`` sealed whole, with the tracking ID it names (if any) left readable."""
    envelope: dict[str, str] = {}
    try:
        parsed = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        parsed = None
    tracking_id = parsed.get("tracking_id") if isinstance(parsed, dict) else None
    if isinstance(tracking_id, str) and len(tracking_id) <= 40:
        envelope["tracking_id"] = tracking_id
    envelope["sealed"] = base64.b64encode(protector.seal(body, _context(message_id))).decode()
    return json.dumps(envelope).encode()


def open_sealed(protector: IdentityProtector, sealed: bytes, message_id: str | None) -> bytes:
    """The original body of a sealed dead letter (raises IdentityUnreadable)."""
    envelope = json.loads(sealed)
    return protector.open(base64.b64decode(envelope["sealed"]), _context(message_id))
