"""The staff area's two paths that need the services' consent, under ``LAPOR_SENDERS=enforce``
on the real local broker (issue 9 with issue 10's checks):

- ``oversight.acknowledge`` is an admin command: from a channel user it is refused as
  ``unauthorised`` and changes nothing; from an admin user it is on the case's timeline.
- a corrected report quarantined on the SMS channel is resubmitted on its own channel's
  key by an admin user, naming the quarantine it corrects: intake takes it in and records
  who resubmitted it; the same message from another channel's user, or an admin's report
  naming no such quarantine, is refused.

The broker users (random suffixes, every right in the session's vhost: the services'
own checks are what is tested) come from tests/integration/test_senders.py.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
import pytest

from services.escalation import app as escalation_app
from services.escalation.settings import EscalationSettings
from services.intake import app as intake_app
from shared import topology
from shared.pii import IdentityProtector
from shared.senders import RESUBMITTED_BY
from shared.settings import IntakeSettings
from shared.storage import Store
from tests import factories
from tests.integration.test_senders import (  # noqa: F401 (fixtures)
    Users,
    enforced,
    kept,
    refused_as,
    send,
    users,
)
from tests.support import Json, eventually

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


@pytest.fixture
async def intake_and_escalation(
    enforced: IntakeSettings,  # noqa: F811
    amqp: aio_pika.abc.AbstractConnection,
    store: Store,
) -> AsyncIterator[None]:
    """Intake and escalation, enforcing senders."""
    async with (
        intake_app.create(enforced),
        escalation_app.create(EscalationSettings.from_base(enforced)),
    ):
        yield


def escalated(protector: IdentityProtector) -> tuple[Json, str]:
    """A dispatched case whose ladder fired a notice to the Ombudsman; that notice's ID."""
    case = factories.dispatched(
        factories.received(NOW - timedelta(hours=2), protector), NOW - timedelta(hours=1)
    )
    key = "resolution:2026-12-01T00:00:00+00:00:L3"
    case["escalation"] = {"fired": [key]}
    return case, f"notice:{case['_id']}:{key}"


async def test_only_an_admin_user_may_record_an_acknowledgement_on_the_case(
    intake_and_escalation: None,
    users: Users,  # noqa: F811
    store: Store,
    protector: IdentityProtector,
) -> None:
    case, notice = escalated(protector)
    await store.complaints.insert_one(case)
    tid = case["_id"]
    ack = {
        "tracking_id": tid,
        "notice_id": notice,
        "target": "ombudsman",
        "level": 3,
        "by": "ombudsman.sumsel",
        "at": NOW.isoformat(),
    }
    before = kept(await store.complaints.find_one({"_id": tid}))
    forged = await send(users, f"channel-{users.sms}", topology.COMMANDS,
                        "oversight.acknowledge", ack | {"message_id": "ack-forged"})  # fmt: skip

    async def refused() -> str | None:
        return await refused_as(store, forged)

    assert await eventually(refused) == "unauthorised"
    assert kept(await store.complaints.find_one({"_id": tid})) == before

    await send(users, users.admin, topology.COMMANDS, "oversight.acknowledge",
               ack | {"message_id": "ack-ok"})  # fmt: skip

    async def recorded() -> list[dict[str, Any]]:
        doc = await store.complaints.find_one({"_id": tid}, {"timeline": 1})
        timeline = (doc or {}).get("timeline", [])
        return [e for e in timeline if e.get("step") == "acknowledge_escalation"]

    [entry] = await eventually(recorded)
    assert (entry["by"], entry["notice_id"]) == ("ombudsman.sumsel", notice)
    assert await refused_as(store, "ack-ok") is None


def sms_report(channel: str, phone: str) -> Json:
    return {
        "channel": channel,
        "external_id": f"sms-{uuid.uuid4().hex[:10]}",
        "description": "Lampu jalan di Jl. Merdeka Palembang mati sejak seminggu, gelap sekali.",
        "reporter": {"name": "Rina Wulandari", "phone": phone},
        "location": {"region_code": "16.71"},
    }


async def _quarantine_of(store: Store, message_id: str) -> Json:
    async def found() -> Json | None:
        return await store.quarantine.find_one({"message_id": message_id})

    quarantined: Json = await eventually(found)
    return quarantined


async def test_an_sms_quarantined_report_is_resubmitted_by_an_admin_on_its_own_channel(
    intake_and_escalation: None,
    users: Users,  # noqa: F811
    store: Store,
) -> None:
    sms = users.sms
    broken = sms_report(sms, "12345")  # not a phone number: quarantined by field
    first = await send(users, f"channel-{sms}", topology.INTAKE, f"channel.{sms}", broken)
    quarantined = await _quarantine_of(store, first)
    assert quarantined["channel"] == sms and quarantined["reason"] != "unauthorised"
    quarantine_id = quarantined["_id"]
    corrected = broken | {"reporter": {"name": "Rina Wulandari", "phone": "081311112222"}}
    resubmit = f"resubmit:{quarantine_id}"

    # Another channel's user cannot use a quarantine ID to submit on the SMS channel.
    await send(users, f"channel-{users.tg}", topology.INTAKE, f"channel.{sms}",
               corrected | {"message_id": resubmit})  # fmt: skip
    # An admin cannot submit on a channel without naming a quarantine of that channel.
    stray = sms_report(sms, "081311119999")
    made_up = f"resubmit:q-{'0' * 32}"
    await send(users, users.admin, topology.INTAKE, f"channel.{sms}",
               stray | {"message_id": made_up})  # fmt: skip
    for refused_id in (resubmit, made_up):
        parked = await _quarantine_of(store, refused_id)
        assert parked["reason"] == "unauthorised", refused_id
    assert await store.complaints.count_documents({"external_id": broken["external_id"]}) == 0

    # The admin (the portal's user is one) resubmits it on its own channel's key.
    await send(users, users.admin, topology.INTAKE, f"channel.{sms}",
               corrected | {"message_id": resubmit}, headers={RESUBMITTED_BY: "siti"})  # fmt: skip

    async def taken_in() -> Json | None:
        return await store.complaints.find_one({"external_id": broken["external_id"]})

    case = await eventually(taken_in)
    assert case["channel"] == sms  # the reporter's replies keep going through SMS
    assert case["resubmitted"] == {
        "quarantine_id": quarantine_id,
        "by": users.admin,
        "admin": "siti",
    }
    receive = case["timeline"][0]
    assert receive["by"] == "siti" and quarantine_id in receive["note"]
    assert await store.complaints.count_documents({"external_id": stray["external_id"]}) == 0
    assert "Rina" not in json.dumps(case["resubmitted"])
