"""The real portal (uvicorn on a free port, in this process) with the real services, and
Chromium driven by Playwright (Debian's ``/usr/bin/chromium``; never a browser download)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from services.escalation import app as escalation_app
from services.escalation.settings import EscalationSettings
from services.intake import app as intake_app
from services.portal import serve
from services.portal.app import create_app
from services.portal.settings import PortalSettings
from services.routing import app as routing_app
from services.routing.registry import (
    declare_agency_queues,
    read_registry,
    sample_registry_path,
    save_registry,
)
from services.verification import app as verification_app
from shared.clock import SystemClock
from shared.settings import IntakeSettings
from shared.storage import Store

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_PRESENT = CHROMIUM.exists()
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class RunningPortal:
    """A portal answering on ``url``, and what it was started with."""

    url: str
    settings: PortalSettings

    def client(self) -> httpx.AsyncClient:
        """An HTTP client for this portal (no redirects followed: tests look at them)."""
        return httpx.AsyncClient(base_url=self.url, timeout=30.0)


def free_port() -> int:
    """A TCP port nobody listens on now (the portal's links need it before it starts)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def load_sample_registry(
    settings: IntakeSettings, amqp: aio_pika.abc.AbstractConnection, store: Store
) -> None:
    """The sample South Sumatra registry, its agency queues declared and empty."""
    registry = read_registry(sample_registry_path())
    await save_registry(store, registry, SystemClock().now())
    await declare_agency_queues(
        settings.amqp_url.get_secret_value(),
        settings.delivery_limit,
        [agency.code for agency in registry.agencies],
    )
    channel = await amqp.channel()
    for agency in registry.agencies:
        await (await channel.get_queue(f"opd.{agency.code}")).purge()
    await channel.close()


@pytest.fixture
def portal_overrides() -> dict[str, Any]:
    """Portal settings a test module wants changed (override this fixture)."""
    return {}


@pytest.fixture
async def portal(
    settings: IntakeSettings,
    amqp: aio_pika.abc.AbstractConnection,
    store: Store,
    portal_overrides: dict[str, Any],
) -> AsyncIterator[RunningPortal]:
    """The four services and the portal, on the test's servers and database."""
    await load_sample_registry(settings, amqp, store)
    port = free_port()
    portal_settings = PortalSettings.from_base(
        settings, portal_host="127.0.0.1", portal_port=port, **portal_overrides
    )
    async with (
        intake_app.create(settings),
        verification_app.create(settings),
        routing_app.create(settings),
        escalation_app.create(EscalationSettings.from_base(settings)),
    ):
        try:
            server = await serve.start_embedded(create_app(portal_settings), portal_settings)
        except RuntimeError as exc:
            pytest.fail(f"{exc} (see the log above)")
        try:
            yield RunningPortal(f"http://127.0.0.1:{port}", portal_settings)
        finally:
            await serve.stop_embedded(server)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """Headless Chromium from Debian (``apt-get install -y chromium``)."""
    if not CHROMIUM_PRESENT:
        pytest.fail(
            f"{CHROMIUM} is missing: `apt-get install -y chromium` (never `playwright install`)"
        )
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        await chromium.close()


@pytest.fixture
async def browser_context(browser: Browser, portal: RunningPortal) -> AsyncIterator[BrowserContext]:
    """A fresh browser profile pointed at the portal (a phone-sized screen)."""
    context = await browser.new_context(
        base_url=portal.url, locale="id-ID", viewport={"width": 412, "height": 915}
    )
    yield context
    await context.close()


@pytest.fixture
async def page(browser_context: BrowserContext) -> AsyncIterator[Page]:
    """A page that fails the test on a JavaScript error, a CSP refusal or a missing asset."""
    the_page = await browser_context.new_page()
    problems: list[str] = []
    the_page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    # A page answered with 4xx on purpose (a wrong code) is logged by Chromium as a
    # failed load; what matters is scripts, CSP refusals and assets that fail to load.
    the_page.on(
        "console",
        lambda message: (
            problems.append(f"console {message.type}: {message.text}")
            if message.type == "error" and not message.text.startswith("Failed to load resource")
            else None
        ),
    )
    the_page.on(
        "response",
        lambda response: (
            problems.append(f"asset {response.url}: {response.status}")
            if "/static/" in response.url and response.status >= 400
            else None
        ),
    )
    yield the_page
    assert not problems, problems
