"""Abuse and safety at the portal's door: rate limits, CSRF, body and upload caps,
attachments never public for anonim or rahasia reports, and no identity in logs."""

from __future__ import annotations

import logging
import re
import struct
import zlib
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from services.portal.apikeys import create_key
from services.portal.store import PortalStore
from shared.storage import Store
from tests.portal.conftest import RunningPortal
from tests.portal.support import ROAD, case_in_status
from tests.portal.test_open311 import BASE, fms_post, xml_items
from tests.support import eventually, logged_text

pytestmark = pytest.mark.e2e

LIMIT = 5


@pytest.fixture
def portal_overrides() -> dict[str, Any]:
    """A small limit, so the test reaches it quickly."""
    return {"portal_rate_limit": LIMIT, "portal_rate_window_seconds": 600}


def tiny_png() -> bytes:
    """A valid 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


async def open_form(client: httpx.AsyncClient) -> dict[str, str]:
    """The form's hidden fields, as a browser gets them (and its CSRF cookie)."""
    page = await client.get("/")
    assert page.status_code == 200
    hidden = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">', page.text))
    assert {"csrf_token", "external_id"} <= set(hidden)
    return hidden


def form_fields(hidden: dict[str, str], **extra: str) -> dict[str, str]:
    """A complete report form."""
    return (
        hidden
        | {
            "kind": "pengaduan",
            "title": ROAD["title"],
            "description": ROAD["description"],
            "region_code": ROAD["region"],
            "category": ROAD["category"],
        }
        | extra
    )


async def submit(
    client: httpx.AsyncClient,
    files: list[tuple[str, tuple[str, bytes, str]]] | None = None,
    **extra: str,
) -> httpx.Response:
    """Send the form once; the answer to the POST itself (not followed)."""
    hidden = await open_form(client)
    return await client.post("/", data=form_fields(hidden, **extra), files=files or None)


async def tracking_id_after(client: httpx.AsyncClient, answer: httpx.Response) -> str:
    """Follow the confirmation until it shows the tracking ID."""
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]

    async def shown() -> str | None:
        page = await client.get(location)
        found = re.search(r'id="tracking-id">([2-9A-Z-]{14})<', page.text)
        return found.group(1) if found else None

    tracking_id: str = await eventually(shown, timeout=20)
    return tracking_id


async def test_posts_past_the_limit_get_429_in_bahasa_and_nothing_below_it_is_lost(
    portal: RunningPortal, store: Store
) -> None:
    key = await create_key(PortalStore(store.db), "fixmystreet", datetime.now(UTC))
    async with portal.client() as client:
        answers = [
            await client.post(f"{BASE}/requests.json", data=fms_post(key)) for _ in range(LIMIT)
        ]
        assert [a.status_code for a in answers] == [200] * LIMIT
        over = await client.post(f"{BASE}/requests.json", data=fms_post(key))
        assert over.status_code == 429
        assert over.json()[0]["description"].startswith("Terlalu banyak permintaan")
        over_xml = await client.post(f"{BASE}/requests.xml", data=fms_post(key))
        assert over_xml.status_code == 429
        assert "Terlalu banyak" in xml_items(over_xml, "error")[0]["description"]
        # The web form from the same address is over the limit too, in Bahasa Indonesia.
        web = await submit(client)
        assert web.status_code == 429
        assert "Terlalu banyak permintaan" in web.text
        # Reading is never limited.
        assert (await client.get(f"{BASE}/services.json")).status_code == 200

    # Every request below the limit became exactly one case.
    async def all_taken() -> bool:
        return await store.complaints.count_documents({"channel": "open311"}) == LIMIT

    await eventually(all_taken, timeout=30)
    assert await store.complaints.count_documents({}) == LIMIT


async def test_a_form_without_its_csrf_token_is_refused_and_sends_nothing(
    portal: RunningPortal, store: Store
) -> None:
    async with portal.client() as client:
        hidden = await open_form(client)
        forged = await client.post("/", data=form_fields(hidden, csrf_token="0" * 64))
        assert forged.status_code == 403
        assert "kedaluwarsa" in forged.text
        # Another site's form: no CSRF cookie at all.
        async with httpx.AsyncClient(base_url=portal.url) as stranger:
            cross_site = await stranger.post("/", data=form_fields(hidden))
        assert cross_site.status_code == 403
        # The same form with its token goes through (a barrier: it arrives as a case).
        ok = await client.post("/", data=form_fields(hidden))
        tracking_id = await tracking_id_after(client, ok)
    assert await store.complaints.count_documents({}) == 1
    assert (await store.complaints.find_one({}) or {})["_id"] == tracking_id


async def test_bodies_and_uploads_over_their_caps_are_refused(portal: RunningPortal) -> None:
    async with portal.client() as client:
        huge = await client.post(
            f"{BASE}/requests.json", data=fms_post("x", description="a" * 100_000)
        )
        assert huge.status_code == 413
        assert "terlalu besar" in huge.text
        fake_photo = await submit(
            client, files=[("attachments", ("foto.png", b"MZ this is not a png", "image/png"))]
        )
        assert fake_photo.status_code == 422
        assert "foto (JPEG, PNG, WebP) atau dokumen PDF" in fake_photo.text
        too_many = await submit(
            client,
            files=[("attachments", (f"f{i}.png", tiny_png(), "image/png")) for i in range(4)],
        )
        assert too_many.status_code == 422
        assert "Paling banyak 3 lampiran" in too_many.text
        too_big = await submit(
            client,
            files=[
                ("attachments", ("besar.pdf", b"%PDF-1.4 " + b"0" * 6_000_000, "application/pdf"))
            ],
        )
        assert too_big.status_code in (413, 422)


async def test_an_anonymous_reports_attachment_is_served_only_to_its_reporter(
    portal: RunningPortal, store: Store
) -> None:
    async with portal.client() as reporter:
        answer = await submit(
            reporter,
            files=[("attachments", ("lubang.png", tiny_png(), "image/png"))],
            anonymous="1",
            name="Rahmat Hidayat",
        )
        tracking_id = await tracking_id_after(reporter, answer)
        case = await case_in_status(store, tracking_id, "needs_review", "dispatched")
        [attachment] = case["attachments"]
        path = httpx.URL(attachment["url"]).path
        assert path.startswith("/lampiran/")
        own = await reporter.get(path)
        assert own.status_code == 200 and own.content == tiny_png()
        assert own.headers["content-type"] == "image/png"
        assert "no-store" in own.headers["cache-control"]
    async with portal.client() as stranger:
        refused = await stranger.get(path)
        assert refused.status_code == 403
        assert refused.content != tiny_png()
        page = await stranger.get(f"/lacak/{tracking_id}")
        assert "/lampiran/" not in page.text and "Rahmat" not in page.text


async def test_a_public_reports_attachment_is_public(portal: RunningPortal, store: Store) -> None:
    async with portal.client() as reporter:
        answer = await submit(reporter, files=[("attachments", ("j.png", tiny_png(), "image/png"))])
        tracking_id = await tracking_id_after(reporter, answer)
    case = await case_in_status(store, tracking_id, "dispatched")
    async with portal.client() as stranger:
        served = await stranger.get(httpx.URL(case["attachments"][0]["url"]).path)
        assert served.status_code == 200 and served.content == tiny_png()
        assert served.headers["x-content-type-options"] == "nosniff"


async def test_no_identity_reaches_the_logs(
    portal: RunningPortal, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    # As deployed (INFO; the wire-level DEBUG of the AMQP library is never on), and the
    # portal's own loggers at DEBUG.
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="lapor.portal")
    identity = ("Dewi Lestari Kusuma", "0813 9911 2244", "dewi.kusuma@example.id")
    async with portal.client() as reporter:
        answer = await submit(reporter, name=identity[0], phone=identity[1], email=identity[2])
        tracking_id = await tracking_id_after(reporter, answer)
        await case_in_status(store, tracking_id, "dispatched")
        await reporter.get(f"/lacak/{tracking_id}")
    text = "\n".join(logged_text(r) for r in caplog.records)
    assert tracking_id in text or "report published" in text  # the logs did record the flow
    for value in (*identity, "Dewi", "9911", "dewi.kusuma", "+6281399112244"):
        assert value not in text, value


async def test_every_answer_carries_the_security_headers(portal: RunningPortal) -> None:
    async with portal.client() as client:
        for path in ("/", "/laporan", "/lacak/2222-3333-4444", f"{BASE}/services.xml",
                     "/static/portal.css", "/tidak-ada"):  # fmt: skip
            answer = await client.get(path)
            assert "script-src 'self'" in answer.headers["content-security-policy"], path
            assert "frame-ancestors 'none'" in answer.headers["content-security-policy"], path
            assert answer.headers["x-content-type-options"] == "nosniff", path
