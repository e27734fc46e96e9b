"""The sender checks that need no case, run on every delivery of every service.

:func:`shared.runtime.subscribe` runs :meth:`SenderCheck.admit` before each handler (inside
the wait for the store, :mod:`shared.outage`); it refuses, before any handler runs:

- a replayed message (``x-lapor-original-routing-key``) not published by an admin;
- the admin commands (``verification.decide``, ``routing.dispose``, ``routing.extension``,
  ``oversight.acknowledge``: ``ADMIN_COMMANDS``) from anyone but an admin user.

A refused message is dead-lettered (``RejectMessage``: no redelivery), logged without
identity, and its reason recorded for ``lapor dlq list`` (shared/refusals.py) through the
``on_refusal`` callback. One that names a reporter (a replayed report or reply) is handed
to ``seal`` instead, which dead-letters it with its body sealed and records the reason
(shared/sealed_letters.py); the original is then acknowledged. The checks that need the
case (``opd.respond``: does this agency hold it? ``reporter.reply``: is this the case's
channel?) and reports (which intake quarantines, sealed, instead of dead-lettering) stay
in the handlers, with the same functions of shared/senders.py.

It is a plain object called from the subscriber's own wrapper, not a FastStream
middleware: a broker middleware is built anew for every delivery *and* every publish and
adds a context-manager layer to each (``python -m bench.framework``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from faststream.exceptions import AckMessage, RejectMessage
from faststream.message import StreamMessage

from shared import topology
from shared.refusals import Refusal
from shared.senders import (
    ADMIN_COMMANDS,
    UNAUTHORISED,
    SenderPolicy,
    may_command_as_admin,
    origin_of,
)

log = logging.getLogger("lapor.senders")

OnRefusal = Callable[[Refusal, bytes], Awaitable[None]]
#: Dead-letters a refused message sealed, given its routing key; False if it did not.
SealRefused = Callable[[StreamMessage[Any], str], Awaitable[bool]]


def queue_of(exchange: str | None, delivered_key: str) -> str:
    """The service queue a delivery came from (what the broker's ``x-death`` will name)."""
    if not exchange:  # the default exchange: the key is the queue (a replay)
        return delivered_key
    for spec in topology.QUEUES:
        for bound_exchange, key in spec.bindings:
            if bound_exchange == exchange and (
                key == delivered_key or (key.endswith(".#") and delivered_key.startswith(key[:-1]))
            ):
                return spec.name
    return f"{exchange}:{delivered_key}"


class SenderCheck:
    """Refuses replays and admin commands from the wrong sender (see the module doc)."""

    __slots__ = ("_on_refusal", "_policy", "_seal")

    def __init__(
        self,
        policy: SenderPolicy,
        on_refusal: OnRefusal | None = None,
        seal: SealRefused | None = None,
    ) -> None:
        self._policy = policy
        self._on_refusal = on_refusal
        self._seal = seal

    async def admit(self, msg: StreamMessage[Any]) -> None:
        """Return if ``msg`` may go on to its handler; else dead-letter it as
        ``unauthorised`` and raise (``RejectMessage``, or ``AckMessage`` once its sealed
        copy is the dead letter), which FastStream's acknowledgement turns into the
        reject or the ack."""
        raw = msg.raw_message
        delivered = getattr(raw, "routing_key", None) or ""
        user_id = getattr(raw, "user_id", None)
        origin = origin_of(self._policy, delivered, getattr(raw, "headers", None), user_id)
        verdict = origin.verdict
        if verdict.allowed and origin.routing_key in ADMIN_COMMANDS:
            verdict = may_command_as_admin(self._policy, origin.user_id)
        if verdict.allowed:
            return
        queue = queue_of(getattr(raw, "exchange", None), delivered)
        log.warning(
            "message refused",
            extra={
                "reason": UNAUTHORISED,
                "why": verdict.why,
                "queue": queue,
                "routing_key": origin.routing_key,
                "sender": user_id or None,  # a broker user, never a reporter
                "message_id": msg.message_id,
            },
        )
        if self._seal is not None and await self._seal(msg, origin.routing_key):
            raise AckMessage  # its sealed copy is the dead letter
        if self._on_refusal is not None:
            # When this check refused it: wall time, not the domain's clock.
            refusal = Refusal(
                queue, msg.message_id, UNAUTHORISED, user_id or None, datetime.now(UTC)
            )
            await self._on_refusal(refusal, msg.body)
        raise RejectMessage
