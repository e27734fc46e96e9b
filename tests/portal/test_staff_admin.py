"""The admin desk's quieter duties over HTTP, against the real portal and services: the
quarantine (read, correct and resubmit, dismiss) and the logged identity reveal."""

from __future__ import annotations

import json
import uuid

import aio_pika
import pytest

from services.portal.staff.audit import AuditAction, AuditFilter
from services.portal.staff.roles import Role
from services.portal.staff.store import StaffStore
from shared.storage import Store
from tests.portal.staff_support import (
    StaffClient,
    StaffPortal,
    staff_portal,  # noqa: F401 (the fixture)
    status_becomes,
    submit,
)
from tests.support import eventually, publish

pytestmark = pytest.mark.e2e

PHONE = "081234567001"


async def _quarantined(amqp: aio_pika.abc.AbstractConnection, store: Store, body: dict) -> str:
    await publish(amqp, "lapor.intake", "channel.sms", body, body["external_id"])

    async def found() -> str | None:
        doc = await store.quarantine.find_one({"external_id": body["external_id"]}, {"_id": 1})
        return str(doc["_id"]) if doc else None

    quarantine_id: str = await eventually(found)
    return quarantine_id


async def test_a_quarantined_report_is_read_corrected_and_resubmitted_or_dismissed(
    staff_portal: StaffPortal,  # noqa: F811
    amqp: aio_pika.abc.AbstractConnection,
    store: Store,
) -> None:
    await staff_portal.add("siti", Role.ADMIN)
    broken = {
        "channel": "sms",
        "external_id": f"sms-{uuid.uuid4().hex[:8]}",
        "description": "Lampu jalan di Jl. Sudirman Palembang mati sejak seminggu, rawan begal.",
        "reporter": {"phone": "12345"},  # not a phone number: refused by field
    }
    spam = broken | {"external_id": f"sms-{uuid.uuid4().hex[:8]}"}
    fixable = await _quarantined(amqp, store, broken)
    hopeless = await _quarantined(amqp, store, spam)

    async with StaffClient(staff_portal.portal) as siti:
        await siti.log_in("siti")
        queue = await siti.get("/staf/admin?antrean=quarantine")
        assert fixable in queue.text and hopeless in queue.text
        page = await siti.get(f"/staf/karantina/{fixable}")
        assert page.status_code == 200
        assert "reporter.phone" in page.text  # the field and why
        assert broken["external_id"] in page.text  # the raw report, to correct

        path = f"/staf/karantina/{fixable}/kirim-ulang"
        other_channel = json.dumps(broken | {"channel": "web", "reporter": {"phone": PHONE}})
        refused = await siti.post(
            path, {"report": other_channel}, page=f"/staf/karantina/{fixable}"
        )
        assert refused.status_code == 422
        assert "kanal asal" in refused.text
        still_bad = await siti.post(path, {"report": json.dumps(broken | {"description": ""})},
                                    page=f"/staf/karantina/{fixable}")  # fmt: skip
        assert still_bad.status_code == 422
        assert "description" in still_bad.text

        corrected = json.dumps(broken | {"reporter": {"phone": PHONE}})
        sent = await siti.post(path, {"report": corrected}, page=f"/staf/karantina/{fixable}")
        assert sent.status_code == 303
        again = await siti.post(path, {"report": corrected}, page="/staf/admin")
        assert again.status_code == 403  # once only

        dismissed = await siti.post(
            f"/staf/karantina/{hopeless}/tolak", {"reason": "dikirim ulang oleh kanal"},
            page="/staf/admin?antrean=quarantine",
        )  # fmt: skip
        assert dismissed.status_code == 303
        queue = await siti.get("/staf/admin?antrean=quarantine")
        assert fixable not in queue.text and hopeless not in queue.text

    async def taken_in() -> bool:
        return await store.complaints.count_documents({"external_id": broken["external_id"]}) == 1

    await eventually(taken_in, timeout=20)
    case = await store.complaints.find_one({"external_id": broken["external_id"]})
    assert case is not None and case["channel"] == "sms"
    assert case["resubmitted"]["quarantine_id"] == fixable
    assert case["resubmitted"]["admin"] == case["timeline"][0]["by"] == "siti"
    log = await StaffStore.over(store).audit.search(AuditFilter(actor="siti"))
    actions = [e.action for e in log]
    assert AuditAction.QUARANTINE_READ in actions
    assert AuditAction.QUARANTINE_RESUBMITTED in actions
    assert AuditAction.QUARANTINE_DISMISSED in actions
    assert PHONE not in str([e.to_document() for e in log])


async def test_revealing_identity_is_an_admins_separate_logged_action(
    staff_portal: StaffPortal,  # noqa: F811
    amqp: aio_pika.abc.AbstractConnection,
    store: Store,
) -> None:
    await staff_portal.add("siti", Role.ADMIN)
    await staff_portal.add("rina", Role.AGENCY, "rsud-bari-palembang")
    tid = await submit(
        amqp, store,
        "Antrean pendaftaran pasien BPJS di RSUD Bari Palembang mulai jam 5 pagi, loket baru "
        "buka jam 9. Pasien lansia menunggu 4 jam tanpa tempat duduk.",
        anonymous=True, location={"region_code": "16.71"},
    )  # fmt: skip
    await status_becomes(store, tid, "needs_review")
    async with StaffClient(staff_portal.portal) as siti, StaffClient(staff_portal.portal) as rina:
        await siti.log_in("siti")
        await rina.log_in("rina")
        case_page = await siti.get(f"/staf/kasus/{tid}")
        assert "Siti Aminah" not in case_page.text  # not without the deliberate action
        reveal = {"reason": "pelapor menelepon, verifikasi nomor"}
        refused = await rina.post(f"/staf/kasus/{tid}/identitas", reveal, page="/staf/instansi")
        assert refused.status_code == 403
        shown = await siti.post(f"/staf/kasus/{tid}/identitas", reveal, page=f"/staf/kasus/{tid}")
        assert shown.status_code == 200
        assert "Siti Aminah" in shown.text
    [entry] = await StaffStore.over(store).audit.search(
        AuditFilter(action=AuditAction.IDENTITY_REVEALED)
    )
    assert (entry.actor, entry.tracking_id) == ("siti", tid)
    assert entry.detail["reason"] == reveal["reason"]
    assert "Siti Aminah" not in str(entry.to_document())


async def test_a_private_attachment_opens_for_the_admin_and_not_for_other_staff(
    staff_portal: StaffPortal,  # noqa: F811
) -> None:
    from tests.portal.test_safety import submit as submit_form
    from tests.portal.test_safety import tiny_png, tracking_id_after

    await staff_portal.add("siti", Role.ADMIN)
    await staff_portal.add("rina", Role.AGENCY, "dinkes-oki")  # holds nothing here
    await staff_portal.add("pak", Role.LEADER)
    async with staff_portal.portal.client() as reporter:
        answer = await submit_form(
            reporter,
            files=[("attachments", ("lubang.png", tiny_png(), "image/png"))],
            anonymous="1",
        )
        tracking_id = await tracking_id_after(reporter, answer)
    case = await status_becomes(staff_portal.store, tracking_id, "needs_review")
    path = "/lampiran/" + case["attachments"][0]["url"].split("/lampiran/", 1)[1]
    async with StaffClient(staff_portal.portal) as siti:
        await siti.log_in("siti")
        seen = await siti.get(path)
        assert seen.status_code == 200 and seen.content == tiny_png()
    for name in ("rina", "pak"):
        async with StaffClient(staff_portal.portal) as other:
            await other.log_in(name)
            refused = await other.get(path)
            assert refused.status_code == 403, name
            assert refused.content != tiny_png()
