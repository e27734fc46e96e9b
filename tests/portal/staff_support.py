"""What the staff-area tests share: the portal and the four services on one injected clock,
staff accounts, reports fed in as a channel would, and an HTTP client that logs in."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aio_pika
import httpx
import pytest

from services.escalation import app as escalation_app
from services.escalation.settings import EscalationSettings
from services.intake import app as intake_app
from services.portal import serve
from services.portal.app import create_app
from services.portal.settings import PortalSettings
from services.portal.staff.roles import Role
from services.portal.staff.store import StaffStore
from services.routing import app as routing_app
from services.verification import app as verification_app
from shared.clock import ManualClock
from shared.settings import IntakeSettings
from shared.storage import Document, Store
from tests.portal.conftest import RunningPortal, load_sample_registry
from tests.support import eventually, publish

#: Monday 7 December 2026, 09:00 WIB: no holiday within the next weeks.
MONDAY_MORNING = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
PASSWORD = "kata-sandi-uji-yang-panjang"
COOKIE = "__Host-lapor_staf"


@dataclass
class StaffPortal:
    """The running portal, its clock and its database."""

    portal: RunningPortal
    clock: ManualClock
    store: Store

    async def add(self, name: str, role: Role, *agencies: str) -> None:
        """A staff account with the shared test password."""
        await StaffStore.over(self.store).accounts.add(
            name, role, list(agencies), PASSWORD, self.clock.now()
        )

    async def case(self, tracking_id: str) -> Document:
        """The stored case (as the services left it)."""
        doc = await self.store.complaints.find_one({"_id": tracking_id})
        assert doc is not None, tracking_id
        return doc


@pytest.fixture
async def staff_portal(
    settings: IntakeSettings, amqp: aio_pika.abc.AbstractConnection, store: Store
) -> AsyncIterator[StaffPortal]:
    """The four services and the portal on one manual clock, the sample registry loaded."""
    clock = ManualClock(MONDAY_MORNING)
    await load_sample_registry(settings, amqp, store)
    portal_settings = PortalSettings.from_base(settings, portal_host="127.0.0.1", portal_port=0)
    async with (
        intake_app.create(settings, clock),
        verification_app.create(settings, clock),
        routing_app.create(settings, clock),
        escalation_app.create(
            EscalationSettings.from_base(settings, escalation_scan_seconds=0.1), clock
        ),
    ):
        server = serve.server(create_app(portal_settings, clock), portal_settings)
        task = asyncio.create_task(server.serve())
        for _ in range(300):
            if server.started or task.done():
                break
            await asyncio.sleep(0.05)
        if not server.started:
            server.should_exit = True
            await asyncio.wait_for(task, timeout=10)
            pytest.fail("the portal did not start within 15 s (see its log above)")
        port = server.servers[0].sockets[0].getsockname()[1]
        try:
            yield StaffPortal(
                RunningPortal(f"http://127.0.0.1:{port}", portal_settings), clock, store
            )
        finally:
            server.should_exit = True
            await asyncio.wait_for(task, timeout=30)


async def submit(
    amqp: aio_pika.abc.AbstractConnection, store: Store, text: str, **fields: Any
) -> str:
    """A report on the SMS channel, as a channel adapter sends it; its tracking ID."""
    external_id = f"sms-{uuid.uuid4().hex[:10]}"
    body = {
        "channel": "sms",
        "external_id": external_id,
        "description": text,
        "reporter": {"name": "Siti Aminah", "phone": f"0812{uuid.uuid4().int % 10**8:08d}"},
    } | fields
    await publish(amqp, "lapor.intake", "channel.sms", body, external_id)

    async def stored() -> str | None:
        doc = await store.complaints.find_one({"external_id": external_id}, {"_id": 1})
        return str(doc["_id"]) if doc else None

    tracking_id: str = await eventually(stored)
    return tracking_id


async def status_becomes(store: Store, tracking_id: str, *statuses: str) -> Document:
    """Wait until the case has one of ``statuses``; the case."""

    async def check() -> Document | None:
        doc = await store.complaints.find_one({"_id": tracking_id})
        return doc if doc and doc["status"] in statuses else None

    found: Document = await eventually(check, timeout=20)
    return found


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class StaffClient:
    """A browser-like HTTP client: it keeps the (Secure) session cookie itself, since
    httpx sends no Secure cookie over plain HTTP, and posts forms with their CSRF token."""

    def __init__(self, portal: RunningPortal) -> None:
        self.http = httpx.AsyncClient(base_url=portal.url, timeout=30.0)
        self.session: str | None = None

    async def __aenter__(self) -> StaffClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.http.aclose()

    def _headers(self) -> dict[str, str]:
        cookies = dict(self.http.cookies.items())
        if self.session:
            cookies[COOKIE] = self.session
        return {"cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}

    async def get(self, path: str) -> httpx.Response:
        """GET with the session."""
        return await self.http.get(path, headers=self._headers())

    async def csrf(self, path: str) -> str:
        """The CSRF token in the forms of the page at ``path``."""
        page = await self.get(path)
        while page.status_code == 303:  # a logged-in /staf/ leads to the role's desk
            page = await self.get(page.headers["location"])
        found = _CSRF.search(page.text)
        assert found, f"no CSRF token on {path} ({page.status_code})"
        return found.group(1)

    async def post(
        self, path: str, data: dict[str, str], csrf: str | None = "page", page: str = ""
    ) -> httpx.Response:
        """POST a form; ``csrf="page"`` takes the token from ``page`` (default: /staf/)."""
        form = dict(data)
        if csrf == "page":
            form["csrf_token"] = await self.csrf(page or "/staf/")
        elif csrf is not None:
            form["csrf_token"] = csrf
        return await self.http.post(path, data=form, headers=self._headers())

    async def log_in(self, name: str, password: str = PASSWORD) -> httpx.Response:
        """Log in through the form; keeps the session cookie when one is set."""
        answer = await self.post("/staf/masuk", {"name": name, "password": password})
        for header in answer.headers.get_list("set-cookie"):
            if header.startswith(f"{COOKIE}="):
                assert "Secure" in header and "HttpOnly" in header, header
                assert "SameSite=strict" in header or "samesite=strict" in header.lower()
                self.session = header.split(";", 1)[0].split("=", 1)[1]
        return answer
