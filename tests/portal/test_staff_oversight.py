"""The rest of issue 9 over HTTP, against the real portal and services: an oversight
office's acknowledgement ends on the case's own timeline with who; the admin desk reads in
Bahasa and verifies with a category from the list; the dashboard names regions."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from typing import Any

import aio_pika
import pytest

from services.portal.staff.labels import FINDING_TITLES, STEP_TITLES
from services.portal.staff.oversight import OversightInbox
from services.portal.staff.roles import Role
from services.verification.policy import PolicyCode
from shared.storage import Store
from tests.portal.staff_support import (
    StaffClient,
    StaffPortal,
    staff_portal,  # noqa: F401 (the fixture)
    status_becomes,
    submit,
)
from tests.support import eventually

pytestmark = pytest.mark.e2e

WATER = (
    "Air PDAM Tirta Musi di Perumnas Sako mati total sudah 5 hari, warga harus beli air "
    "galon untuk mandi dan masak."
)
HEALTH = (
    "Antrean pendaftaran pasien BPJS di RSUD Bari Palembang mulai jam 5 pagi, loket baru "
    "buka jam 9. Pasien lansia menunggu 4 jam tanpa tempat duduk."
)


async def _acknowledgements(store: Store, tracking_id: str) -> list[dict[str, Any]]:
    case = await store.complaints.find_one({"_id": tracking_id}, {"timeline": 1})
    timeline = (case or {}).get("timeline", [])
    return [e for e in timeline if e.get("step") == "acknowledge_escalation"]


async def test_an_oversight_acknowledgement_is_recorded_on_the_case_with_who(
    staff_portal: StaffPortal,  # noqa: F811
    amqp: aio_pika.abc.AbstractConnection,
    store: Store,
) -> None:
    await staff_portal.add("ombudsman.sumsel", Role.OMBUDSMAN)
    late = await submit(amqp, store, WATER, location={"region_code": "16.71"})
    await status_becomes(store, late, "dispatched")
    staff_portal.clock.advance(timedelta(days=28))  # nobody answers: up to the Ombudsman
    inbox = OversightInbox.over(store)

    async def the_ombudsmans_notice() -> str | None:
        items = await inbox.for_role(Role.OMBUDSMAN, frozenset())
        return next((i.message_id for i in items if i.tracking_id == late), None)

    notice = await eventually(the_ombudsmans_notice, timeout=30)
    assert await _acknowledgements(store, late) == []

    async with StaffClient(staff_portal.portal) as ombudsman:
        await ombudsman.log_in("ombudsman.sumsel")
        seen = await ombudsman.post(
            f"/staf/pengawasan/{notice}/terima", {}, page="/staf/pengawasan"
        )
        assert seen.status_code == 303

        async def recorded() -> list[dict[str, Any]]:
            return await _acknowledgements(store, late)

        [entry] = await eventually(recorded, timeout=20)
        assert entry["by"] == "ombudsman.sumsel"
        assert (entry["actor"], entry["target"], entry["notice_id"]) == (
            "oversight",
            "ombudsman",
            notice,
        )
        # Clicking again records nothing new, on the case or in the inbox.
        again = await ombudsman.post(
            f"/staf/pengawasan/{notice}/terima", {}, page="/staf/pengawasan"
        )
        assert again.status_code == 303
        page = await ombudsman.get(f"/staf/kasus/{late}")
        assert page.status_code == 200
        shown = re.search(r'<li data-step="acknowledge_escalation">(.*?)</li>', page.text)
        assert shown, "the acknowledgement is not on the case page's timeline"
        assert STEP_TITLES["acknowledge_escalation"] in shown[1]
        assert "oleh ombudsman.sumsel" in shown[1]
    item = await inbox.get(notice)
    assert item is not None and item.acknowledged_by == "ombudsman.sumsel"
    assert len(await _acknowledgements(store, late)) == 1


async def test_the_admin_desk_reads_in_bahasa_and_verifies_with_a_listed_category(
    staff_portal: StaffPortal,  # noqa: F811
    amqp: aio_pika.abc.AbstractConnection,
    store: Store,
) -> None:
    await staff_portal.add("siti", Role.ADMIN)
    held = await submit(amqp, store, HEALTH, anonymous=True, location={"region_code": "16.71"})
    case = await status_becomes(store, held, "needs_review")
    details = [str(f["detail"]) for f in case["checks"]]
    assert any(f["code"] == PolicyCode.ANONYMOUS for f in case["checks"])
    suggested = case["suggestion"]["category"]
    assert suggested == "kesehatan"

    async with StaffClient(staff_portal.portal) as siti:
        await siti.log_in("siti")
        page = await siti.get(f"/staf/kasus/{held}")
        assert page.status_code == 200
        assert FINDING_TITLES[PolicyCode.ANONYMOUS] in page.text
        assert f'data-code="{PolicyCode.ANONYMOUS}"' in page.text  # the code, as data
        for english in details:
            assert english not in page.text, english
        assert STEP_TITLES["hold_for_review"] in page.text
        assert "<strong>hold_for_review</strong>" not in page.text
        select = re.search(r'<select id="category" name="category">(.*?)</select>', page.text)
        assert select, "the category is not a list"
        options = dict(re.findall(r'<option value="([^"]*)"( selected)?', select[1]))
        assert options[suggested] == " selected"
        assert {"jalan", "air_bersih", "kesehatan"} <= set(options)

        verify = {"decision": "verify", "category": "kuliner", "severity": "sedang",
                  "anonymous": "ya", "flags_confirmed": "ya"}  # fmt: skip
        refused = await siti.post(
            f"/staf/kasus/{held}/keputusan", verify, page=f"/staf/kasus/{held}"
        )
        assert refused.status_code == 422
        assert "Kategori" in refused.text and "tidak dikenal" in refused.text
        # Refused in the request itself, before anything was sent: the case is as it was.
        assert (await staff_portal.case(held))["status"] == "needs_review"

        chosen = verify | {"category": "air_bersih"}
        sent = await siti.post(f"/staf/kasus/{held}/keputusan", chosen, page=f"/staf/kasus/{held}")
        assert sent.status_code == 303
    verified = await status_becomes(store, held, "verified", "dispatched", "awaiting_routing")
    assert verified["category"] == "air_bersih"
    assert [e["step"] for e in verified["timeline"]].count("verify") == 1


async def test_the_dashboard_names_regions_and_categories(
    staff_portal: StaffPortal,  # noqa: F811
    amqp: aio_pika.abc.AbstractConnection,
    store: Store,
) -> None:
    await staff_portal.add("pak.gubernur", Role.LEADER)
    case = await submit(amqp, store, WATER, location={"region_code": "16.71"})
    await status_becomes(store, case, "dispatched")
    async with StaffClient(staff_portal.portal) as leader:
        await leader.log_in("pak.gubernur")
        page = await leader.get("/staf/dasbor")
        assert page.status_code == 200
        region_filter = re.search(r'<select id="wilayah" name="wilayah">(.*?)</select>', page.text)
        assert region_filter and '<option value="16.71">Kota Palembang</option>' in region_filter[1]
        trend = page.text.split('id="tren-region"', 1)[1].split("</section>", 1)[0]
        assert '<th scope="row">Kota Palembang</th>' in trend
        assert '<th scope="row">16.71</th>' not in trend
        chart = await leader.get("/staf/dasbor/grafik/region.svg")
        assert chart.status_code == 200 and "Kota Palembang" in chart.text
        # Categories too: by label in the filter, the trend table and the chart's legend.
        category_filter = re.search(
            r'<select id="kategori" name="kategori">(.*?)</select>', page.text
        )
        assert (
            category_filter
            and '<option value="air_bersih">Air bersih</option>' in category_filter[1]
        )
        by_category = page.text.split('id="tren-category"', 1)[1].split("</section>", 1)[0]
        assert '<th scope="row">Air bersih</th>' in by_category
        assert "air_bersih" not in by_category
        legend = await leader.get("/staf/dasbor/grafik/category.svg")
        assert legend.status_code == 200 and "Air bersih" in legend.text
        assert "air_bersih" not in legend.text
        filtered = await leader.get("/staf/dasbor?kategori=air_bersih")
        assert '<option value="air_bersih" selected>Air bersih</option>' in filtered.text
        export = await leader.get("/staf/dasbor/rekap.csv?wilayah=16.71")
        assert export.status_code == 200
        rows = list(csv.DictReader(io.StringIO(export.text)))
        assert rows and {(r["kode_wilayah"], r["wilayah"]) for r in rows} == {
            ("16.71", "Kota Palembang")
        }
