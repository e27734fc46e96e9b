"""Key rotation: after ``lapor keys rotate`` old cases are still readable and matchable."""

from __future__ import annotations

import asyncio
import base64
import os

import pytest

from lapor.cli import main as lapor
from lapor.commands.keys import rotate
from shared.contract import Reporter
from shared.pii import IdentityProtector, IdentityUnreadable
from shared.settings import IntakeSettings
from shared.storage import Store

pytestmark = pytest.mark.integration

OLD, NEW = os.urandom(32), os.urandom(32)
SITI = Reporter(name="Siti Aminah", phone="+6281277889900", handle="u-77")


async def _store_case(store: Store, protector: IdentityProtector, tracking_id: str) -> None:
    await store.complaints.insert_one(
        {
            "_id": tracking_id,
            "channel": "sms",
            "external_id": tracking_id,
            "reporter": {
                "sealed": protector.seal_model(SITI, tracking_id),
                "fingerprints": sorted(
                    protector.contact_fingerprints("sms", SITI.phone, None, SITI.handle)
                ),
            },
            "raw_sealed": protector.seal(b'{"raw": true}', tracking_id),
        }
    )


async def test_rotation_reseals_everything_and_keeps_every_look_up(store: Store) -> None:
    old = IdentityProtector(OLD, "k1")
    for tracking_id in ("AAAA-BBBB-CCC1", "AAAA-BBBB-CCC2"):
        await _store_case(store, old, tracking_id)
    await store.quarantine.insert_one({"_id": "q-1", "raw_sealed": old.seal(b"bad", "q-1")})
    during = IdentityProtector.from_keyring({"k1": OLD, "k2": NEW}, "k2")
    # A case stored during the rotation window (both keys held) matches the old ones.
    await _store_case(store, during, "AAAA-BBBB-CCC3")

    report = await rotate(store, during)
    assert (report.resealed, report.unreadable, report.changed_meanwhile) == (3, [], 0)
    again = await rotate(store, during)
    assert (again.resealed, again.current) == (0, 4)  # idempotent

    only_new = IdentityProtector(NEW, "k2")  # the old key is gone now
    late = only_new.contact_fingerprints("whatsapp", "0812-7788-9900", None, None)
    async for case in store.complaints.find({}):
        tracking_id = case["_id"]
        assert only_new.open_json(case["reporter"]["sealed"], tracking_id)["name"] == "Siti Aminah"
        assert only_new.open(case["raw_sealed"], tracking_id) == b'{"raw": true}'
        assert set(case["reporter"]["fingerprints"]) & late  # still found by phone
        with pytest.raises(IdentityUnreadable):
            old.open(case["reporter"]["sealed"], tracking_id)
    by_phone = await store.complaints.count_documents(
        {"reporter.fingerprints": {"$in": list(late)}}
    )
    assert by_phone == 3
    quarantined = await store.quarantine.find_one({"_id": "q-1"})
    assert quarantined is not None and only_new.open(quarantined["raw_sealed"], "q-1") == b"bad"


async def test_the_command_reports_what_no_key_opens(
    store: Store,
    settings: IntakeSettings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await _store_case(store, IdentityProtector(OLD, "k1"), "AAAA-BBBB-CCC1")
    await _store_case(store, IdentityProtector(os.urandom(32), "kx"), "AAAA-BBBB-CCC2")
    for name, value in {
        "LAPOR_MONGO_URL": settings.mongo_url.get_secret_value(),
        "LAPOR_MONGO_DB": settings.mongo_db,
        "LAPOR_PII_KEY": base64.b64encode(NEW).decode(),
        "LAPOR_PII_KEY_ID": "k2",
        "LAPOR_PII_OLD_KEYS": f"k1:{base64.b64encode(OLD).decode()}",
    }.items():
        monkeypatch.setenv(name, value)
    assert await asyncio.to_thread(lapor, ["keys", "rotate"]) == 1
    out = capsys.readouterr().out
    assert "1 re-sealed" in out and "unreadable: AAAA-BBBB-CCC2" in out
    assert base64.b64encode(OLD).decode() not in out
