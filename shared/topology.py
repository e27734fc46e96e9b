"""The RabbitMQ topology, declared in one place.

Every exchange is a durable topic exchange; every queue is a durable quorum queue with
a delivery limit and at-least-once dead-lettering to ``lapor.dlx`` (original routing
key kept), where ``lapor.dead-letters`` collects what could not be processed.
Declaring is idempotent. By default every service declares the whole topology when it
starts (a laptop, the tests); a deployment declares it once with the admin user
(``lapor topology declare``) and runs the services with ``LAPOR_DECLARE_TOPOLOGY=false``,
so that a service's broker user needs no right to create or delete anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, ExchangeType
from faststream.rabbit import ExchangeType as StreamExchangeType
from faststream.rabbit import QueueType, RabbitExchange, RabbitQueue

INTAKE = "lapor.intake"
EVENTS = "lapor.events"
OPD = "lapor.opd"
COMMANDS = "lapor.commands"
OUTBOUND = "lapor.outbound"
OVERSIGHT = "lapor.oversight"
DLX = "lapor.dlx"

EXCHANGES = (INTAKE, EVENTS, OPD, COMMANDS, OUTBOUND, OVERSIGHT, DLX)
DEAD_LETTERS = "lapor.dead-letters"


@dataclass(frozen=True)
class QueueSpec:
    """A queue and what it is bound to."""

    name: str
    bindings: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    dead_letter: bool = True


def _q(name: str, *bindings: tuple[str, str]) -> QueueSpec:
    return QueueSpec(name, tuple(bindings))


# Service queues. The names are part of the operators' view (dead-letter replay, metrics).
INTAKE_REPORTS = _q("intake.reports", (INTAKE, "channel.#"))
INTAKE_STATUS_RELAY = _q("intake.status-relay", (EVENTS, "complaint.#"))
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
ESCALATION_EVENTS = _q("escalation.events", (EVENTS, "complaint.#"))
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
)
DEAD_LETTER_QUEUE = QueueSpec(DEAD_LETTERS, ((DLX, "#"),), dead_letter=False)

QUEUES: tuple[QueueSpec, ...] = (
    INTAKE_REPORTS,
    INTAKE_STATUS_RELAY,
    VERIFICATION_RECEIVED,
    VERIFICATION_DECISIONS,
    ROUTING_VERIFIED,
    ROUTING_COMMANDS,
    ESCALATION_EVENTS,
    ADMIN_REVIEW,
    ADMIN_REJECTED,
    *OVERSIGHT_QUEUES,
    DEAD_LETTER_QUEUE,
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


def queue_arguments(spec: QueueSpec, delivery_limit: int) -> dict[str, Any]:
    """The declaration arguments of a queue (the same wherever it is declared)."""
    args: dict[str, Any] = {"x-queue-type": "quorum"}
    if spec.dead_letter:
        args |= {
            "x-delivery-limit": delivery_limit,
            "x-dead-letter-exchange": DLX,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }
    return args


async def declare_queue(channel: AbstractChannel, spec: QueueSpec, delivery_limit: int) -> None:
    """Declare one queue and its bindings (the exchanges must exist)."""
    queue = await channel.declare_queue(
        spec.name, durable=True, arguments=queue_arguments(spec, delivery_limit)
    )
    for exchange, key in spec.bindings:
        await queue.bind(exchange, routing_key=key)


async def declare(channel: AbstractChannel, delivery_limit: int) -> None:
    """Declare every exchange and every service queue."""
    for name in EXCHANGES:
        await channel.declare_exchange(name, ExchangeType.TOPIC, durable=True)
    for spec in QUEUES:
        await declare_queue(channel, spec, delivery_limit)
    for queue_name, exchange_name, key in OBSOLETE_BINDINGS:
        # Unbinding what is not bound is a no-op for RabbitMQ: safe on every start.
        queue = await channel.get_queue(queue_name, ensure=False)
        await queue.unbind(exchange_name, routing_key=key)


async def declare_at(
    amqp_url: str, delivery_limit: int, *extra: QueueSpec, whole: bool = True
) -> None:
    """Open a short connection to ``amqp_url`` and declare the queues ``extra`` there,
    after the whole topology unless ``whole`` is false (then it must exist already)."""
    connection = await aio_pika.connect_robust(amqp_url)
    async with connection:
        channel = await connection.channel()
        if whole:
            await declare(channel, delivery_limit)
        for spec in extra:
            await declare_queue(channel, spec, delivery_limit)


def exchange(name: str) -> RabbitExchange:
    """A FastStream handle on an exchange declared by :func:`declare`."""
    return RabbitExchange(name, type=StreamExchangeType.TOPIC, durable=True, declare=False)


def subscription(spec: QueueSpec) -> RabbitQueue:
    """A FastStream handle on a queue declared by :func:`declare` (not re-declared)."""
    return RabbitQueue(spec.name, QueueType.QUORUM, durable=True, declare=False)
