"""Verification's wiring: which queue feeds which use case. No logic here."""

from __future__ import annotations

from faststream.rabbit.annotations import RabbitMessage

from services.verification.decisions import Rules
from services.verification.handlers import Verification
from services.verification.settings import VerificationSettings
from shared import topology
from shared.clock import Clock
from shared.runtime import Service, ServiceContext, build_service
from shared.settings import LaporSettings

NAME = "verification"


def create(settings: LaporSettings | None = None, clock: Clock | None = None) -> Service:
    """The verification service, ready to start."""
    settings = VerificationSettings.from_base(settings) if settings else VerificationSettings()

    def register(ctx: ServiceContext) -> None:
        rules = Rules(
            policy=settings.verification,
            verification_deadline=lambda at: ctx.settings.sla.verification_deadline(
                ctx.calendar, at
            ),
            deferral_deadline=lambda at: ctx.settings.sla.deferral_deadline(ctx.calendar, at),
            admin_desk_deadline=lambda at: ctx.settings.sla.admin_desk_deadline(ctx.calendar, at),
        )
        verification = Verification(ctx, rules)
        ctx.background.append(verification.rekey_once_started)

        @ctx.consume(
            topology.VERIFICATION_RECEIVED,
            "complaint.received (automatic checks) and complaint.information_added "
            "(a deferred case resumes)",
        )
        async def on_event(body: bytes, message: RabbitMessage) -> None:
            await verification.on_event(body, message)

        @ctx.consume(
            topology.VERIFICATION_DECISIONS,
            "verification.decide: the admin verifies, defers, refers or archives",
        )
        async def on_decision(body: bytes, message: RabbitMessage) -> None:
            await verification.on_decision(body, message)

    return build_service(NAME, settings, register, clock)
