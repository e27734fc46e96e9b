"""Identity fails closed through the running services (issue 10): a case whose identity
does not open is never dispatched, and after a full pipeline run no plaintext name or
contact of a named (not *anonim*) reporter is readable in any stored document or dead
letter — pending outbox bodies included, which are sealed, and a refused reporter.reply,
which is dead-lettered sealed."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aio_pika.abc import AbstractConnection

from services.intake import app as intake_app
from services.routing import app as routing_app
from services.routing.registry import read_registry, sample_registry_path, save_registry
from services.verification import app as verification_app
from shared import topology
from shared.contract import ComplaintVerified
from shared.lifecycle import Kind, Severity, Status
from shared.pii import IdentityProtector
from shared.settings import IntakeSettings
from shared.storage import Store
from tests import factories
from tests.support import Json, eventually, plaintext_identity, publish

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
NAME, PHONE = "Siti Aminah Wulandari", "+6281277889900"
AGENCIES = [a.code for a in read_registry(sample_registry_path()).agencies]


@pytest.fixture
async def services(
    settings: IntakeSettings, amqp: AbstractConnection, store: Store
) -> AsyncIterator[None]:
    await save_registry(store, read_registry(sample_registry_path()), NOW)
    async with (
        intake_app.create(settings),
        verification_app.create(settings),
        routing_app.create(settings),
    ):
        channel = await amqp.channel()
        for code in AGENCIES:  # routing declared them at start
            await (await channel.get_queue(f"opd.{code}")).purge()
        await channel.close()
        yield


async def waiting_on_agencies(amqp: AbstractConnection) -> int:
    channel = await amqp.channel()
    total = 0
    for code in AGENCIES:
        queue = await channel.declare_queue(f"opd.{code}", passive=True)
        total += int(queue.declaration_result.message_count or 0)
    await channel.close()
    return total


async def dead_letter_ids(amqp: AbstractConnection) -> set[str]:
    """The message IDs in ``lapor.dead-letters`` (left in place)."""
    channel = await amqp.channel()
    queue = await channel.get_queue(topology.DEAD_LETTERS)
    found: set[str] = set()
    while (message := await queue.get(no_ack=False, fail=False)) is not None:
        found.add(str(message.message_id))
    await channel.close()  # every one goes back
    return found


async def test_a_case_whose_identity_does_not_open_is_not_dispatched(
    services: None, store: Store, amqp: AbstractConnection
) -> None:
    elsewhere = IdentityProtector(os.urandom(32))  # not the services' key
    case = factories.received(NOW - timedelta(hours=1), elsewhere, channel="whatsapp")
    case |= {"status": "verified", "category": "jalan", "severity": "sedang"}
    await store.complaints.insert_one(case)
    event = ComplaintVerified(
        message_id=f"verified:{case['_id']}",
        tracking_id=case["_id"],
        occurred_at=NOW,
        status=Status.VERIFIED,
        kind=Kind.PENGADUAN,
        category="jalan",
        severity=Severity.SEDANG,
        anonymous=False,
        confidential=False,
        by="system",
    )
    body = event.model_dump_json(exclude_none=True).encode()
    await publish(amqp, topology.EVENTS, "complaint.verified", body, event.message_id)

    async def with_the_admin() -> Json | None:
        stored = await store.complaints.find_one({"_id": case["_id"]})
        ready = stored and stored["status"] == "awaiting_routing" and not stored.get("outbox")
        return stored if ready else None

    stored = await eventually(with_the_admin)
    assert "identitas pelapor tidak dapat dibuka" in stored["timeline"][-1]["note"]
    assert "agency" not in stored
    # The change and its messages were one update, now published: no Disposition was among
    # them, so no agency queue holds one.
    assert await waiting_on_agencies(amqp) == 0


async def test_no_plaintext_identity_anywhere_after_a_full_pipeline_run(
    services: None, store: Store, amqp: AbstractConnection, settings: IntakeSettings
) -> None:
    reports = [
        {
            "channel": "whatsapp",
            "external_id": f"wa-{uuid.uuid4().hex[:10]}",
            "description": text,
            "reporter": {"name": NAME, "phone": PHONE},
            "location": {"region_code": "16.71"},
            "category": "jalan",
        }
        # Three different matters (similar ones would be linked as duplicates). What a
        # reporter types in the text is kept as written (masked only in what agencies read).
        for text in (
            "Jalan berlubang besar di Jl. Mayor Zen dekat simpang, membahayakan motor.",
            "Lampu penerangan jalan di Jl. Sudirman mati total sejak dua minggu.",
            "Saluran air di Jl. Veteran tersumbat sampah, banjir tiap hujan.",
        )
    ]
    # One that cannot be taken in: quarantined, its raw body sealed.
    reports.append({"channel": "whatsapp", "reporter": {"name": NAME, "phone": PHONE}})
    for body in reports:
        await publish(amqp, topology.INTAKE, "channel.whatsapp", body)

    seen: list[object] = []

    async def settled() -> bool:
        cases = [c async for c in store.complaints.find({})]
        seen[:] = [(c["status"], bool(c.get("outbox"))) for c in cases]
        held = [c for c in cases if c["status"] == "needs_review"]
        for c in held:  # the admin verifies what verification held for a person
            decide = {
                "message_id": f"decide-{c['_id']}",
                "tracking_id": c["_id"],
                "decision": "verify",
                "admin": "admin.pusat",
                "category": "jalan",
                "flags_confirmed": True,
            }
            await publish(amqp, topology.COMMANDS, "verification.decide", decide)
        done = {"dispatched", "awaiting_routing"}
        quarantined = await store.quarantine.count_documents({})
        return (
            len(cases) == 3
            and quarantined == 1
            and all(c["status"] in done and not c.get("outbox") for c in cases)
        )

    try:
        await eventually(settled, timeout=30, interval=1.0)
    except AssertionError:
        raise AssertionError(f"the cases did not settle: {seen}") from None
    assert await waiting_on_agencies(amqp) >= 1  # the agencies got their Dispositions

    # A reporter.reply that is refused (no such case) is dead-lettered sealed.
    refused_reply = {
        "message_id": f"reply-{uuid.uuid4().hex[:8]}",
        "tracking_id": "ZZZZ-ZZZZ-ZZZZ",
        "channel": "whatsapp",
        "reporter": {"name": NAME, "phone": PHONE, "email": "siti.wulandari@contoh.id"},
        "action": "add_information",
        "message": "Masih rusak.",
    }
    await publish(
        amqp, topology.COMMANDS, "reporter.reply", refused_reply, refused_reply["message_id"]
    )

    async def reply_dead() -> bool:
        refusal = await store.db["refusals"].find_one({"message_id": refused_reply["message_id"]})
        return refusal is not None and await dead_letter_ids(amqp) >= {refused_reply["message_id"]}

    await eventually(reply_dead)
    needles = [NAME, PHONE, "6281277889900", "siti.wulandari@contoh.id"]
    hits = await plaintext_identity(store.db, needles, amqp)
    assert hits == [], hits


@pytest.mark.unit
def test_a_pending_outbox_body_is_sealed_at_rest_and_opens_for_the_relay() -> None:
    from shared.outbox import OutboxMessage

    protector = IdentityProtector(os.urandom(32))
    message = OutboxMessage("lapor.opd", "opd.x", "m-1", {"reporter_name": NAME})
    stored = message.to_document(protector)
    assert NAME.encode() not in stored["body_sealed"] and "body" not in stored
    assert OutboxMessage.from_document(stored, protector) == message
    assert message.to_document()["body"] == {"reporter_name": NAME}  # no key: as it is
