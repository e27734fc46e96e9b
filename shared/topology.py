"""The RabbitMQ topology, declared in one place.

Every exchange is a durable topic exchange; every queue is a durable quorum queue with
a delivery limit and at-least-once dead-lettering to ``lapor.dlx`` (original routing
key kept), where ``lapor.dead-letters`` collects what could not be processed.
Declaring is idempotent. By default every service declares the whole topology when it
starts (a laptop, the tests); a deployment declares it once with the admin user
(``lapor topology declare``) and runs the services with ``LAPOR_DECLARE_TOPOLOGY=false``,
so that a service's broker user needs no right to create or delete anything.

Nothing published is confirmed and lost: every exchange but ``lapor.dlx`` has the
alternate exchange ``lapor.unroutable``, so a message no queue is bound for (a
Disposition for an agency whose queue was deleted, a notice for a channel without a
queue yet) is kept in ``lapor.unrouted`` for the admin instead of being dropped.
``lapor.dlx`` is *internal*: RabbitMQ dead-letters into it, no client can publish to it,
so every message in ``lapor.dead-letters`` is one the broker dead-lettered (see
``lapor dlq``). Dead letters may hold identity, so that queue keeps them for a limited
time and up to a limited number (``LAPOR_DEAD_LETTER_TTL_HOURS``, ``LAPOR_DEAD_LETTER_MAX``).

A refused message that carries a reporter's identity (a ``reporter.reply``, a report)
is not dead-lettered as it came: the refusing service publishes a copy with the body
sealed to ``lapor.refused`` and acknowledges the original. The copy lands in
``lapor.sealed-refusals``, a queue nobody consumes whose messages expire at once, so the
broker itself dead-letters it (``x-death`` reason ``expired``) into ``lapor.dead-letters``
with its routing key: the dead letter is still one only the broker made, and its body
holds no plaintext identity (shared/sealed_letters.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, ExchangeType
from faststream.rabbit import ExchangeType as StreamExchangeType
from faststream.rabbit import QueueType, RabbitExchange, RabbitQueue

from shared.contract import EVENT_NAMES

INTAKE = "lapor.intake"
EVENTS = "lapor.events"
OPD = "lapor.opd"
COMMANDS = "lapor.commands"
OUTBOUND = "lapor.outbound"
OVERSIGHT = "lapor.oversight"
DLX = "lapor.dlx"
UNROUTABLE = "lapor.unroutable"
REFUSED = "lapor.refused"

EXCHANGES = (INTAKE, EVENTS, OPD, COMMANDS, OUTBOUND, OVERSIGHT, DLX, UNROUTABLE, REFUSED)
DEAD_LETTERS = "lapor.dead-letters"
UNROUTED = "lapor.unrouted"
SEALED_REFUSALS = "lapor.sealed-refusals"
#: Exchanges no client may publish to: only the broker routes into them.
INTERNAL_EXCHANGES = frozenset({DLX, UNROUTABLE})


@dataclass(frozen=True)
class DeadLetterLimits:
    """How long and how many dead letters ``lapor.dead-letters`` keeps (oldest go first)."""

    ttl_hours: float = 14 * 24
    max_messages: int = 100_000

    def arguments(self) -> dict[str, Any]:
        """The queue arguments that enforce the limits."""
        return {
            "x-message-ttl": int(self.ttl_hours * 3600 * 1000),
            "x-max-length": self.max_messages,
            "x-overflow": "drop-head",
        }


@dataclass(frozen=True)
class QueueSpec:
    """A queue and what it is bound to."""

    name: str
    bindings: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    dead_letter: bool = True


def _q(name: str, *bindings: tuple[str, str]) -> QueueSpec:
    return QueueSpec(name, tuple(bindings))


def _events_but(excluded: frozenset[str]) -> tuple[tuple[str, str], ...]:
    """A binding to every domain event but ``excluded``, one routing key each."""
    return tuple((EVENTS, f"complaint.{name}") for name in EVENT_NAMES if name not in excluded)


# Service queues. The names are part of the operators' view (dead-letter replay, metrics).
INTAKE_REPORTS = _q("intake.reports", (INTAKE, "channel.#"))
#: The events whose notice intake sends in the same step that makes them: the receipt goes
#: out with the new case (one outbox), so intake is not told of its own event.
NOTIFIED_AT_COMMIT = frozenset({"received"})
# Every other event may be one the reporter hears of: intake turns it into a notice.
INTAKE_STATUS_RELAY = _q("intake.status-relay", *_events_but(NOTIFIED_AT_COMMIT))
VERIFICATION_RECEIVED = _q(
    "verification.received",
    (EVENTS, "complaint.received"),
    (EVENTS, "complaint.information_added"),
)
VERIFICATION_DECISIONS = _q("verification.decisions", (COMMANDS, "verification.decide"))
ROUTING_VERIFIED = _q("routing.verified", (EVENTS, "complaint.verified"))
ROUTING_COMMANDS = _q(
    "routing.commands",
    (COMMANDS, "routing.dispose"),
    (COMMANDS, "opd.respond"),
    (COMMANDS, "reporter.reply"),
    (COMMANDS, "routing.extension"),
)
#: The events whose step stores the case's escalation timer in its own update
#: (``shared/timers.py``): every report makes them, so escalation is not told of them.
TIMED_AT_COMMIT = frozenset({"received", "verified", "dispatched"})
# Every other event may move a case's timer: escalation recomputes it from the case.
ESCALATION_EVENTS = _q("escalation.events", *_events_but(TIMED_AT_COMMIT))
# Escalation owns the notices, so it records their acknowledgement on the case.
ESCALATION_COMMANDS = _q("escalation.commands", (COMMANDS, "oversight.acknowledge"))
# What people read: the admin's desk and the operators' view of refused input.
ADMIN_REVIEW = _q(
    "admin.review",
    (EVENTS, "complaint.needs_review"),
    (EVENTS, "complaint.needs_routing"),
    # Issue 12: an agency's extension request waits for the admin's grant or refusal.
    (EVENTS, "complaint.extension_requested"),
)
ADMIN_REJECTED = _q("admin.rejected", (EVENTS, "intake.rejected"))
# Reminders go to the one who must act (issue 12): each agency's liaison (*penghubung*)
# reads its own queue ``penghubung.<code>`` (see :func:`liaison_queue`); the shared
# ``oversight.penghubung`` keeps only the central admin desk's own reminders.
OVERSIGHT_QUEUES = (
    _q("oversight.penghubung", (OVERSIGHT, "penghubung.admin")),
    *(
        _q(f"oversight.{target}", (OVERSIGHT, f"{target}.#"))
        for target in ("pimpinan", "inspektorat", "ombudsman")
    ),
)
#: Bindings earlier versions declared and this one removes where it declares the topology:
#: ``penghubung.#`` put every agency's reminders into one shared queue.
OBSOLETE_BINDINGS: tuple[tuple[str, str, str], ...] = (
    ("oversight.penghubung", OVERSIGHT, "penghubung.#"),
    # Escalation took every event; the timer of the commonest three is stored with them.
    ("escalation.events", EVENTS, "complaint.#"),
    # Intake's relay took every event; the receipt now goes out with the new case.
    ("intake.status-relay", EVENTS, "complaint.#"),
)
# The portal's staff area: every escalation notice and reminder, for its oversight inbox
# (the oversight.* queues stay for other consumers, such as an office's e-mail bridge).
PORTAL_OVERSIGHT = _q("portal.oversight", (OVERSIGHT, "#"))
# The portal is the web and Open311 channel: intake's notices for its reporters.
PORTAL_WEB = _q("portal.web", (OUTBOUND, "channel.web"))
PORTAL_OPEN311 = _q("portal.open311", (OUTBOUND, "channel.open311"))
DEAD_LETTER_QUEUE = QueueSpec(DEAD_LETTERS, ((DLX, "#"),), dead_letter=False)
# What no queue was bound for; kept without limit, for the admin (never dropped).
UNROUTED_QUEUE = QueueSpec(UNROUTED, ((UNROUTABLE, ""),), dead_letter=False)
# Sealed copies of refused messages that carry identity: each expires at once, so the
# broker dead-letters it to lapor.dlx (see the module doc). Nobody consumes it.
SEALED_REFUSALS_QUEUE = _q(SEALED_REFUSALS, (REFUSED, "#"))

QUEUES: tuple[QueueSpec, ...] = (
    INTAKE_REPORTS,
    INTAKE_STATUS_RELAY,
    VERIFICATION_RECEIVED,
    VERIFICATION_DECISIONS,
    ROUTING_VERIFIED,
    ROUTING_COMMANDS,
    ESCALATION_EVENTS,
    ESCALATION_COMMANDS,
    ADMIN_REVIEW,
    ADMIN_REJECTED,
    PORTAL_OVERSIGHT,
    *OVERSIGHT_QUEUES,
    PORTAL_WEB,
    PORTAL_OPEN311,
    DEAD_LETTER_QUEUE,
    UNROUTED_QUEUE,
    SEALED_REFUSALS_QUEUE,
)


def agency_queue(agency_code: str) -> QueueSpec:
    """An agency's own queue, ``opd.<code>``; declared when the agency is registered."""
    return _q(f"opd.{agency_code}", (OPD, f"opd.{agency_code}"))


def liaison_queue(agency_code: str) -> QueueSpec:
    """An agency liaison's own reminder queue, ``penghubung.<code>`` on ``lapor.oversight``."""
    return _q(f"penghubung.{agency_code}", (OVERSIGHT, f"penghubung.{agency_code}"))


def agency_queues(agency_code: str) -> tuple[QueueSpec, QueueSpec]:
    """Every queue of one agency: its dispositions and its liaison's reminders."""
    return agency_queue(agency_code), liaison_queue(agency_code)


def queue_arguments(
    spec: QueueSpec, delivery_limit: int, dead_letter_limits: DeadLetterLimits | None = None
) -> dict[str, Any]:
    """The declaration arguments of a queue (the same wherever it is declared)."""
    args: dict[str, Any] = {"x-queue-type": "quorum"}
    if spec.name == DEAD_LETTERS:
        args |= (dead_letter_limits or DeadLetterLimits()).arguments()
    if spec.name == SEALED_REFUSALS:
        args["x-message-ttl"] = 0  # dead-lettered by the broker the moment it arrives
    if spec.dead_letter:
        args |= {
            "x-delivery-limit": delivery_limit,
            "x-dead-letter-exchange": DLX,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }
    return args


async def declare_queue(
    channel: AbstractChannel,
    spec: QueueSpec,
    delivery_limit: int,
    dead_letter_limits: DeadLetterLimits | None = None,
) -> None:
    """Declare one queue and its bindings (the exchanges must exist)."""
    queue = await channel.declare_queue(
        spec.name,
        durable=True,
        arguments=queue_arguments(spec, delivery_limit, dead_letter_limits),
    )
    for exchange, key in spec.bindings:
        await queue.bind(exchange, routing_key=key)


def exchange_arguments(name: str) -> dict[str, Any]:
    """The declaration arguments of an exchange: where its unroutable messages go."""
    return {} if name in INTERNAL_EXCHANGES else {"alternate-exchange": UNROUTABLE}


class TopologyOutdated(RuntimeError):
    """An exchange or queue exists with other arguments (declared by an older LAPOR)."""


async def declare(
    channel: AbstractChannel,
    delivery_limit: int,
    dead_letter_limits: DeadLetterLimits | None = None,
) -> None:
    """Declare every exchange and every service queue."""
    try:
        # The alternate exchange first: the others name it.
        await channel.declare_exchange(UNROUTABLE, ExchangeType.FANOUT, durable=True, internal=True)
        for name in EXCHANGES:
            if name == UNROUTABLE:
                continue
            await channel.declare_exchange(
                name,
                ExchangeType.TOPIC,
                durable=True,
                internal=name in INTERNAL_EXCHANGES,
                arguments=exchange_arguments(name),
            )
        for spec in QUEUES:
            await declare_queue(channel, spec, delivery_limit, dead_letter_limits)
        for queue_name, exchange_name, key in OBSOLETE_BINDINGS:
            # Unbinding what is not bound is a no-op for RabbitMQ: safe on every start.
            queue = await channel.get_queue(queue_name, ensure=False)
            await queue.unbind(exchange_name, routing_key=key)
    except aio_pika.exceptions.ChannelPreconditionFailed as exc:
        raise TopologyOutdated(
            f"{exc}. The broker holds LAPOR's exchanges or queues as an older version (or "
            "other settings) declared them; drain the queues, delete them and the "
            "exchanges, and declare again (deploy/README.md, 'Upgrading a deployment')"
        ) from None


async def declare_at(
    amqp_url: str,
    delivery_limit: int,
    *extra: QueueSpec,
    whole: bool = True,
    dead_letter_limits: DeadLetterLimits | None = None,
) -> None:
    """Open a short connection to ``amqp_url`` and declare the queues ``extra`` there,
    after the whole topology unless ``whole`` is false (then it must exist already)."""
    connection = await aio_pika.connect_robust(amqp_url)
    async with connection:
        channel = await connection.channel()
        if whole:
            await declare(channel, delivery_limit, dead_letter_limits)
        for spec in extra:
            await declare_queue(channel, spec, delivery_limit)


def exchange(name: str) -> RabbitExchange:
    """A FastStream handle on an exchange declared by :func:`declare`."""
    return RabbitExchange(name, type=StreamExchangeType.TOPIC, durable=True, declare=False)


def subscription(spec: QueueSpec) -> RabbitQueue:
    """A FastStream handle on a queue declared by :func:`declare` (not re-declared)."""
    return RabbitQueue(spec.name, QueueType.QUORUM, durable=True, declare=False)
