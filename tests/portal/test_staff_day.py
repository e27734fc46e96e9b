"""A day in the staff area, in Chromium against the real portal and services (issue 9).

The admin verifies a held *anonim* report with its flags confirmed and routes a case no
rule could place; that agency's liaison sees only their agency's cases and resolves it,
and the answer shows on the reporter's tracking page; the leader's dashboard shows the
numbers of ``lapor recap --json`` in its table and its chart; once the clock has passed
the deadlines, the Ombudsman finds the late case in the oversight inbox and acknowledges
it. A screenshot of each desk goes to the test's temporary directory, or to
``LAPOR_SCREENSHOTS_DIR`` when set (``LAPOR_SCREENSHOTS_DIR=docs`` refreshes the ones in
``docs/``, which every run used to rewrite, leaving the checkout changed).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aio_pika
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from lapor import cli
from services.portal.staff.labels import FINDING_TITLES
from services.portal.staff.oversight import OversightInbox
from services.portal.staff.roles import Role
from services.verification.policy import PolicyCode
from shared.settings import IntakeSettings
from shared.storage import Store
from tests.portal.staff_support import (
    PASSWORD,
    StaffPortal,
    staff_portal,  # noqa: F401 (the fixture)
    status_becomes,
    submit,
)
from tests.support import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

ANSWER = "Petugas PLN ULP Sungai Lilin sudah mengganti trafo desa pada 8 Desember; listrik normal."


@pytest.fixture
async def people(
    browser: Browser,
    staff_portal: StaffPortal,  # noqa: F811
) -> AsyncIterator[dict[str, BrowserContext]]:
    """One browser profile per person (a desk-sized screen)."""
    contexts: dict[str, BrowserContext] = {}
    for name in ("admin", "liaison", "leader", "ombudsman", "operator", "reporter"):
        contexts[name] = await browser.new_context(
            base_url=staff_portal.portal.url,
            locale="id-ID",
            viewport={"width": 1280, "height": 900},
        )
    yield contexts
    for context in contexts.values():
        await context.close()


async def log_in(context: BrowserContext, name: str) -> Page:
    """Open /staf/ and log in through the form."""
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto("/staf/")
    await page.get_by_label("Nama pengguna").fill(name)
    await page.get_by_label("Kata sandi").fill(PASSWORD)
    await page.get_by_role("button", name="Masuk").click()
    await expect(page.locator(".staff-bar")).to_contain_text(name)
    assert not errors, errors
    return page


async def recap_json(settings: IntakeSettings, at: str, monkeypatch: pytest.MonkeyPatch) -> dict:
    """``lapor recap --json --at AT`` as an operator runs it on the same database."""
    monkeypatch.setenv("LAPOR_MONGO_URL", settings.mongo_url.get_secret_value())
    monkeypatch.setenv("LAPOR_MONGO_DB", settings.mongo_db)
    out: list[str] = []

    def run() -> int:
        import contextlib
        import io

        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            code = cli.main(["recap", "--json", "--at", at])
        out.append(buffer.getvalue())
        return code

    assert await asyncio.to_thread(run) == 0
    return dict(json.loads(out[0]))


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where the desks' screenshots go (``LAPOR_SCREENSHOTS_DIR=docs`` for the docs)."""
    chosen = os.environ.get("LAPOR_SCREENSHOTS_DIR")
    return Path(chosen) if chosen else tmp_path


async def test_a_day_at_the_staff_desks(
    shots: Path,
    staff_portal: StaffPortal,  # noqa: F811
    people: dict[str, BrowserContext],
    amqp: aio_pika.abc.AbstractConnection,
    store: Store,
    settings: IntakeSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    portal = staff_portal
    await portal.add("siti.admin", Role.ADMIN)
    await portal.add("rina.dinsos", Role.AGENCY, "dinsos-banyuasin")
    await portal.add("pak.gubernur", Role.LEADER)
    await portal.add("ombudsman.sumsel", Role.OMBUDSMAN)
    await portal.add("operator", Role.OPERATOR)

    # The morning's reports, as their channels send them.
    held = await submit(
        amqp, store,
        "Pungutan liar Rp 50.000 untuk surat keterangan tidak mampu di kantor kelurahan "
        "Sukarami, warga miskin tidak bisa membayar.",
        anonymous=True, location={"region_code": "16.71"},
    )  # fmt: skip
    unplaced = await submit(
        amqp, store,
        "Listrik PLN di Desa Pulau Rimau padam setiap malam sejak dua minggu, pelajaran anak "
        "sekolah terganggu dan pompa air tidak jalan.",
        location={"region_code": "16.07"}, category="listrik",
    )  # fmt: skip
    late = await submit(
        amqp, store,
        "Air PDAM Tirta Musi di Perumnas Sako mati total sudah 5 hari, warga harus beli air "
        "galon untuk mandi dan masak.",
        location={"region_code": "16.71"},
    )  # fmt: skip
    await status_becomes(store, held, "needs_review")
    await status_becomes(store, unplaced, "awaiting_routing")
    await status_becomes(store, late, "dispatched")

    # --- the admin ----------------------------------------------------------------------
    admin = await log_in(people["admin"], "siti.admin")
    await expect(admin.locator("h1")).to_have_text("Meja admin")
    await expect(admin.get_by_role("link", name=re.compile("Perlu ditinjau"))).to_contain_text("1")
    await admin.screenshot(path=str(shots / "staf-admin.png"), full_page=True)
    await admin.get_by_role("link", name=held).click()
    await expect(admin.locator("h1")).to_have_text(f"Laporan {held}")
    # The held reason is the policy's ANONYMOUS finding: the page names it in Bahasa (the
    # code stays as data on the item), never in the service's English detail.
    stored = await store.complaints.find_one({"_id": held}, {"checks": 1})
    assert stored is not None
    anonim = [f for f in stored.get("checks", []) if f.get("code") == PolicyCode.ANONYMOUS]
    assert anonim, f"{held} was not held for its anonim flag: {stored.get('checks')}"
    reason = admin.locator(f'li[data-code="{PolicyCode.ANONYMOUS}"]')
    await expect(reason).to_have_count(1)
    await expect(reason).to_contain_text(FINDING_TITLES[PolicyCode.ANONYMOUS])
    await expect(admin.locator("main")).not_to_contain_text(str(anonim[0]["detail"]))
    assert await admin.get_by_label("Anonim (identitas disembunyikan dari instansi)").is_checked()
    await admin.screenshot(path=str(shots / "staf-kasus-admin.png"), full_page=True)
    await admin.get_by_label("Saya sudah memeriksa sifat anonim dan rahasia di atas").check()
    await admin.get_by_role("button", name="Verifikasi").click()
    await expect(admin.get_by_role("status")).to_contain_text("Tindakan terkirim")
    verified = await status_becomes(store, held, "verified", "dispatched", "awaiting_routing")
    assert verified["anonymous"] is True
    assert any(e.get("by") == "siti.admin" for e in verified["timeline"])

    await admin.goto("/staf/admin?antrean=needs_routing")
    await admin.get_by_role("link", name=unplaced).click()
    await admin.get_by_label("Instansi tujuan").select_option("dinsos-banyuasin")
    await admin.get_by_label("Catatan untuk instansi").fill("Koordinasikan dengan PLN UP3.")
    await admin.get_by_role("button", name="Disposisikan").click()
    await expect(admin.get_by_role("status")).to_contain_text("Tindakan terkirim")
    routed = await status_becomes(store, unplaced, "dispatched")
    assert routed["agency"] == "dinsos-banyuasin"

    # --- the liaison of that agency -----------------------------------------------------
    liaison = await log_in(people["liaison"], "rina.dinsos")
    await expect(liaison.locator("h1")).to_have_text("Meja instansi")
    rows = liaison.locator("tbody tr")
    await expect(rows).to_have_count(1)  # only their agency's case: not the others
    await expect(rows.first).to_contain_text(unplaced)
    await liaison.screenshot(path=str(shots / "staf-instansi.png"), full_page=True)
    await liaison.get_by_role("link", name=unplaced).click()
    await expect(liaison.get_by_text("Siti Aminah")).to_be_visible()  # not anonim: the name
    await liaison.get_by_label("Selesai (jawaban akhir)").check()
    await liaison.get_by_label(re.compile("^Pesan")).fill(ANSWER)
    await liaison.get_by_role("button", name="Kirim tanggapan").click()
    await expect(liaison.get_by_role("status")).to_contain_text("Tindakan terkirim")
    resolved = await status_becomes(store, unplaced, "resolved")
    assert any(e.get("by") == "rina.dinsos" for e in resolved["timeline"])
    reporter = await people["reporter"].new_page()
    await reporter.goto(f"/lacak/{unplaced}")
    await expect(reporter.locator("main")).to_contain_text(ANSWER)

    # --- the leader ---------------------------------------------------------------------
    leader = await log_in(people["leader"], "pak.gubernur")
    await expect(leader.locator("h1")).to_have_text("Dasbor pimpinan")
    recap = await recap_json(settings, portal.clock.now().isoformat(), monkeypatch)
    shown: dict[str, dict[str, int]] = {}
    for row in await leader.locator("#rekap tr[data-agency]").all():
        agency = await row.get_attribute("data-agency")
        cells = {await c.get_attribute("data-key"): int(await c.inner_text())
                 for c in await row.locator("td[data-key]").all()}  # fmt: skip
        shown[str(agency)] = {str(k): v for k, v in cells.items()}
    keys = ("received", "in_progress", "resolved", "overdue")
    expected = {(r["agency"] or "admin"): {k: r[k] for k in keys} for r in recap["rows"]}
    expected["total"] = {k: recap["total"][k] for k in keys}
    assert shown == expected
    assert recap["total"]["received"] == 3
    chart = await leader.request.get("/staf/dasbor/grafik/instansi.svg")
    assert chart.status == 200
    drawn = [
        int(float(v)) for v in re.findall(r'<desc class="value">([^<]*)</desc>', await chart.text())
    ]
    assert drawn == [r[k] for k in keys for r in recap["rows"]]
    await expect(leader.locator("figure.chart img")).to_have_count(4)
    await leader.screenshot(path=str(shots / "staf-dasbor.png"), full_page=True)

    # --- weeks later: nobody answered the water case -------------------------------------
    portal.clock.advance(timedelta(days=28))
    inbox = OversightInbox.over(store)

    async def ombudsman_told() -> bool:
        items = await inbox.for_role(Role.OMBUDSMAN, frozenset())
        return any(item.tracking_id == late for item in items)

    await eventually(ombudsman_told, timeout=30)
    ombudsman = await log_in(people["ombudsman"], "ombudsman.sumsel")
    await expect(ombudsman.locator("h1")).to_have_text("Kotak pengawasan")
    notice = ombudsman.locator("article", has_text=late).first
    await expect(notice).to_contain_text("Ombudsman")
    await ombudsman.screenshot(path=str(shots / "staf-pengawasan.png"), full_page=True)
    await notice.get_by_role("button", name="Tandai sudah diterima").click()
    await expect(ombudsman.locator("article", has_text=late).first).to_contain_text(
        "Diterima oleh ombudsman.sumsel"
    )
    assert all(
        item.acknowledged_by == "ombudsman.sumsel"
        for item in await inbox.for_role(Role.OMBUDSMAN, frozenset())
        if item.tracking_id == late
    )

    async def on_the_case() -> list[dict[str, object]]:
        case = await store.complaints.find_one({"_id": late}, {"timeline": 1})
        timeline = (case or {}).get("timeline", [])
        return [e for e in timeline if e.get("step") == "acknowledge_escalation"]

    [entry] = await eventually(on_the_case, timeout=20)
    assert entry["by"] == "ombudsman.sumsel" and entry["target"] == "ombudsman"

    # --- the operator reads the audit log -------------------------------------------------
    operator = await log_in(people["operator"], "operator")
    await operator.goto("/staf/audit?tindakan=decision")
    await expect(operator.locator("tbody tr")).to_have_count(1)
    await expect(operator.locator("tbody")).to_contain_text(held)
    await expect(operator.locator("tbody")).to_contain_text("Keputusan atas laporan")
    await operator.goto("/staf/audit")
    await expect(operator.locator('td[data-action="login"]').first).to_have_text("Masuk")
    await operator.screenshot(path=str(shots / "staf-audit.png"), full_page=True)
