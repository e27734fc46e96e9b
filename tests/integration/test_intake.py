"""Intake against a real RabbitMQ and the MongoDB server: every report in, none lost."""

from __future__ import annotations

import hashlib
import json
import re
import signal
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aio_pika
import bson
import pytest

from services.intake import app as intake_app
from shared import topology
from shared.contract import ComplaintVerified, to_json_dict
from shared.lifecycle import Kind, Severity, Status
from shared.pii import IdentityProtector
from shared.settings import IntakeSettings
from shared.storage import Store
from shared.tracking import is_tracking_id
from tests import factories
from tests.conftest import make_settings, start_service, wait_exit
from tests.servers import Servers
from tests.support import Listener, eventually, publish, settled

pytestmark = pytest.mark.integration


def report(external_id: str | None = None, **fields: Any) -> dict[str, Any]:
    """A plausible report from a Telegram bot, a channel LAPOR has never heard of."""
    body: dict[str, Any] = {
        "channel": "telegram",
        "external_id": external_id or f"tg-{uuid.uuid4().hex[:12]}",
        "submitted_at": "2026-11-27T08:15:00+07:00",
        "title": "Jalan berlubang di Jl. Kolonel Atmo",
        "description": "Jalan berlubang besar di depan pasar, sudah dua minggu "
        "membahayakan pengendara motor.",
        "reporter": {"name": "Siti Aminah", "phone": "0812-7788-9900", "handle": "tg:5501234"},
        "location": {"address": "Jl. Kolonel Atmo, Palembang", "region_code": "16.71"},
        "category": "jalan",
        "telegram_chat_type": "private",
    }
    return body | fields


def verified_event(tracking_id: str) -> ComplaintVerified:
    """The event of a case verified by the automatic checks, as verification sends it."""
    return ComplaintVerified(
        message_id=f"verified:{tracking_id}",
        tracking_id=tracking_id,
        occurred_at=datetime.now(UTC),
        status=Status.VERIFIED,
        kind=Kind.PENGADUAN,
        severity=Severity.SEDANG,
        anonymous=False,
        confidential=False,
        by="system",
    )


@pytest.fixture
async def intake(settings: IntakeSettings, amqp: Any) -> AsyncIterator[None]:
    async with intake_app.create(settings):
        yield


async def test_a_channel_lapor_never_heard_of_is_taken_in_stored_and_acknowledged(
    amqp: aio_pika.abc.AbstractConnection, intake: None, store: Store, protector: IdentityProtector
) -> None:
    async with (
        Listener(amqp, topology.EVENTS, "complaint.received") as events,
        Listener(amqp, topology.OUTBOUND, "channel.telegram") as outbound,
    ):
        sent = report()
        await publish(amqp, "lapor.intake", "channel.telegram", sent, message_id="m-1")

        [received] = await events.wait_for(lambda b: len(b) >= 1)
        tracking_id = received["tracking_id"]
        assert is_tracking_id(tracking_id)
        assert received["status"] == "received"
        assert received["channel"] == "telegram"

        [notice] = await outbound.wait_for(lambda b: len(b) >= 1)
        assert notice["tracking_id"] == tracking_id
        assert tracking_id in notice["text"]
        assert notice["text"].startswith("Laporan Anda telah kami terima")
        assert notice["recipient"]["handle"] == "tg:5501234"
        assert notice["recipient"]["phone"] == "+6281277889900"
        assert notice["in_reply_to"] == sent["external_id"]

    case = await store.complaints.find_one({"_id": tracking_id})
    assert case is not None
    assert case["status"] == "received"
    assert case["description"].startswith("Jalan berlubang besar")
    assert case["deadlines"]["verification"] > case["received_at"]
    # Escalation is not told of a new case: its timer is stored with it, the admin's
    # reminder the working day before the verification deadline.
    assert case["escalation"]["live"]["kind"] == "verification"
    assert case["escalation"]["live"]["at"] == case["deadlines"]["verification"]
    assert case["received_at"] < case["escalation"]["next_at"] < case["deadlines"]["verification"]
    assert case["unknown_fields"] == ["telegram_chat_type"]
    await settled(store, tracking_id)
    raw = protector.open(case["raw_sealed"], tracking_id)
    assert json.loads(raw) == sent  # the raw message is kept with the case


async def test_the_receipt_goes_out_once_with_the_new_case_not_through_the_relay(
    amqp: aio_pika.abc.AbstractConnection, intake: None
) -> None:
    """Intake sends the receipt from the new case's own outbox; its status relay is not
    bound to ``complaint.received``, so the reporter is not told twice."""
    async with Listener(amqp, topology.OUTBOUND, "channel.telegram") as outbound:
        await publish(amqp, "lapor.intake", "channel.telegram", report("tg-once-1"))
        [receipt] = await outbound.wait_for(lambda b: len(b) >= 1)
        tracking_id = receipt["tracking_id"]
        # The barrier: an event through the relay's own queue, after the receipt's
        # event. One consumer takes that queue in order, so a receipt relayed from
        # ``complaint.received`` would reach the channel before this event's notice.
        verified = verified_event(tracking_id)
        body = to_json_dict(verified)
        await publish(amqp, topology.EVENTS, "complaint.verified", body, verified.message_id)
        notices = await outbound.wait_for(lambda b: "telah diverifikasi" in b[-1]["text"])
    relayed = f"notify:{verified.message_id}"
    assert [n["message_id"] for n in notices] == [receipt["message_id"], relayed]
    assert notices[0]["text"].startswith("Laporan Anda telah kami terima")


async def test_a_resend_returns_the_same_tracking_id_and_creates_nothing(
    amqp: aio_pika.abc.AbstractConnection, intake: None, store: Store
) -> None:
    sent = report("tg-resend-1")
    async with (
        Listener(amqp, topology.EVENTS, "complaint.received") as events,
        Listener(amqp, topology.OUTBOUND, "channel.telegram") as outbound,
    ):
        await publish(amqp, "lapor.intake", "channel.telegram", sent)
        [first] = await outbound.wait_for(lambda b: len(b) == 1)
        # The same report sent again later (a resend carries a new submission time).
        again = sent | {"submitted_at": "2026-11-27T08:25:00+07:00"}
        await publish(amqp, "lapor.intake", "channel.telegram", again)
        notices = await outbound.wait_for(lambda b: len(b) == 2)
        assert notices[1]["tracking_id"] == first["tracking_id"]
        assert notices[1]["message_id"] == first["message_id"]
        # The resend's notice came last in its handling: whatever it published is routed.
        assert len(await events.flush()) == 1
    assert await store.complaints.count_documents({}) == 1


BAD_INPUTS = [
    pytest.param(b"{not json", "bad_json", "(message)", id="bad-json"),
    pytest.param(b"[1, 2, 3]", "not_an_object", "(message)", id="not-an-object"),
    pytest.param(
        json.dumps(report(anonymous="maybe", attachments="none")).encode(),
        "invalid_fields",
        "anonymous",
        id="wrong-types",
    ),
    pytest.param(
        json.dumps({k: v for k, v in report().items() if k != "description"}).encode(),
        "invalid_fields",
        "description",
        id="missing-description",
    ),
    pytest.param(
        json.dumps(report(description="   ...  ")).encode(),
        "invalid_fields",
        "description",
        id="empty-description",
    ),
    pytest.param(
        json.dumps(report(description="x" * 5001)).encode(),
        "invalid_fields",
        "description",
        id="description-too-long",
    ),
    pytest.param(
        json.dumps(report(description="a" * 300_000)).encode(),
        "oversize",
        "(message)",
        id="oversize-message",
    ),
    pytest.param(
        json.dumps(report(kind="keluhan")).encode(), "invalid_fields", "kind", id="unknown-kind"
    ),
    pytest.param(
        json.dumps(report(channel="whatsapp")).encode(),
        "channel_mismatch",
        "channel",
        id="channel-mismatch",
    ),
    pytest.param(
        json.dumps(report(reporter={"phone": "12"})).encode(),
        "invalid_fields",
        "reporter.phone",
        id="bad-phone",
    ),
]


@pytest.mark.parametrize(("raw", "reason", "field"), BAD_INPUTS)
async def test_bad_input_is_quarantined_with_its_reason_never_dropped(
    amqp: aio_pika.abc.AbstractConnection,
    intake: None,
    store: Store,
    protector: IdentityProtector,
    raw: bytes,
    reason: str,
    field: str,
) -> None:
    async with Listener(amqp, topology.EVENTS, "intake.rejected") as rejected:
        await publish(amqp, "lapor.intake", "channel.telegram", raw)
        [announced] = await rejected.wait_for(lambda b: len(b) >= 1)
    assert announced["reason"] == reason
    assert field in [p["field"] for p in announced["problems"]]
    kept = await store.quarantine.find_one({"_id": announced["quarantine_id"]})
    assert kept is not None
    assert kept["reason"] == reason
    assert kept["routing_key"] == "channel.telegram"
    opened = protector.open(kept["raw_sealed"], kept["_id"])
    if reason == "oversize":  # too large to keep whole: its first bytes and its digest
        assert opened == raw[:4096] and kept["raw_sha256"] == hashlib.sha256(raw).hexdigest()
    else:
        assert opened == raw  # the raw bytes, kept
    assert await store.complaints.count_documents({}) == 0


async def test_a_reused_external_id_with_different_content_is_quarantined_as_a_conflict(
    amqp: aio_pika.abc.AbstractConnection, intake: None, store: Store
) -> None:
    sent = report("tg-conflict-1")
    async with (
        Listener(amqp, topology.OUTBOUND, "channel.telegram") as outbound,
        Listener(amqp, topology.EVENTS, "intake.rejected") as rejected,
    ):
        await publish(amqp, "lapor.intake", "channel.telegram", sent)
        [first] = await outbound.wait_for(lambda b: len(b) == 1)
        other = sent | {"description": "Lampu jalan di Jl. Sudirman mati sejak seminggu."}
        await publish(amqp, "lapor.intake", "channel.telegram", other)
        [announced] = await rejected.wait_for(lambda b: len(b) == 1)
    assert announced["reason"] == "external_id_conflict"
    assert announced["external_id"] == "tg-conflict-1"
    assert "external_id" in [p["field"] for p in announced["problems"]]
    stored = await store.complaints.find_one({"_id": first["tracking_id"]})
    assert stored is not None and stored["description"] == sent["description"]  # unchanged
    assert await store.complaints.count_documents({}) == 1


async def test_fields_a_channel_adds_are_kept_as_data_never_as_keys(
    amqp: aio_pika.abc.AbstractConnection, intake: None, store: Store
) -> None:
    extra = {"patokan": {"dekat": "pasar", "ref": 1}, "lantai": 2}
    sent = report(location={"region_code": "16.71", **extra})
    async with Listener(amqp, topology.OUTBOUND, "channel.telegram") as outbound:
        await publish(amqp, "lapor.intake", "channel.telegram", sent)
        [notice] = await outbound.wait_for(lambda b: len(b) == 1)
    stored = await store.complaints.find_one({"_id": notice["tracking_id"]})
    assert stored is not None
    assert set(stored["location"]) == {"region_code", "extra_json"}
    assert json.loads(stored["location"]["extra_json"]) == extra


async def test_a_poison_message_ends_in_the_dead_letter_queue_after_the_delivery_limit(
    amqp: aio_pika.abc.AbstractConnection, servers: Servers, db_name: str
) -> None:
    # The handler fails on every delivery, as a message that breaks a bug would.
    settings = make_settings(servers, db_name, failpoints="intake.before_store=raise")
    async with intake_app.create(settings):
        await publish(amqp, "lapor.intake", "channel.telegram", report("poison-1"), "poison-1")
        channel = await amqp.channel()
        dead_letters = await channel.get_queue(topology.DEAD_LETTERS)

        async def dead_letter() -> aio_pika.abc.AbstractIncomingMessage | None:
            return await dead_letters.get(no_ack=True, fail=False)

        message = await eventually(dead_letter, timeout=30)
    assert json.loads(message.body)["external_id"] == "poison-1"
    assert message.routing_key == "channel.telegram"  # original key kept
    death = message.headers["x-death"][0]  # type: ignore[index]
    assert death["queue"] == "intake.reports"
    assert death["reason"] == "delivery_limit"
    queue = await channel.get_queue("intake.reports")
    assert queue.declaration_result.message_count == 0
    await channel.close()


async def test_an_anonymous_report_is_stored_with_no_readable_identity(
    amqp: aio_pika.abc.AbstractConnection, intake: None, store: Store, protector: IdentityProtector
) -> None:
    identity = {
        "name": "Budi Santoso",
        "phone": "+62 813-6000-1234",
        "email": "budi.santoso@example.id",
        "handle": "tg:987654321",
    }
    async with Listener(amqp, topology.EVENTS, "complaint.received") as events:
        await publish(
            amqp,
            "lapor.intake",
            "channel.telegram",
            # A fixed external ID: a random hex one could hold "1234".
            report("tg-anonim-1", anonymous=True, confidential=True, reporter=identity),
        )
        [received] = await events.wait_for(lambda b: len(b) >= 1)
    tracking_id = received["tracking_id"]
    assert received["anonymous"] is True

    # The case as it rests, its event gone from the outbox (the event's timestamps, with
    # their microseconds, are not what this test is about).
    raw_document = await eventually(
        lambda: store.complaints.find_one({"_id": tracking_id, "outbox": {"$size": 0}})
    )
    # Keyed hashes in hex: they may hold "1234" by chance, so they are checked for their
    # shape (a hash, not a contact) and the rest of the document for the secrets.
    fingerprints = raw_document["reporter"].pop("fingerprints")
    assert fingerprints and all(re.fullmatch(r"[0-9a-f]{64}", f) for f in fingerprints)
    stored = bson.encode(raw_document)
    for secret in [
        "Budi",
        "Santoso",
        "budi.santoso",
        "6000",
        "1234",
        "987654321",
        "+6281360001234",
    ]:
        assert secret.encode() not in stored, secret
    # Sealed, not lost: the reply path can still reach the reporter.
    opened = protector.open_json(raw_document["reporter"]["sealed"], tracking_id)
    assert opened["phone"] == "+6281360001234"
    assert opened["handle"] == "tg:987654321"
    assert protector.fingerprint("phone", "+6281360001234") in fingerprints


async def test_two_replicas_store_a_thousand_distinct_reports_exactly_once(
    amqp: aio_pika.abc.AbstractConnection, settings: IntakeSettings, store: Store
) -> None:
    total = 1000
    async with Listener(amqp, topology.EVENTS, "complaint.received") as events:
        async with intake_app.create(settings), intake_app.create(settings):
            channel = await amqp.channel(publisher_confirms=True)
            exchange = await channel.get_exchange(topology.INTAKE)
            for n in range(total):
                body = json.dumps(report(f"bulk-{n:04d}", description=f"Laporan {n}")).encode()
                await exchange.publish(
                    aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                    routing_key="channel.telegram",
                )
            await channel.close()
            await events.wait_for(lambda b: len(b) >= total, timeout=240)
        # Both replicas stopped (the message in hand finished): nothing more can be sent.
        bodies = await events.flush()
    assert len(bodies) == total
    assert len({b["tracking_id"] for b in bodies}) == total
    assert await store.complaints.count_documents({}) == total
    external_ids = await store.complaints.distinct("external_id")
    assert sorted(external_ids) == [f"bulk-{n:04d}" for n in range(total)]


@pytest.mark.slow
async def test_a_crash_between_store_and_publish_loses_no_event(
    amqp: aio_pika.abc.AbstractConnection, settings: IntakeSettings, store: Store
) -> None:
    async with Listener(amqp, topology.EVENTS, "complaint.received") as events:
        crashing = start_service("intake", settings, LAPOR_FAILPOINTS="intake.after_store=exit")
        await publish(amqp, "lapor.intake", "channel.telegram", report("crash-1"), "crash-1")
        assert await wait_exit(crashing) == 137  # died right after storing

        stored = await store.complaints.find_one({"external_id": "crash-1"})
        assert stored is not None, "the report was stored before the crash"
        assert [m["routing_key"] for m in stored["outbox"]] == [
            "complaint.received",
            "channel.telegram",
        ], "its event and the reporter's receipt are pending in the outbox"
        assert events.bodies() == [], "and was not published"

        restarted = start_service("intake", settings)
        try:
            await events.wait_for(lambda b: len(b) >= 1, timeout=60)
            # A report sent after the redelivered one is handled after it (one consumer,
            # in order): once its event is out, the redelivered report has been handled.
            await publish(amqp, "lapor.intake", "channel.telegram", report("crash-2"), "crash-2")
            await events.wait_for(lambda b: len(b) >= 2, timeout=60)
            bodies = await events.flush()
            sentinel = await store.complaints.find_one({"external_id": "crash-2"}, {"_id": 1})
            assert sentinel is not None
            bodies = [b for b in bodies if b["tracking_id"] != sentinel["_id"]]
        finally:
            restarted.send_signal(signal.SIGTERM)
            assert await wait_exit(restarted) == 0
    assert [b["tracking_id"] for b in bodies] == [stored["_id"]]
    assert len({b["message_id"] for b in bodies}) == 1
    after = await store.complaints.find_one({"_id": stored["_id"]})
    assert after is not None and after.get("outbox", []) == []
    assert await store.complaints.count_documents({}) == 2  # the crashed one and the sentinel


@pytest.mark.slow
async def test_sigterm_finishes_the_message_in_hand_then_exits(
    amqp: aio_pika.abc.AbstractConnection, settings: IntakeSettings, store: Store
) -> None:
    async with Listener(amqp, topology.EVENTS, "complaint.received") as events:
        service = start_service("intake", settings, LAPOR_FAILPOINTS="intake.after_store=pause")
        await publish(amqp, "lapor.intake", "channel.telegram", report("term-1"))
        await eventually(lambda: store.complaints.find_one({"external_id": "term-1"}), 60)
        service.send_signal(signal.SIGTERM)  # while the report is in hand (paused)
        assert await wait_exit(service) == 0
        stderr = service.stderr.read().decode() if service.stderr else ""
        # Confirmed to the service before it exited, but its delivery to this listener may
        # lag; no other process runs that could publish it later.
        try:
            await events.wait_for(lambda b: len(b) >= 1, timeout=5)
        except AssertionError:
            pytest.fail(f"no event published before exit; stderr: {stderr[-2000:]}")
    channel = await amqp.channel()
    queue = await channel.declare_queue(
        "intake.reports",
        durable=True,
        passive=True,
    )
    assert queue.declaration_result.message_count == 0  # acked, not left for redelivery
    await channel.close()


async def test_every_notice_carries_the_link_to_the_public_tracking_page(
    amqp: aio_pika.abc.AbstractConnection, settings: IntakeSettings
) -> None:
    with_portal = settings.model_copy(
        update={"portal_public_url": "https://lapor.sumselprov.go.id/"}
    )
    async with (
        intake_app.create(with_portal),
        Listener(amqp, topology.OUTBOUND, "channel.telegram") as outbound,
    ):
        await publish(amqp, "lapor.intake", "channel.telegram", report(), message_id="m-link")
        [notice] = await outbound.wait_for(lambda b: len(b) >= 1)
    link = f"https://lapor.sumselprov.go.id/lacak/{notice['tracking_id']}"
    assert notice["tracking_url"] == link
    assert notice["text"].endswith(f"Pantau laporan Anda: {link}")


async def test_a_reporter_over_the_rate_limit_is_parked_in_quarantine_not_dropped(
    amqp: aio_pika.abc.AbstractConnection, servers: Servers, db_name: str, store: Store
) -> None:
    limited = make_settings(servers, db_name, rate_limit_per_reporter_hour=2)
    async with (
        intake_app.create(limited),
        Listener(amqp, topology.EVENTS, "intake.rejected") as rejected,
        Listener(amqp, topology.OUTBOUND, "channel.telegram") as outbound,
    ):
        for n in range(3):
            text = f"Laporan ke-{n + 1}: lampu jalan di gang {n + 1} mati sejak kemarin malam."
            await publish(amqp, "lapor.intake", "channel.telegram", report(description=text))
        [parked] = await rejected.wait_for(lambda b: len(b) == 1)
        await outbound.wait_for(lambda b: len(b) == 2)
    assert parked["reason"] == "rate_limited"
    assert await store.complaints.count_documents({}) == 2
    kept = await store.quarantine.find_one({"_id": parked["quarantine_id"]})
    assert kept is not None and kept["reason"] == "rate_limited"  # kept, sealed, never lost


async def test_a_case_another_replica_took_in_gets_its_notice_from_the_store(
    amqp: aio_pika.abc.AbstractConnection,
    intake: None,
    store: Store,
    protector: IdentityProtector,
) -> None:
    # This intake keeps the reply addresses of the cases it stored; one it never saw is
    # read from the store (the status relay's queue is shared by every replica).
    case = factories.received(
        datetime.now(UTC),
        protector,
        reporter={"name": "Rina", "phone": "+6281311112222"},
    )
    await store.complaints.insert_one(case)
    verified = verified_event(case["_id"])
    async with Listener(amqp, topology.OUTBOUND, "channel.whatsapp") as outbound:
        body = to_json_dict(verified)
        await publish(amqp, topology.EVENTS, "complaint.verified", body, verified.message_id)
        [notice] = await outbound.wait_for(lambda b: len(b) >= 1)
    assert notice["tracking_id"] == case["_id"]
    assert notice["in_reply_to"] == case["external_id"]
    assert notice["recipient"]["phone"] == "+6281311112222"
    assert "telah diverifikasi" in notice["text"]


async def test_a_resend_never_counts_against_a_rate_limit(
    amqp: aio_pika.abc.AbstractConnection, servers: Servers, db_name: str, store: Store
) -> None:
    """A channel resending the same report (same id, same content) gets its tracking ID
    again, however full the windows are, and leaves room for the reporter's next report."""
    limited = make_settings(
        servers, db_name, rate_limit_per_reporter_hour=2, rate_limit_per_channel_minute=2
    )
    first = report(description="Laporan pertama: lampu jalan di gang satu mati sejak kemarin.")
    second = report(description="Laporan kedua: saluran air di gang dua tersumbat sampah.")
    third = report(description="Laporan ketiga: trotoar di gang tiga rusak dan berlubang.")
    async with (
        intake_app.create(limited),
        Listener(amqp, topology.EVENTS, "intake.rejected") as rejected,
        Listener(amqp, topology.OUTBOUND, "channel.telegram") as outbound,
    ):
        # One at a time, so that the order is the one written here.
        for n, body in enumerate([first, first, first, second, first], start=1):
            await publish(amqp, "lapor.intake", "channel.telegram", body)
            await outbound.wait_for(lambda b, n=n: len(b) == n)
        assert await store.complaints.count_documents({}) == 2  # the resends made nothing
        await publish(amqp, "lapor.intake", "channel.telegram", third)
        [parked] = await rejected.wait_for(lambda b: len(b) == 1)
    assert (parked["reason"], parked["external_id"]) == ("rate_limited", third["external_id"])
    tracking_ids = {b["tracking_id"] for b in outbound.bodies()}
    assert len(tracking_ids) == 2
    assert await store.quarantine.count_documents({}) == 1
