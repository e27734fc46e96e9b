"""Helpers for portal tests: filling the form as a citizen, acting as an agency."""

from __future__ import annotations

import re
import uuid
from typing import Any

import aio_pika
from playwright.async_api import Page, expect

from shared import topology
from shared.storage import Store
from tests.support import eventually, publish

#: A report the sample registry sends straight to Dinas PUPR Kota Palembang.
ROAD = {
    "title": "Jalan berlubang di Jl. Mayor Zen",
    "description": "Jalan di Jl. Mayor Zen, Kalidoni, berlubang besar dan dalam sejak sebulan. "
    "Sudah dua pengendara motor jatuh malam hari karena lubang tidak terlihat.",
    "region": "16.71",
    "address": "Jl. Mayor Zen dekat simpang Kalidoni",
    "category": "jalan",
}
ROAD_AGENCY = "pupr-palembang"
TRACKING = re.compile(r"^[2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4}$")


async def fill_report(page: Page, **fields: Any) -> None:
    """Open the form and fill it as a citizen would (labels, not selectors)."""
    values = ROAD | fields
    await page.goto("/")
    await page.get_by_label("Judul laporan").fill(values["title"])
    await page.get_by_label("Isi laporan").fill(values["description"])
    await page.get_by_label("Kategori (tidak wajib)").select_option(values["category"])
    await page.get_by_label("Kabupaten/kota").select_option(values["region"])
    await page.get_by_label("Alamat atau patokan").fill(values["address"])
    if values.get("anonymous"):
        await page.get_by_label("Anonim").check()
    if values.get("confidential"):
        await page.get_by_label("Rahasia").check()
    if values.get("name"):
        await page.get_by_label("Nama").fill(values["name"])
    if values.get("phone"):
        await page.get_by_label("Nomor telepon").fill(values["phone"])


async def submit_report(page: Page, **fields: Any) -> tuple[str, str]:
    """Fill and send the form; the tracking ID and reply code the citizen is shown."""
    await fill_report(page, **fields)
    await page.get_by_role("button", name="Kirim laporan").click()
    tracking = page.locator("#tracking-id")
    await expect(tracking).to_be_visible(timeout=20_000)
    tracking_id = (await tracking.inner_text()).strip()
    code = (await page.locator("#reply-code").inner_text()).strip()
    assert TRACKING.match(tracking_id), tracking_id
    return tracking_id, code


async def case_in_status(store: Store, tracking_id: str, *statuses: str) -> dict[str, Any]:
    """The case once it has reached one of ``statuses``."""

    async def check() -> dict[str, Any] | None:
        case = await store.complaints.find_one({"_id": tracking_id})
        return case if case is not None and case.get("status") in statuses else None

    try:
        found: dict[str, Any] = await eventually(check, timeout=30)
    except AssertionError:
        case = await store.complaints.find_one({"_id": tracking_id}, {"status": 1, "checks": 1})
        raise AssertionError(f"{tracking_id} not in {statuses}: {case}") from None
    return found


async def agency_resolves(
    amqp: aio_pika.abc.AbstractConnection, tracking_id: str, agency: str, answer: str
) -> None:
    """The agency's system answers with its final answer, as ``opd.respond``."""
    await publish(
        amqp,
        topology.COMMANDS,
        "opd.respond",
        {
            "message_id": f"opd-{uuid.uuid4().hex}",
            "tracking_id": tracking_id,
            "agency": agency,
            "action": "resolve",
            "liaison": "Penghubung PUPR",
            "message": answer,
        },
    )
