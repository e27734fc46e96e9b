"""What routes depend on, as ``Annotated`` aliases so a route's signature reads like prose."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates

from services.portal.channel import NoticeBoard, Publisher
from services.portal.security import Csrf, RateLimits
from services.portal.settings import PortalSettings
from services.portal.store import PortalStore
from shared.calendar import WorkingCalendar
from shared.clock import Clock
from shared.pii import IdentityProtector
from shared.storage import Store


@dataclass
class Portal:
    """Everything the portal's routes use, built once by :func:`services.portal.app.create_app`."""

    settings: PortalSettings
    clock: Clock
    store: Store
    portal_store: PortalStore
    publisher: Publisher
    notices: NoticeBoard
    templates: Jinja2Templates
    csrf: Csrf
    rate_limits: RateLimits
    protector: IdentityProtector
    calendar: WorkingCalendar
    #: Where citizens reach the portal (attachment links, Open311 answers).
    public_url: str
    #: Whether the signed-in staff member of a request may see a case's private
    #: attachments (the admin, the agency holding it); set by the staff area.
    staff_may_see: Callable[[Request, dict[str, Any]], Awaitable[bool]] | None = None


def get_portal(request: Request) -> Portal:
    """The portal of the app serving this request."""
    portal: Portal = request.app.state.portal
    return portal


def get_settings(request: Request) -> PortalSettings:
    """The portal's settings."""
    return get_portal(request).settings


def get_store(request: Request) -> PortalStore:
    """The portal's view of the database (cases read-only, its own collections)."""
    return get_portal(request).portal_store


def get_publisher(request: Request) -> Publisher:
    """The portal's confirmed publisher."""
    return get_portal(request).publisher


def get_templates(request: Request) -> Jinja2Templates:
    """The Jinja2 templates (autoescaped)."""
    return get_portal(request).templates


def get_clock(request: Request) -> Clock:
    """The injected clock."""
    return get_portal(request).clock


PortalDep = Annotated[Portal, Depends(get_portal)]
SettingsDep = Annotated[PortalSettings, Depends(get_settings)]
StoreDep = Annotated[PortalStore, Depends(get_store)]
PublisherDep = Annotated[Publisher, Depends(get_publisher)]
TemplatesDep = Annotated[Jinja2Templates, Depends(get_templates)]
ClockDep = Annotated[Clock, Depends(get_clock)]
