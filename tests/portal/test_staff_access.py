"""Who may do what in the staff area, over HTTP against the real portal and services:
log-in throttling, session expiry, and every forbidden action refused with 403 while
the case and its timeline stay as they were."""

from __future__ import annotations

from datetime import timedelta

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

pytestmark = pytest.mark.e2e

HOSPITAL = (
    "Antrean pendaftaran pasien BPJS di RSUD Bari Palembang mulai jam 5 pagi, loket baru "
    "buka jam 9. Pasien lansia menunggu 4 jam tanpa tempat duduk."
)
WATER = (
    "Air PDAM Tirta Musi di Perumnas Sako mati total sudah 5 hari, warga harus beli air "
    "galon untuk mandi dan masak."
)
PALEMBANG = {"region_code": "16.71"}


async def test_repeated_failed_log_ins_lock_the_account_then_it_opens_again(
    staff_portal: StaffPortal,  # noqa: F811
) -> None:
    await staff_portal.add("siti", Role.ADMIN)
    async with StaffClient(staff_portal.portal) as client:
        for _ in range(5):
            answer = await client.log_in("siti", "bukan-kata-sandinya")
            assert answer.status_code == 401
            assert "Nama pengguna atau kata sandi salah" in answer.text
        locked = await client.log_in("siti")  # the right password, too late
        assert locked.status_code == 429
        assert "Terlalu banyak percobaan" in locked.text
        assert client.session is None
        staff_portal.clock.advance(timedelta(minutes=16))
        opened = await client.log_in("siti")
        assert opened.status_code == 303
        assert opened.headers["location"] == "/staf/admin"
        assert client.session is not None
    log = await StaffStore.over(staff_portal.store).audit.search(AuditFilter(actor="siti"))
    assert [e.action for e in reversed(log)] == [
        *[AuditAction.LOGIN_FAILED] * 5, AuditAction.LOGIN_THROTTLED, AuditAction.LOGIN,
    ]  # fmt: skip
    assert all(e.address == "127.0.0.1" for e in log)


async def test_a_session_expires_when_idle_and_after_its_absolute_limit(
    staff_portal: StaffPortal,  # noqa: F811
) -> None:
    await staff_portal.add("siti", Role.ADMIN)
    async with StaffClient(staff_portal.portal) as client:
        assert (await client.log_in("siti")).status_code == 303
        assert (await client.get("/staf/admin")).status_code == 200
        staff_portal.clock.advance(timedelta(minutes=29))
        assert (await client.get("/staf/admin")).status_code == 200
        staff_portal.clock.advance(timedelta(minutes=31))
        expired = await client.get("/staf/admin")
        assert expired.status_code == 403
        assert "Sesi Anda sudah berakhir" in expired.text

        assert (await client.log_in("siti")).status_code == 303
        served = 0
        for _ in range(40):  # busy all day: a request every 20 minutes
            staff_portal.clock.advance(timedelta(minutes=20))
            if (await client.get("/staf/admin")).status_code != 200:
                break
            served += 1
        assert served == 30  # up to 10 hours after log-in, never later
        assert (await client.get("/staf/admin")).status_code == 403


async def test_log_out_ends_the_session(staff_portal: StaffPortal) -> None:  # noqa: F811
    await staff_portal.add("siti", Role.ADMIN)
    async with StaffClient(staff_portal.portal) as client:
        await client.log_in("siti")
        answer = await client.post("/staf/keluar", {}, page="/staf/admin")
        assert answer.status_code == 303
        assert (await client.get("/staf/admin")).status_code == 403


async def test_every_forbidden_action_is_refused_and_changes_nothing(
    staff_portal: StaffPortal,  # noqa: F811
    amqp: aio_pika.abc.AbstractConnection,
    store: Store,
) -> None:
    hospital = await submit(amqp, store, HOSPITAL, location=PALEMBANG)
    water = await submit(amqp, store, WATER, location=PALEMBANG)
    held = await status_becomes(store, hospital, "dispatched")
    await status_becomes(store, water, "dispatched")
    assert held["agency"] == "rsud-bari-palembang"
    await staff_portal.add("rina", Role.AGENCY, "rsud-bari-palembang")
    await staff_portal.add("budi", Role.AGENCY, "pdam-palembang")
    await staff_portal.add("kepala", Role.LEADER, "rsud-bari-palembang")
    before = await staff_portal.case(hospital)
    acknowledge = {"action": "acknowledge", "message": ""}
    answer_path = f"/staf/kasus/{hospital}/tanggapan"

    async with (
        StaffClient(staff_portal.portal) as rina,
        StaffClient(staff_portal.portal) as budi,
        StaffClient(staff_portal.portal) as kepala,
    ):
        for client, name in ((rina, "rina"), (budi, "budi"), (kepala, "kepala")):
            assert (await client.log_in(name)).status_code == 303

        # Another agency's liaison: the page, the edited URL, an edited hidden field.
        assert (await budi.get(f"/staf/kasus/{hospital}")).status_code == 403
        budi_desk = (await budi.get("/staf/instansi")).text
        assert water in budi_desk
        assert hospital not in budi_desk
        edited_url = await budi.post(answer_path, acknowledge, page=f"/staf/kasus/{water}")
        assert edited_url.status_code == 403
        hidden = await budi.post(
            answer_path, acknowledge | {"agency": "pdam-palembang"}, page=f"/staf/kasus/{water}"
        )
        assert hidden.status_code == 403
        # A liaison taking an admin decision.
        decision = {"decision": "archive", "archive_reason": "abusive"}
        assert (await rina.post(f"/staf/kasus/{hospital}/keputusan", decision)).status_code == 403
        # A leader posting a decision, or an agency's answer.
        assert (await kepala.get(f"/staf/kasus/{hospital}")).status_code == 200
        assert (await kepala.post(f"/staf/kasus/{hospital}/keputusan", decision)).status_code == 403
        assert (await kepala.post(answer_path, acknowledge)).status_code == 403
        # The right liaison without a CSRF token, or with a wrong one.
        assert (await rina.post(answer_path, acknowledge, csrf=None)).status_code == 403
        assert (await rina.post(answer_path, acknowledge, csrf="x" * 43)).status_code == 403
        # The right liaison, the right token, but the session has expired.
        token = await rina.csrf(f"/staf/kasus/{hospital}")
        staff_portal.clock.advance(timedelta(minutes=31))
        assert (await rina.post(answer_path, acknowledge, csrf=token)).status_code == 403

        # Barrier: the same liaison logs in again and acknowledges; once that is applied,
        # nothing else has been (commands are applied in the order they were published).
        assert (await rina.log_in("rina")).status_code == 303
        sent = await rina.post(answer_path, acknowledge, page=f"/staf/kasus/{hospital}")
        assert sent.status_code == 303
        after = await status_becomes(store, hospital, "in_progress")

    assert after["timeline"][: len(before["timeline"])] == before["timeline"]
    added = after["timeline"][len(before["timeline"]) :]
    assert [(e["step"], e.get("by")) for e in added] == [("acknowledge", "rina")]
    refused = await StaffStore.over(store).audit.search(AuditFilter(action=AuditAction.REFUSED))
    assert {e.actor for e in refused} == {"budi", "rina", "kepala"}
