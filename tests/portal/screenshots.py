"""Screenshots of the form, a tracking page and the public list for ``docs/``.

``python -m tests.portal.screenshots [OUT_DIR]`` runs every service and the portal in this
process (like ``lapor dev``: ``LAPOR_AMQP_URL``, default the local RabbitMQ; the in-memory
MongoDB stand-in unless ``LAPOR_MONGO_URL`` is set), sends a few realistic reports through
Debian's Chromium, lets an agency answer one, and saves PNGs at a phone's width.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from contextlib import AsyncExitStack
from pathlib import Path

from playwright.async_api import Page, async_playwright

from tests.portal.conftest import CHROMIUM, CHROMIUM_ARGS, free_port
from tests.portal.support import ROAD_AGENCY, submit_report

REPORTS = [
    {"title": "Air PDAM mati lima hari di Perumnas Sako", "category": "air bersih",
     "description": "Air PDAM Tirta Musi di Perumnas Sako mati total sudah 5 hari, warga "
     "harus membeli air galon untuk mandi dan memasak.", "address": "Perumnas Sako Blok C"},
    {"title": "Antrean BPJS di RSUD Bari sejak subuh", "category": "kesehatan",
     "description": "Antrean pendaftaran pasien BPJS di RSUD Bari Palembang mulai jam 5 "
     "pagi, loket baru buka jam 9. Pasien lansia menunggu 4 jam tanpa tempat duduk.",
     "address": "RSUD Bari, Jl. Panca Usaha"},
    {"title": "Jalan berlubang di Jl. Mayor Zen", "category": "jalan",
     "description": "Jalan di Jl. Mayor Zen, Kalidoni, berlubang besar dan dalam sejak "
     "sebulan. Sudah dua pengendara motor jatuh malam hari karena lubang tidak terlihat.",
     "address": "Jl. Mayor Zen dekat simpang Kalidoni"},
]  # fmt: skip


async def _shoot(page: Page, path: str, out: Path) -> None:
    await page.goto(path)
    await page.screenshot(path=str(out), full_page=True)
    sys.stdout.write(f"wrote {out}\n")


async def main(out_dir: Path) -> None:
    """Run everything, make the pictures, stop everything."""
    from lapor.local import prepare_environment, start_all, start_portal
    from services.routing.registry import (
        declare_agency_queues,
        read_registry,
        sample_registry_path,
        save_registry,
    )
    from shared import topology
    from shared.clock import SystemClock
    from shared.settings import LaporSettings
    from shared.storage import Store
    from tests.support import publish

    prepare_environment()
    os.environ.setdefault("LAPOR_MONGO_DB", f"lapor_shots_{uuid.uuid4().hex[:8]}")
    port = free_port()
    os.environ["LAPOR_PORTAL_PORT"] = str(port)
    settings = LaporSettings()
    store = Store.from_settings(settings)
    registry = read_registry(sample_registry_path())
    await save_registry(store, registry, SystemClock().now())
    amqp_url = settings.amqp_url.get_secret_value()
    await topology.declare_at(amqp_url, settings.delivery_limit)
    await declare_agency_queues(
        amqp_url, settings.delivery_limit, [a.code for a in registry.agencies]
    )
    async with AsyncExitStack() as stack, async_playwright() as playwright:
        await start_all(stack)
        base = await start_portal(stack)
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        context = await browser.new_context(
            base_url=base.rstrip("/"),
            locale="id-ID",
            viewport={"width": 412, "height": 915},
            device_scale_factor=1,
        )
        page = await context.new_page()
        await _shoot(page, "/", out_dir / "portal-form.png")
        tracked = ""
        for report in REPORTS:
            tracked, _ = await submit_report(page, **report)
        for _ in range(100):  # until routing has dispatched the last one
            case = await store.complaints.find_one({"_id": tracked})
            if case and case.get("status") == "dispatched":
                break
            await asyncio.sleep(0.2)
        import aio_pika

        connection = await aio_pika.connect_robust(amqp_url)
        await publish(connection, topology.COMMANDS, "opd.respond", {
            "message_id": f"opd-{uuid.uuid4().hex}", "tracking_id": tracked,
            "agency": ROAD_AGENCY, "action": "follow_up", "liaison": "Penghubung PUPR",
            "message": "Tim UPTD Jalan sudah meninjau lokasi; penambalan dijadwalkan Kamis ini.",
        })  # fmt: skip
        await connection.close()
        for _ in range(100):
            case = await store.complaints.find_one({"_id": tracked})
            if case and case.get("status") == "in_progress":
                break
            await asyncio.sleep(0.2)
        await _shoot(page, f"/lacak/{tracked}", out_dir / "portal-tracking.png")
        await _shoot(page, "/laporan", out_dir / "portal-list.png")
        await browser.close()
    await store.close()


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs")
    asyncio.run(main(target))
