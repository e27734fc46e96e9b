"""The portal's settings: the common ``LAPOR_*`` base plus where it listens and its limits."""

from __future__ import annotations

from pydantic import Field

from shared.settings import LaporSettings

#: What a citizen may attach: photos and PDF documents.
DEFAULT_ATTACHMENT_TYPES = ("image/jpeg", "image/png", "image/webp", "application/pdf")


class PortalSettings(LaporSettings):
    """``LAPOR_PORTAL_*``: address, body and upload caps, rate limits, waiting times."""

    portal_host: str = "127.0.0.1"
    portal_port: int = Field(default=8080, ge=0, le=65535)
    #: Largest request body without attachments (a form, an Open311 POST).
    portal_max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    #: Largest single attachment, and how many one report may carry.
    portal_max_attachment_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    portal_max_attachments: int = Field(default=3, ge=0, le=10)
    portal_attachment_types: tuple[str, ...] = DEFAULT_ATTACHMENT_TYPES
    #: POSTs allowed per client address (and per Open311 API key) in each window.
    portal_rate_limit: int = Field(default=20, ge=1)
    portal_rate_window_seconds: int = Field(default=60, ge=1)
    #: How long a submit waits for intake's tracking ID before showing a self-updating page.
    portal_notice_wait_seconds: float = Field(default=5.0, ge=0, le=30)
    #: How long an Open311 POST waits for intake's tracking ID before answering a token.
    portal_open311_wait_seconds: float = Field(default=2.0, ge=0, le=30)
    #: Where a case without coordinates or a known region goes on an Open311 map.
    portal_default_lat: float = Field(default=-3.3194, ge=-90, le=90)
    portal_default_lon: float = Field(default=104.9147, ge=-180, le=180)
    #: Open311 ``GET requests``: how many at most, and how far back by default.
    portal_open311_page_size: int = Field(default=50, ge=1, le=1000)
    portal_open311_default_days: int = Field(default=90, ge=1)
    #: Publish with the AMQP ``user_id`` of the broker user in ``LAPOR_AMQP_URL``, so that
    #: the services can authorise the portal as sender (RabbitMQ checks it on publish).
    portal_send_user_id: bool = True
