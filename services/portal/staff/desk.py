"""The staff area's wiring inside the portal: its collections, the oversight consumer, the
router. :func:`install` is the one hook the portal's app factory calls."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import Response
from faststream import AckPolicy
from faststream.rabbit import RabbitBroker
from pydantic import ValidationError
from pymongo.asynchronous.collection import AsyncCollection

from services.portal.staff.oversight import OversightInbox
from services.portal.staff.roles import may_open_private_attachments
from services.portal.staff.settings import StaffSettings
from services.portal.staff.store import StaffStore
from shared import topology
from shared.clock import Clock
from shared.contract import EscalationNotice
from shared.runtime import raw_body
from shared.settings import LaporSettings
from shared.storage import Document, Store

log = logging.getLogger("lapor.portal.staff")

QUARANTINE_REVIEWS = "staff_quarantine_reviews"


class StaffRefused(HTTPException):
    """403 with a reason the error page shows (Bahasa Indonesia); nothing was changed."""

    def __init__(self, message: str) -> None:
        super().__init__(status_code=403, detail=message)


@dataclass(frozen=True)
class StaffDesk:
    """What the staff routes use besides the portal's own dependencies."""

    settings: StaffSettings
    staff: StaffStore
    inbox: OversightInbox
    #: The admin's dismissals of quarantined reports (intake's quarantine stays as it is).
    quarantine_reviews: AsyncCollection[Document]

    @property
    def cookie_name(self) -> str:
        """``__Host-`` binds a Secure cookie to this host and path ``/``."""
        return "__Host-lapor_staf" if self.settings.staff_cookie_secure else "lapor_staf"

    async def dismissed_quarantine(self) -> list[str]:
        """The IDs of quarantined reports the admin has dismissed."""
        return [str(d["_id"]) async for d in self.quarantine_reviews.find({}, {"_id": 1})]

    async def start(self) -> None:
        """Create the staff collections' indexes."""
        await self.staff.ensure_indexes()
        await self.inbox.ensure_indexes()


def make_desk(settings: LaporSettings, store: Store) -> StaffDesk:
    """The staff desk over the portal's database."""
    staff_settings = StaffSettings.from_base(settings)
    return StaffDesk(
        settings=staff_settings,
        staff=StaffStore.over(
            store, staff_settings.throttle_policy(), staff_settings.session_policy()
        ),
        inbox=OversightInbox.over(store),
        quarantine_reviews=store.db[QUARANTINE_REVIEWS],
    )


def subscribe_oversight(broker: RabbitBroker, inbox: OversightInbox, clock: Clock) -> None:
    """Consume the portal's own ``portal.oversight`` queue into the inbox."""

    @broker.subscriber(
        topology.subscription(topology.PORTAL_OVERSIGHT),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=raw_body,
        no_reply=True,
        title=topology.PORTAL_OVERSIGHT.name,
        description="Escalation notices for the staff area's oversight inbox",
    )
    async def keep_notice(body: bytes) -> None:
        try:
            notice = EscalationNotice.model_validate_json(body)
        except ValidationError as exc:
            log.warning("unreadable escalation notice", extra={"errors": exc.error_count()})
            raise
        await inbox.keep(notice, clock.now())


def local_time(tz: str) -> Callable[[datetime], str]:
    """A template filter: an instant as local time, e.g. ``23-11-2026 10.00 WIB``."""
    zone = ZoneInfo(tz)

    def show(moment: datetime) -> str:
        local = moment.astimezone(zone)
        return f"{local:%d-%m-%Y %H.%M} {local.tzname() or tz}"

    return show


def decimal_comma(value: float) -> str:
    """A number as Indonesians write it (``1,5``), as ``lapor recap`` prints it."""
    if value == int(value):
        return str(int(value))
    return f"{value:.1f}".replace(".", ",")


def get_desk(request: Request) -> StaffDesk:
    """The staff desk of the app serving this request."""
    desk: StaffDesk = request.app.state.staff_desk
    return desk


def install(app: FastAPI, desk: StaffDesk, broker: RabbitBroker, clock: Clock) -> None:
    """Add the staff area to the portal: its state, the oversight consumer, ``/staf/``."""
    from services.portal.routes import staff as staff_routes

    app.state.staff_desk = desk
    app.state.portal.staff_may_see = _private_attachments_rule(desk)
    templates = app.state.portal.templates
    templates.env.filters["waktu"] = local_time(desk.settings.timezone)
    templates.env.filters["angka"] = decimal_comma
    subscribe_oversight(broker, desk.inbox, clock)
    app.include_router(staff_routes.router)
    app.add_exception_handler(StaffRefused, _refused_page)


def _private_attachments_rule(
    desk: StaffDesk,
) -> Callable[[Request, dict[str, Any]], Awaitable[bool]]:
    """Whether the signed-in staff member of a request may open a case's private attachments."""

    async def may_see(request: Request, case: dict[str, Any]) -> bool:
        token = request.cookies.get(desk.cookie_name)
        if not token:
            return False
        session = await desk.staff.sessions.resume(token, request.app.state.portal.clock.now())
        account = await desk.staff.accounts.get(session.name) if session else None
        if account is None or not account.enabled:
            return False
        holding = frozenset(
            code for code in (case.get("agency"), *case.get("supporting_agencies", [])) if code
        )
        return may_open_private_attachments(account.role, account.agencies, holding)

    return may_see


async def _refused_page(request: Request, exc: Exception) -> Response:
    """A refusal as a plain-language page with its status (403, or 422 for bad input)."""
    from services.portal.pages import error_page

    status = exc.status_code if isinstance(exc, HTTPException) else 403
    heading = "Tidak diizinkan" if status == 403 else "Isian belum lengkap"
    message = str(exc.detail) if isinstance(exc, HTTPException) else ""
    return error_page(request, status, heading, message)
