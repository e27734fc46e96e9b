"""The portal's wiring: routers, static files, templates, broker and store. No logic here."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from services.portal.channel import (
    NoticeBoard,
    Publisher,
    broker_user,
    make_broker,
    subscribe_notices,
)
from services.portal.deps import Portal
from services.portal.georeport import Open311Error
from services.portal.routes import citizens, open311
from services.portal.security import BodyLimit, Csrf, RateLimits, SecurityHeaders, derive_key
from services.portal.settings import PortalSettings
from services.portal.staff import desk as staff_desk
from services.portal.store import PortalStore
from shared import topology
from shared.clock import Clock, SystemClock
from shared.pii import IdentityProtector
from shared.storage import Store

NAME = "portal"
HERE = Path(__file__).parent
log = logging.getLogger("lapor.portal")


def _too_large() -> PlainTextResponse:
    return PlainTextResponse(
        "Kiriman terlalu besar. Perkecil lampiran atau teks, lalu coba lagi.", status_code=413
    )


def _local_url(settings: PortalSettings) -> str:
    # Listening on every interface says nothing about the address citizens use; this is
    # a local default only (deployments set LAPOR_PORTAL_PUBLIC_URL).
    host = settings.portal_host
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
    return f"http://{host}:{settings.portal_port}"


def create_app(settings: PortalSettings | None = None, clock: Clock | None = None) -> FastAPI:
    """The portal as an ASGI app; the broker and database open with its lifespan."""
    settings = settings or PortalSettings()
    clock = clock or SystemClock()
    amqp_url = settings.amqp_url.get_secret_value()
    broker = make_broker(amqp_url, settings.prefetch)
    store = Store.from_settings(settings, app_name="lapor-portal")
    portal_store = PortalStore(store.db)
    notices = NoticeBoard(portal_store)
    subscribe_notices(broker, notices)
    templates = Jinja2Templates(directory=HERE / "templates")
    master = settings.pii_key_bytes()
    portal = Portal(
        settings=settings,
        clock=clock,
        store=store,
        portal_store=portal_store,
        publisher=Publisher(
            broker, broker_user(amqp_url) if settings.portal_send_user_id else None
        ),
        notices=notices,
        templates=templates,
        csrf=Csrf(derive_key(master, "csrf")),
        rate_limits=RateLimits(settings.portal_rate_limit, settings.portal_rate_window_seconds),
        protector=IdentityProtector(master),
        calendar=settings.working_calendar(),
        public_url=(
            settings.portal_public_url or f"http://{settings.portal_host}:{settings.portal_port}"
        ).rstrip("/"),
    )

    staff = staff_desk.make_desk(settings, store)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await portal_store.ensure_indexes()
        await staff.start()
        if settings.declare_topology:
            await topology.declare_at(amqp_url, settings.delivery_limit)
        await broker.start()
        log.info("portal started", extra={"service": NAME})
        try:
            yield
        finally:
            await broker.stop()
            await store.close()
            log.info("portal stopped", extra={"service": NAME})

    app = FastAPI(
        title="LAPOR portal", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.portal = portal
    upload_cap = settings.portal_max_attachments * settings.portal_max_attachment_bytes

    def body_cap(path: str) -> int:
        # Only the report form carries files; every other body is small text.
        return settings.portal_max_body_bytes + (upload_cap if path == "/" else 0)

    app.add_middleware(BodyLimit, limit_for=body_cap, too_large=_too_large)
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(citizens.router)
    app.include_router(open311.router)
    app.add_exception_handler(Open311Error, open311.on_error)
    staff_desk.install(app, staff, broker, clock)
    return app
