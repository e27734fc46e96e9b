"""Intake's wiring: which queue feeds which use case. No logic here."""

from __future__ import annotations

from datetime import timedelta

from faststream.rabbit.annotations import RabbitMessage

from services.intake.handlers import Intake
from services.intake.reports import RateLimit
from shared import topology
from shared.clock import Clock
from shared.runtime import Service, ServiceContext, build_service, routing_key_of, sender_of
from shared.senders import RESUBMITTED_BY
from shared.settings import IntakeSettings

NAME = "intake"


def create(settings: IntakeSettings | None = None, clock: Clock | None = None) -> Service:
    """The intake service, ready to start."""
    settings = settings or IntakeSettings()

    def register(ctx: ServiceContext) -> None:
        intake = Intake(
            ctx,
            verification_deadline=lambda at: ctx.settings.sla.verification_deadline(
                ctx.calendar, at
            ),
            max_message_bytes=settings.max_message_bytes,
            limits=(
                RateLimit("channel", settings.rate_limit_per_channel_minute, timedelta(minutes=1)),
                RateLimit("reporter", settings.rate_limit_per_reporter_hour, timedelta(hours=1)),
            ),
        )

        @ctx.consume(
            topology.INTAKE_REPORTS,
            "ReportSubmitted from any channel (lapor.intake, channel.#)",
        )
        async def on_report(body: bytes, message: RabbitMessage) -> None:
            resubmitted_by = (message.headers or {}).get(RESUBMITTED_BY)
            await intake.take_in(
                body,
                routing_key_of(message),
                message.message_id,
                sender_of(message).user_id,
                resubmitted_by if isinstance(resubmitted_by, str) else None,
            )

        @ctx.consume(
            topology.INTAKE_STATUS_RELAY,
            "Domain events turned into notices on the reporter's channel",
        )
        async def on_status(body: bytes) -> None:
            await intake.relay_status(body)

    return build_service(NAME, settings, register, clock)
