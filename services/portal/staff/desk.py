"""The staff area's wiring inside the portal: its collections, the oversight consumer, the
router. :func:`install` is the one hook the portal's app factory calls."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from faststream import AckPolicy
from faststream.rabbit import RabbitBroker
from fastapi import FastAPI, Request
from pydantic import ValidationError

from services.portal.staff.oversight import OversightInbox
from services.portal.staff.settings import StaffSettings
from services.portal.staff.store import StaffStore
from shared import topology
from shared.clock import Clock
from shared.contract import EscalationNotice
from shared.runtime import raw_body
from shared.settings import LaporSettings
from shared.storage import Store

log = logging.getLogger("lapor.portal.staff")


@dataclass(frozen=True)
class StaffDesk:
    """What the staff routes use besides the portal's own dependencies."""

    settings: StaffSettings
    staff: StaffStore
    inbox: OversightInbox

    @property
    def cookie_name(self) -> str:
        """``__Host-`` binds a Secure cookie to this host and path ``/``."""
        return "__Host-lapor_staf" if self.settings.staff_cookie_secure else "lapor_staf"

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


def get_desk(request: Request) -> StaffDesk:
    """The staff desk of the app serving this request."""
    desk: StaffDesk = request.app.state.staff_desk
    return desk


def install(app: FastAPI, desk: StaffDesk, broker: RabbitBroker, clock: Clock) -> None:
    """Add the staff area to the portal: its state, the oversight consumer, ``/staf/``."""
    from services.portal.routes import staff as staff_routes

    app.state.staff_desk = desk
    subscribe_oversight(broker, desk.inbox, clock)
    app.include_router(staff_routes.router)
