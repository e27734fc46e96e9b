"""Routing's wiring: which queue feeds which use case. No logic here."""

from __future__ import annotations

import logging

from faststream.rabbit.annotations import RabbitMessage

from services.routing.decisions import Rules
from services.routing.handlers import Routing
from services.routing.registry import AgencyQueues, active_agencies
from services.routing.settings import RoutingSettings
from shared import topology
from shared.clock import Clock
from shared.runtime import (
    Service,
    ServiceContext,
    build_service,
    routing_key_of,
    sender_of,
)
from shared.settings import LaporSettings
from shared.vocabulary import Refused

NAME = "routing"
log = logging.getLogger("lapor.routing")


def create(settings: LaporSettings | None = None, clock: Clock | None = None) -> Service:
    """The routing service, ready to start."""
    routing_settings = RoutingSettings.from_base(settings) if settings else RoutingSettings()
    queues = AgencyQueues(
        routing_settings.amqp_url.get_secret_value(),
        routing_settings.delivery_limit,
        whole=routing_settings.declare_topology,
    )

    def register(ctx: ServiceContext) -> None:
        rules = Rules(
            sla=ctx.settings.sla,
            calendar=ctx.calendar,
            timezone=ctx.settings.timezone,
            hop_limit=routing_settings.hop_limit,
            default_severity=routing_settings.default_severity,
            senders=routing_settings.sender_policy(),
        )
        routing = Routing(ctx, rules, queues)

        @ctx.consume(
            topology.ROUTING_VERIFIED,
            "complaint.verified: choose the agency and dispatch the case",
        )
        async def on_verified(body: bytes, message: RabbitMessage) -> None:
            try:
                await routing.route_verified(body)
            except Refused as refused:
                await ctx.refuse(message, refused.reason, **refused.details)

        @ctx.consume(
            topology.ROUTING_COMMANDS,
            "routing.dispose, routing.extension, opd.respond and reporter.reply commands",
        )
        async def on_command(body: bytes, message: RabbitMessage) -> None:
            try:
                await routing.handle_command(body, routing_key_of(message), sender_of(message))
            except Refused as refused:
                await ctx.refuse(message, refused.reason, **refused.details)

    service = build_service(NAME, routing_settings, register, clock)

    @service.app.on_startup
    async def declare_agency_queues() -> None:
        """Every active agency's queue exists before the first case is routed."""
        agencies = await active_agencies(service.context.store)
        await queues.ensure(a.code for a in agencies)
        log.info("agency queues declared", extra={"agencies": len(agencies)})

    return service
