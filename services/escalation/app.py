"""Escalation's wiring: the events that move a case's timer, and the scanner. No logic here."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from faststream.rabbit.annotations import RabbitMessage

from services.escalation.handlers import Escalation
from services.escalation.settings import EscalationSettings
from shared import topology
from shared.clock import Clock
from shared.runtime import Service, ServiceContext, build_service, sender_of
from shared.settings import LaporSettings
from shared.vocabulary import Refused

NAME = "escalation"


def create(settings: LaporSettings | None = None, clock: Clock | None = None) -> Service:
    """The escalation service, ready to start."""
    settings = EscalationSettings.from_base(settings) if settings else EscalationSettings()

    def register(ctx: ServiceContext) -> None:
        escalation = Escalation(
            ctx,
            lease=timedelta(seconds=settings.escalation_lease_seconds),
            batch=settings.escalation_batch,
        )

        @ctx.consume(
            topology.ESCALATION_EVENTS,
            "Every complaint.* event: the case's timer is recomputed from its document",
        )
        async def on_event(body: bytes, message: RabbitMessage) -> None:
            await escalation.on_event(body, message)

        @ctx.consume(
            topology.ESCALATION_COMMANDS,
            "oversight.acknowledge: an oversight office took note of a notice",
        )
        async def on_command(body: bytes, message: RabbitMessage) -> None:
            try:
                await escalation.acknowledge(body, sender_of(message))
            except Refused as refused:
                await ctx.refuse(message, refused.reason, **refused.details)

        async def scanner(stop: asyncio.Event) -> None:
            await escalation.run(stop, settings.escalation_scan_seconds)

        ctx.background.append(scanner)

    return build_service(NAME, settings, register, clock)
