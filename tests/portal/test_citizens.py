"""A citizen reports, follows and answers a case in a real browser, against every service.

Chromium (Debian's) drives the real portal; the four services run for real on the test
broker and database. Each test narrates what the citizen does and sees.
"""

from __future__ import annotations

import aio_pika
import pytest
from playwright.async_api import Page, expect

from shared.storage import Store
from tests.portal.support import (
    ROAD,
    ROAD_AGENCY,
    agency_resolves,
    case_in_status,
    fill_report,
    submit_report,
)

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


async def test_a_citizen_reports_and_sees_the_case_reach_its_agency(
    page: Page, store: Store
) -> None:
    tracking_id, code = await submit_report(page, phone="0812 7788 9900")
    assert len(code.replace("-", "")) == 16
    await page.get_by_role("link", name="Lihat perkembangan laporan").click()
    await expect(page).to_have_url(f"/lacak/{tracking_id}")
    # Routing sends it to Dinas PUPR Kota Palembang; the page says so in plain words.
    await case_in_status(store, tracking_id, "dispatched")
    await page.reload()
    await expect(page.locator("#status")).to_have_text("Diteruskan ke instansi")
    await expect(page.locator("#timeline")).to_contain_text("Diteruskan ke instansi")
    await expect(page.locator("#agency")).to_contain_text("Pekerjaan Umum")
    await expect(page.locator("#description")).to_contain_text("Kalidoni")
    # The portal kept intake's notice for the reporter (browser remembers the code).
    await expect(page.locator("#notices")).to_contain_text(tracking_id)
    # Nothing of the reporter anywhere on the page.
    assert "7788" not in await page.content()


async def test_a_script_in_a_description_shows_as_text_and_runs_nothing(
    page: Page, store: Store
) -> None:
    script = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned=2">'
    tracking_id, _ = await submit_report(
        page,
        title="Lampu jalan <b>mati</b> <script>alert(1)</script>",
        description=f"Lampu jalan di depan pasar mati sejak seminggu. {script}",
    )
    await case_in_status(store, tracking_id, "dispatched", "needs_review", "awaiting_routing")
    for path in (f"/lacak/{tracking_id}", "/laporan"):
        await page.goto(path)
        assert await page.evaluate("window.__pwned") is None
    await page.goto(f"/lacak/{tracking_id}")
    await expect(page.locator("#description")).to_contain_text(
        "<script>window.__pwned = 1</script>"
    )
    await expect(page.locator("h1")).to_have_text(
        "Lampu jalan <b>mati</b> <script>alert(1)</script>"
    )


async def test_a_double_submit_makes_one_case(page: Page, store: Store) -> None:
    await fill_report(page, title="Jalan rusak dikirim dua kali")
    # A citizen without JavaScript double-clicks: the browser sends the same form twice.
    await page.evaluate(
        "() => { const f = document.querySelector('form.report-form');"
        " HTMLFormElement.prototype.submit.call(f); HTMLFormElement.prototype.submit.call(f); }"
    )
    await expect(page.locator("#tracking-id")).to_be_visible(timeout=20_000)
    await expect(page.locator("#reply-code")).to_be_visible()
    tracking_id = (await page.locator("#tracking-id").inner_text()).strip()
    await case_in_status(store, tracking_id, "dispatched")
    assert await store.complaints.count_documents({"title": "Jalan rusak dikirim dua kali"}) == 1


async def test_an_anonymous_reporters_name_appears_on_no_public_page(
    page: Page, store: Store
) -> None:
    name = "Siti Nurhaliza Marpaung"
    tracking_id, _ = await submit_report(
        page, anonymous=True, name=name, title="Pungutan liar di kantor kelurahan"
    )
    await case_in_status(store, tracking_id, "needs_review", "dispatched")
    context = page.context
    await context.clear_cookies()  # a stranger's browser
    for path in (f"/lacak/{tracking_id}", "/laporan", "/laporan?q=Pungutan"):
        await page.goto(path)
        assert name not in await page.content(), path
        assert "Nurhaliza" not in await page.content(), path


async def test_a_confidential_case_shows_nothing_without_its_reply_code(
    page: Page, store: Store
) -> None:
    secret_title = "Dugaan suap di dinas perizinan"
    tracking_id, code = await submit_report(
        page,
        confidential=True,
        title=secret_title,
        description="Petugas meminta uang pelicin Rp 2 juta untuk mempercepat izin usaha kami.",
    )
    await case_in_status(store, tracking_id, "needs_review", "dispatched", "verified")
    await page.context.clear_cookies()
    await page.goto(f"/lacak/{tracking_id}")
    content = await page.content()
    assert secret_title not in content and "pelicin" not in content
    await expect(page.locator("#confidential-note")).to_be_visible()
    await page.goto("/laporan")
    assert secret_title not in await page.content()
    # A wrong code shows nothing either.
    await page.goto(f"/lacak/{tracking_id}")
    await page.get_by_label("Kode balasan").fill("2222-3333-4444-5555")
    await page.get_by_role("button", name="Masuk dengan kode balasan").click()
    await expect(page.locator("#action-error")).to_contain_text("Kode balasan salah")
    assert "pelicin" not in await page.content()
    # The right code shows the report.
    await page.get_by_label("Kode balasan").fill(code)
    await page.get_by_role("button", name="Masuk dengan kode balasan").click()
    await expect(page.locator("#description")).to_contain_text("pelicin")


async def test_a_rating_with_the_reply_code_reaches_the_case_and_a_wrong_code_is_refused(
    page: Page, store: Store, amqp: aio_pika.abc.AbstractConnection
) -> None:
    tracking_id, code = await submit_report(page)
    await case_in_status(store, tracking_id, "dispatched")
    await agency_resolves(amqp, tracking_id, ROAD_AGENCY, "Lubang sudah ditambal pada 3 Desember.")
    await case_in_status(store, tracking_id, "resolved")
    # Someone else, with a wrong code, cannot rate.
    await page.context.clear_cookies()
    await page.goto(f"/lacak/{tracking_id}")
    await page.get_by_label("Kode balasan").fill("2222-3333-4444-5555")
    await page.get_by_role("button", name="Masuk dengan kode balasan").click()
    await expect(page.locator("#action-error")).to_contain_text("Kode balasan salah")
    await expect(page.get_by_role("button", name="Kirim penilaian")).to_have_count(0)
    # The reporter, with the code, rates 4.
    await page.get_by_label("Kode balasan").fill(code.lower())
    await page.get_by_role("button", name="Masuk dengan kode balasan").click()
    await expect(page.locator("#timeline")).to_contain_text("jawaban akhir")
    await page.get_by_label("4", exact=True).check()
    await page.get_by_role("button", name="Kirim penilaian").click()
    await expect(page.get_by_role("status")).to_contain_text("Tanggapan Anda sudah dikirim")

    async def rated() -> bool:
        case = await store.complaints.find_one({"_id": tracking_id})
        return case is not None and case.get("rating") == 4

    from tests.support import eventually

    await eventually(rated, timeout=20)
    await page.reload()
    await expect(page.locator("#rating")).to_have_text("4 dari 5")
    assert ROAD["title"] in await page.content()
