"""Verification against a real RabbitMQ and the MongoDB server, fed by the real intake.

Reports go in on ``lapor.intake`` as a channel sends them; admin decisions go in on
``lapor.commands`` ``verification.decide`` as a console sends them (plain aio-pika); the
tests watch the events, the admin's queue, the dead letters and the stored case.
"""

from __future__ import annotations

import json
import random
import signal
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import aio_pika
import pytest

from services.intake import app as intake_app
from services.verification import app as verification_app
from services.verification.checks import dedup_keys, jaccard, key_version, text_terms
from services.verification.policy import VerificationPolicy
from services.verification.settings import VerificationSettings
from shared import topology
from shared.contract import to_json_dict
from shared.pii import IdentityProtector
from shared.settings import IntakeSettings
from shared.storage import Store
from shared.tracking import new_tracking_id
from tests import factories
from tests.conftest import start_service, wait_exit
from tests.support import Listener, eventually, publish, settled

pytestmark = pytest.mark.integration

Json = dict[str, Any]

ROAD = (
    "Jalan di Jl. Demang Lebar Daun dekat simpang Polda, Kecamatan Ilir Barat I, Palembang "
    "rusak parah dan berlubang sedalam 30 cm. Sudah tiga bulan tidak diperbaiki dan sudah ada "
    "pengendara motor yang jatuh."
)
UNCLEAR = "Pelayanan publik buruk sekali, tolong diperbaiki semuanya ya pak secepatnya."
SHOPEE = (
    "Paket yang saya pesan di Shopee tidak sampai sudah dua minggu, penjual tidak membalas "
    "chat dan uang saya belum dikembalikan."
)
POTHOLE = (
    "Jalan berlubang besar di depan Pasar Kuto, Jl. Mayor Ruslan, Palembang. Lubangnya sudah "
    "sebulan tidak ditambal dan sering membuat pengendara motor terjatuh."
)
POTHOLE_AGAIN = (
    "Jalan berlubang besar di depan Pasar Kuto Jl. Mayor Ruslan Palembang, lubangnya sudah "
    "sebulan tidak ditambal sehingga sering membuat pengendara motor terjatuh!"
)


def report(description: str, external_id: str | None = None, **fields: Any) -> Json:
    """A report from the WhatsApp channel adapter."""
    body: Json = {
        "channel": "whatsapp",
        "external_id": external_id or f"wa-{uuid.uuid4().hex[:12]}",
        "description": description,
        "reporter": {"name": "Siti Aminah", "handle": f"wa:{uuid.uuid4().hex[:10]}"},
    }
    return body | fields


def verification_settings(settings: IntakeSettings, **policy: Any) -> VerificationSettings:
    """Verification on the same servers and database as the test's intake."""
    return VerificationSettings(
        **(settings.model_dump() | {"verification": VerificationPolicy(**policy)})
    )


@pytest.fixture
async def services(settings: IntakeSettings, amqp: Any, store: Store) -> AsyncIterator[None]:
    # Depends on ``store`` so that the services stop before the test's database is dropped.
    async with (
        intake_app.create(settings),
        verification_app.create(verification_settings(settings)),
    ):
        yield


@pytest.fixture
async def events(amqp: aio_pika.abc.AbstractConnection) -> AsyncIterator[Listener]:
    async with Listener(amqp, topology.EVENTS, "complaint.#") as listener:
        yield listener


def of(bodies: list[Json], event: str, tracking_id: str | None = None) -> list[Json]:
    return [
        b
        for b in bodies
        if b.get("event") == event and (tracking_id is None or b["tracking_id"] == tracking_id)
    ]


async def submit(amqp: aio_pika.abc.AbstractConnection, store: Store, body: Json) -> str:
    """Send a report through intake; its tracking ID once it is stored."""
    await publish(amqp, topology.INTAKE, f"channel.{body['channel']}", body)
    case = await eventually(
        lambda: store.complaints.find_one({"external_id": body["external_id"]}, {"_id": 1})
    )
    return str(case["_id"])


async def outcome(events: Listener, tracking_id: str, event: str) -> Json:
    """Wait for ``complaint.<event>`` of one case."""
    bodies = await events.wait_for(lambda b: bool(of(b, event, tracking_id)))
    return of(bodies, event, tracking_id)[0]


async def decide(amqp: aio_pika.abc.AbstractConnection, message_id: str, **fields: Any) -> None:
    """Publish an admin's ``verification.decide`` as a console does."""
    body = {"message_id": message_id, "admin": "admin.sumsel"} | fields
    await publish(amqp, topology.COMMANDS, "verification.decide", body, message_id=message_id)


async def take(
    amqp: aio_pika.abc.AbstractConnection, queue_name: str, timeout: float = 15.0
) -> aio_pika.abc.AbstractIncomingMessage:
    """The next message on a queue people read (the admin's desk, the dead letters)."""
    channel = await amqp.channel()
    try:
        queue = await channel.get_queue(queue_name)

        async def one() -> aio_pika.abc.AbstractIncomingMessage | None:
            return await queue.get(no_ack=True, fail=False)

        message: aio_pika.abc.AbstractIncomingMessage = await eventually(one, timeout)
        return message
    finally:
        await channel.close()


async def queue_depth(amqp: aio_pika.abc.AbstractConnection, queue_name: str) -> int:
    channel = await amqp.channel()
    try:
        queue = await channel.declare_queue(queue_name, durable=True, passive=True)
        return int(queue.declaration_result.message_count or 0)
    finally:
        await channel.close()


async def _is_zero(depth: Awaitable[int]) -> bool:
    return await depth == 0


async def handled_after(
    amqp: aio_pika.abc.AbstractConnection, routing_key: str = "complaint.information_added"
) -> None:
    """A barrier: everything verification took from the queue ``routing_key`` feeds is handled.

    A message about a case that does not exist, sent after the thing under test, is handled
    after it (one consumer, in order) and dead-lettered; once it is there, the earlier
    message has been handled too.
    """
    marker = f"barrier-{uuid.uuid4().hex[:8]}"
    tid = new_tracking_id()
    if routing_key == "verification.decide":
        await decide(amqp, marker, tracking_id=tid, decision="defer", question="?")
    else:
        body = {
            "message_id": marker, "event": "information_added", "tracking_id": tid,
            "occurred_at": datetime.now(UTC).isoformat(), "status": "received",
        }  # fmt: skip
        await publish(amqp, topology.EVENTS, routing_key, body, marker)
    queue = (
        topology.VERIFICATION_DECISIONS
        if routing_key == "verification.decide"
        else topology.VERIFICATION_RECEIVED
    )
    while True:  # other services may refuse their own copy of the marker too
        dead = await take(amqp, topology.DEAD_LETTERS, timeout=60)
        assert json.loads(dead.body)["message_id"] == marker, "an unexpected dead letter"
        if cast(list[Json], dead.headers["x-death"])[0]["queue"] == queue.name:
            return


async def held_for_review(
    amqp: aio_pika.abc.AbstractConnection,
    store: Store,
    events: Listener,
    description: str = UNCLEAR,
) -> str:
    """A case submitted and waiting on the admin's desk (its needs_review taken off it)."""
    tracking_id = await submit(amqp, store, report(description))
    await outcome(events, tracking_id, "needs_review")
    message = await take(amqp, topology.ADMIN_REVIEW.name)
    assert json.loads(message.body)["tracking_id"] == tracking_id
    return tracking_id


# --- automatic checks ---------------------------------------------------------------------


async def test_a_clear_complaint_is_verified_automatically_and_the_reporter_told(
    amqp: aio_pika.abc.AbstractConnection, services: None, events: Listener, store: Store
) -> None:
    async with Listener(amqp, topology.OUTBOUND, "channel.whatsapp") as outbound:
        tracking_id = await submit(amqp, store, report(ROAD, agency="pupr-palembang"))
        verified = await outcome(events, tracking_id, "verified")
        notices = await outbound.wait_for(lambda b: any(n["event"] == "verified" for n in b))
    assert verified["message_id"] == f"verified:{tracking_id}"
    assert verified["by"] == "system"
    assert verified["status"] == "verified"
    assert verified["category"] == "jalan"
    assert verified["severity"] == "sedang"
    assert verified["agency_hint"] == "pupr-palembang"
    assert verified["confidential"] is False
    assert "telah diverifikasi" in next(n for n in notices if n["event"] == "verified")["text"]

    case = await store.complaints.find_one({"_id": tracking_id})
    assert case is not None
    assert case["status"] == "verified"
    assert (case["category"], case["severity"]) == ("jalan", "sedang")
    assert case["verified_at"] is not None
    assert [e["step"] for e in case["timeline"]] == ["receive", "auto_verify"]
    await settled(store, tracking_id)


async def test_a_clear_rahasia_report_is_held_for_the_admin_saying_why(
    amqp: aio_pika.abc.AbstractConnection, services: None, events: Listener, store: Store
) -> None:
    tracking_id = await submit(
        amqp, store, report(ROAD, agency="pupr-palembang", confidential=True)
    )
    message = await take(amqp, topology.ADMIN_REVIEW.name)
    held = json.loads(message.body)
    assert (held["event"], held["tracking_id"]) == ("needs_review", tracking_id)
    assert {f["code"] for f in held["findings"]} == {"confidential"}
    case = await store.complaints.find_one({"_id": tracking_id})
    assert case is not None and case["status"] == "needs_review"


async def test_an_unclear_report_waits_on_the_admin_review_queue(
    amqp: aio_pika.abc.AbstractConnection, services: None, events: Listener, store: Store
) -> None:
    tracking_id = await submit(amqp, store, report(UNCLEAR))
    message = await take(amqp, topology.ADMIN_REVIEW.name)
    held = json.loads(message.body)
    assert message.routing_key == "complaint.needs_review"
    assert held["tracking_id"] == tracking_id
    assert held["message_id"] == f"needs_review:{tracking_id}"
    assert {f["code"] for f in held["findings"]} == {"too_general", "no_category"}
    case = await store.complaints.find_one({"_id": tracking_id})
    assert case is not None
    assert case["status"] == "needs_review"
    deadline = datetime.fromisoformat(held["review_deadline"])
    assert deadline == case["deadlines"]["verification"]
    assert {c["code"] for c in case["checks"]} == {"too_general", "no_category"}


async def test_a_private_company_complaint_is_archived_and_the_reporter_told_why(
    amqp: aio_pika.abc.AbstractConnection, services: None, events: Listener, store: Store
) -> None:
    async with Listener(amqp, topology.OUTBOUND, "channel.whatsapp") as outbound:
        tracking_id = await submit(amqp, store, report(SHOPEE))
        archived = await outcome(events, tracking_id, "archived")
        notices = await outbound.wait_for(lambda b: any(n["event"] == "archived" for n in b))
    assert archived["reason"] == "private_sector"
    assert "Shopee" in archived["reporter_message"]
    notice = next(n for n in notices if n["event"] == "archived")["text"]
    assert "perusahaan swasta" in notice and "Shopee" in notice
    case = await store.complaints.find_one({"_id": tracking_id})
    assert case is not None
    assert (case["status"], case["archive_reason"]) == ("archived", "private_sector")


async def test_a_duplicate_is_archived_and_linked_to_its_original_on_both_cases(
    amqp: aio_pika.abc.AbstractConnection, services: None, events: Listener, store: Store
) -> None:
    original = await submit(amqp, store, report(POTHOLE))
    await outcome(events, original, "verified")
    duplicate = await submit(amqp, store, report(POTHOLE_AGAIN))  # another reporter
    archived = await outcome(events, duplicate, "archived")
    assert archived["reason"] == "duplicate"
    assert archived["duplicate_of"] == original
    assert original not in archived["reporter_message"]

    dup_case = await store.complaints.find_one({"_id": duplicate})
    orig_case = await store.complaints.find_one({"_id": original})
    assert dup_case is not None and orig_case is not None
    assert dup_case["duplicate_of"] == original
    assert dup_case["timeline"][-1]["duplicate_of"] == original
    assert orig_case["status"] == "verified"  # the original goes on
    assert orig_case["duplicates"] == [duplicate]
    link = orig_case["timeline"][-1]
    assert (link["step"], link["duplicate"]) == ("link_duplicate", duplicate)


async def test_open_cases_keyed_by_an_earlier_release_are_rekeyed_when_verification_starts(
    amqp: aio_pika.abc.AbstractConnection, settings: IntakeSettings, events: Listener, store: Store
) -> None:
    similarity = VerificationPolicy().duplicate_similarity
    async with (
        intake_app.create(settings),
        verification_app.create(verification_settings(settings)),
    ):
        original = await submit(amqp, store, report(POTHOLE))
        await outcome(events, original, "verified")
        closed = await submit(amqp, store, report(SHOPEE))
        await outcome(events, closed, "archived")
    # As an earlier release stored them: keys made another way, no version.
    for tracking_id in (original, closed):
        await store.complaints.update_one(
            {"_id": tracking_id},
            {"$set": {"dedup_keys": ["kunci lama"]}, "$unset": {"dedup_version": ""}},
        )
    async with (
        intake_app.create(settings),
        verification_app.create(verification_settings(settings)),
    ):
        rekeyed = await eventually(
            lambda: store.complaints.find_one(
                {"_id": original, "dedup_version": key_version(similarity)}
            )
        )
        assert rekeyed["dedup_keys"] == dedup_keys(rekeyed["text_terms"], similarity)
        # so a near-identical report finds it again
        duplicate = await submit(amqp, store, report(POTHOLE_AGAIN))
        archived = await outcome(events, duplicate, "archived")
    assert (archived["reason"], archived["duplicate_of"]) == ("duplicate", original)
    untouched = await store.complaints.find_one({"_id": closed})
    assert untouched is not None  # an archived case is no candidate: left as it was
    assert untouched["dedup_keys"] == ["kunci lama"] and "dedup_version" not in untouched


async def test_the_same_reporter_rewording_an_open_case_is_a_duplicate(
    amqp: aio_pika.abc.AbstractConnection, services: None, events: Listener, store: Store
) -> None:
    reporter = {"name": "Budi", "phone": "0813-6000-1234"}
    first = "Jalan berlubang di Jl. Mayor Ruslan depan Pasar Kuto, pengendara sering terjatuh."
    reworded = (
        "Lubang jalan di Jl. Mayor Ruslan depan Pasar Kuto belum ditambal, sudah dua "
        "pengendara terjatuh minggu ini."
    )
    original = await submit(amqp, store, report(first, reporter=reporter))
    await outcome(events, original, "verified")
    again = await submit(amqp, store, report(reworded, channel="whatsapp", reporter=reporter))
    archived = await outcome(events, again, "archived")
    assert (archived["reason"], archived["duplicate_of"]) == ("duplicate", original)


# --- admin decisions ----------------------------------------------------------------------


async def test_the_admin_verifies_with_confirmed_flags_and_chosen_fields(
    amqp: aio_pika.abc.AbstractConnection, services: None, events: Listener, store: Store
) -> None:
    tracking_id = await held_for_review(amqp, store, events)
    await decide(
        amqp,
        "console-1",
        tracking_id=tracking_id,
        decision="verify",
        kind="pengaduan",
        category="Kependudukan",
        severity="berat",
        agency="disdukcapil-palembang",
        anonymous=True,
        confidential=True,
        flags_confirmed=True,
        note="dicek dengan pelapor lewat telepon",
    )
    verified = await outcome(events, tracking_id, "verified")
    assert verified["by"] == "admin"
    assert verified["category"] == "kependudukan"
    assert verified["severity"] == "berat"
    assert verified["agency_hint"] == "disdukcapil-palembang"
    assert (verified["anonymous"], verified["confidential"]) == (True, True)
    case = await store.complaints.find_one({"_id": tracking_id})
    assert case is not None
    assert case["status"] == "verified"
    assert (case["category"], case["severity"], case["anonymous"]) == (
        "kependudukan",
        "berat",
        True,
    )
    entry = case["timeline"][-1]
    assert (entry["step"], entry["actor"], entry["by"]) == ("verify", "admin", "admin.sumsel")
    assert case["applied"] == ["console-1"]


REFUSED = [
    pytest.param({"decision": "verify"}, id="verify-without-flags-confirmed"),
    pytest.param({"decision": "archive"}, id="archive-without-reason"),
    pytest.param({"decision": "defer"}, id="defer-without-question"),
    pytest.param({"decision": "not_our_authority"}, id="refer-without-reason"),
    pytest.param({"decision": "approve", "flags_confirmed": True}, id="unknown-decision"),
]


@pytest.mark.parametrize("fields", REFUSED)
async def test_an_incomplete_decision_is_refused_into_the_dead_letters(
    amqp: aio_pika.abc.AbstractConnection,
    services: None,
    events: Listener,
    store: Store,
    fields: Json,
) -> None:
    tracking_id = await held_for_review(amqp, store, events)
    await decide(amqp, "console-bad", tracking_id=tracking_id, **fields)
    dead = await take(amqp, topology.DEAD_LETTERS)
    assert json.loads(dead.body)["message_id"] == "console-bad"
    assert dead.routing_key == "verification.decide"
    death = cast(list[Json], dead.headers["x-death"])[0]
    assert (death["queue"], death["reason"]) == ("verification.decisions", "rejected")
    # Refused: the handler is done with it and published nothing.
    assert of(await events.flush(), "verified", tracking_id) == []
    case = await store.complaints.find_one({"_id": tracking_id})
    assert case is not None
    assert case["status"] == "needs_review"  # nothing changed
    assert of(events.bodies(), "verified", tracking_id) == []


async def test_a_decision_on_an_unknown_case_or_a_finished_one_is_refused(
    amqp: aio_pika.abc.AbstractConnection, services: None, events: Listener, store: Store
) -> None:
    await decide(
        amqp,
        "console-x",
        tracking_id="2222-3333-4444",
        decision="archive",
        archive_reason="abusive",
    )
    dead = await take(amqp, topology.DEAD_LETTERS)
    assert json.loads(dead.body)["message_id"] == "console-x"

    tracking_id = await submit(amqp, store, report(ROAD))
    await outcome(events, tracking_id, "verified")
    await decide(amqp, "console-y", tracking_id=tracking_id, decision="defer", question="Di mana?")
    dead = await take(amqp, topology.DEAD_LETTERS)
    assert json.loads(dead.body)["message_id"] == "console-y"  # verified cannot be deferred
    case = await store.complaints.find_one({"_id": tracking_id})
    assert case is not None and case["status"] == "verified"


async def test_defer_asks_the_reporter_and_their_answer_puts_it_back_on_the_admin_desk(
    amqp: aio_pika.abc.AbstractConnection, services: None, events: Listener, store: Store
) -> None:
    question = "Mohon sebutkan nama jalan, kelurahan, dan sejak kapan masalah ini terjadi."
    async with Listener(amqp, topology.OUTBOUND, "channel.whatsapp") as outbound:
        tracking_id = await held_for_review(amqp, store, events)
        before = await store.complaints.find_one({"_id": tracking_id})
        assert before is not None
        await decide(
            amqp, "console-2", tracking_id=tracking_id, decision="defer", question=question
        )
        deferred = await outcome(events, tracking_id, "deferred")
        notices = await outbound.wait_for(lambda b: any(n["event"] == "deferred" for n in b))
    assert deferred["reporter_message"] == question
    assert question in next(n for n in notices if n["event"] == "deferred")["text"]
    stored = await store.complaints.find_one({"_id": tracking_id})
    assert stored is not None
    assert (stored["status"], stored["question"]) == ("deferred", question)
    # The reporter's window (10 working days) is stored and told.
    window = stored["deadlines"]["deferral"]
    # MongoDB keeps milliseconds of the stored deadline.
    told = datetime.fromisoformat(deferred["deferral_deadline"])
    assert abs(told - window) < timedelta(milliseconds=1)
    assert window > stored["updated_at"] + timedelta(days=10)

    # The reporter replies through their channel; routing announces the added information.
    added = {
        "message_id": f"info:{tracking_id}:1",
        "tracking_id": tracking_id,
        "occurred_at": datetime.now(UTC).isoformat(),
        "status": "deferred",
        "event": "information_added",
    }
    await publish(amqp, topology.EVENTS, "complaint.information_added", added)
    message = await take(amqp, topology.ADMIN_REVIEW.name)
    again = json.loads(message.body)
    assert again["event"] == "needs_review"
    assert again["tracking_id"] == tracking_id
    assert again["message_id"] == f"needs_review:{tracking_id}:info:{tracking_id}:1"
    assert "information_added" in {f["code"] for f in again["findings"]}
    resumed = await store.complaints.find_one({"_id": tracking_id})
    assert resumed is not None
    assert resumed["status"] == "needs_review"
    assert resumed["deadlines"]["verification"] >= before["deadlines"]["verification"]
    assert [e["step"] for e in resumed["timeline"]][-2:] == ["defer", "resume"]

    # The same reply delivered again changes nothing. (The resume's event was taken off the
    # admin's queue; this listener's copy may still be on its way.)
    await events.wait_for(lambda b: len(of(b, "needs_review", tracking_id)) >= 2)
    await publish(amqp, topology.EVENTS, "complaint.information_added", added)
    await handled_after(amqp)
    await events.flush()
    assert len(of(events.bodies(), "needs_review", tracking_id)) == 2
    assert await queue_depth(amqp, topology.ADMIN_REVIEW.name) == 0


async def test_not_our_authority_sends_the_case_to_the_manual_routing_queue(
    amqp: aio_pika.abc.AbstractConnection, services: None, events: Listener, store: Store
) -> None:
    tracking_id = await held_for_review(amqp, store, events)
    reason = "Jalan nasional: kewenangan BBPJN Sumatera Selatan, bukan pemerintah kota."
    await decide(
        amqp, "console-3", tracking_id=tracking_id, decision="not_our_authority", note=reason
    )
    message = await take(amqp, topology.ADMIN_REVIEW.name)
    routed = json.loads(message.body)
    assert message.routing_key == "complaint.needs_routing"
    assert (routed["tracking_id"], routed["reason"]) == (tracking_id, reason)
    assert routed["status"] == "awaiting_routing"
    case = await store.complaints.find_one({"_id": tracking_id})
    assert case is not None and case["status"] == "awaiting_routing"
    # The admin desk's own clock runs (1 working day), told on the event.
    told = datetime.fromisoformat(routed["admin_desk_deadline"])
    assert abs(told - case["deadlines"]["admin_desk"]) < timedelta(milliseconds=1)


async def test_information_added_after_the_deferral_window_revives_nothing(
    amqp: aio_pika.abc.AbstractConnection, services: None, events: Listener, store: Store
) -> None:
    tracking_id = await held_for_review(amqp, store, events)
    await decide(
        amqp, "console-late", tracking_id=tracking_id, decision="defer", question="RT berapa?"
    )
    await outcome(events, tracking_id, "deferred")
    stored = await store.complaints.find_one({"_id": tracking_id})
    assert stored is not None
    late = stored["deadlines"]["deferral"] + timedelta(minutes=1)
    added = {
        "message_id": f"info:{tracking_id}:late",
        "tracking_id": tracking_id,
        "occurred_at": late.isoformat(),
        "status": "deferred",
        "event": "information_added",
    }
    await publish(amqp, topology.EVENTS, "complaint.information_added", added)
    await handled_after(amqp)
    after = await store.complaints.find_one({"_id": tracking_id})
    assert after is not None
    assert after["status"] == "deferred"
    assert [e["step"] for e in after["timeline"]][-1] == "defer"


async def test_the_admin_archives_with_a_reason_from_the_fixed_list(
    amqp: aio_pika.abc.AbstractConnection, services: None, events: Listener, store: Store
) -> None:
    tracking_id = await held_for_review(amqp, store, events)
    await decide(
        amqp,
        "console-4",
        tracking_id=tracking_id,
        decision="archive",
        archive_reason="too_general",
    )
    archived = await outcome(events, tracking_id, "archived")
    assert archived["reason"] == "too_general"
    assert archived["message_id"] == f"archived:{tracking_id}"
    case = await store.complaints.find_one({"_id": tracking_id})
    assert case is not None
    assert (case["status"], case["archive_reason"]) == ("archived", "too_general")


async def test_a_redelivered_decision_is_applied_once_and_not_refused(
    amqp: aio_pika.abc.AbstractConnection, services: None, events: Listener, store: Store
) -> None:
    tracking_id = await held_for_review(amqp, store, events)
    command = {"tracking_id": tracking_id, "decision": "verify", "flags_confirmed": True}
    for _ in range(3):  # the console's retry after a lost confirm, or a broker redelivery
        await decide(amqp, "console-5", **command)
    await outcome(events, tracking_id, "verified")
    await handled_after(amqp, "verification.decide")
    bodies = await events.flush()
    assert len(of(bodies, "verified", tracking_id)) == 1
    assert await queue_depth(amqp, topology.DEAD_LETTERS) == 0
    case = await store.complaints.find_one({"_id": tracking_id})
    assert case is not None
    assert case["applied"] == ["console-5"]
    assert [e["step"] for e in case["timeline"]].count("verify") == 1


# --- crashes --------------------------------------------------------------------------------


@pytest.mark.slow
async def test_a_crash_between_the_verdict_and_its_event_loses_nothing_and_repeats_nothing(
    amqp: aio_pika.abc.AbstractConnection, settings: IntakeSettings, store: Store
) -> None:
    async with (
        intake_app.create(settings),
        Listener(amqp, topology.EVENTS, "complaint.verified") as verified,
    ):
        crashing = start_service(
            "verification", settings, LAPOR_FAILPOINTS="verification.after_store=exit"
        )
        tracking_id = await submit(amqp, store, report(ROAD))
        assert await wait_exit(crashing) == 137  # died right after storing its verdict
        case = await store.complaints.find_one({"_id": tracking_id})
        assert case is not None
        assert case["status"] == "verified", "the verdict was stored before the crash"
        assert [m["message_id"] for m in case["outbox"]] == [f"verified:{tracking_id}"]
        assert verified.bodies() == [], "and its event was not published"

        restarted = start_service("verification", settings)
        try:
            await verified.wait_for(lambda b: len(b) >= 1, timeout=60)
            await handled_after(amqp)  # the redelivered received event was handled...
            bodies = await verified.flush()  # ...and added nothing
        finally:
            restarted.send_signal(signal.SIGTERM)
            assert await wait_exit(restarted) == 0
    assert [b["message_id"] for b in bodies] == [f"verified:{tracking_id}"]
    after = await store.complaints.find_one({"_id": tracking_id})
    assert after is not None
    assert after.get("outbox", []) == []
    assert [e["step"] for e in after["timeline"]] == ["receive", "auto_verify"]
    assert await queue_depth(amqp, topology.VERIFICATION_RECEIVED.name) == 0


# --- scale --------------------------------------------------------------------------------

STREETS = [
    "Jl. Jenderal Sudirman", "Jl. Kolonel Atmo", "Jl. Demang Lebar Daun", "Jl. Angkatan 45",
    "Jl. Basuki Rahmat", "Jl. Veteran", "Jl. Merdeka", "Jl. R. Sukamto", "Jl. Mayor Ruslan",
    "Jl. Kapten A. Rivai", "Jl. Soekarno Hatta", "Jl. Residen Abdul Rozak", "Jl. Mayor Salim",
    "Jl. Lunjuk Jaya", "Jl. Bambang Utoyo", "Jl. Letnan Murod", "Jl. Srijaya Negara",
    "Jl. Sultan Mahmud Badaruddin", "Jl. Ki Merogan", "Jl. Tembok Baru", "Jl. Pangeran Ratu",
    "Jl. Kebun Bunga", "Jl. Sapta Marga", "Jl. Macan Lindungan", "Jl. Inspektur Marzuki",
]  # fmt: skip
AREAS = [
    "Kelurahan Bukit Lama, Kecamatan Ilir Barat I",
    "Kelurahan 8 Ilir, Kecamatan Ilir Timur II",
    "Kelurahan Sukabangun, Kecamatan Sukarami",
    "Kelurahan Plaju Ulu, Kecamatan Plaju",
    "Kelurahan Talang Kelapa, Kecamatan Alang-Alang Lebar",
    "Kelurahan Kemuning, Kecamatan Kemuning",
    "Kelurahan Sako, Kecamatan Sako",
    "Kelurahan 16 Ulu, Kecamatan Seberang Ulu II",
    "Kelurahan Lorok Pakjo, Kecamatan Ilir Barat I",
    "Kelurahan Karya Baru, Kecamatan Alang-Alang Lebar",
    "Kelurahan Sialang, Kecamatan Sako",
    "Kelurahan Bagus Kuning, Kecamatan Plaju",
]  # fmt: skip
PROBLEMS = [
    "jalan berlubang dan aspal mengelupas", "trotoar ambles dan rusak parah",
    "jembatan kayu lapuk nyaris putus", "air PDAM keruh berbau lumpur",
    "pipa PDAM bocor membanjiri badan jalan", "listrik PLN padam berulang kali tiap malam",
    "lampu jalan PJU mati sepanjang ruas", "sampah menumpuk di TPS liar tepi sungai",
    "selokan tersumbat sampah hingga banjir", "antrean pasien puskesmas mengular sejak subuh",
    "dokter puskesmas jarang hadir pada jam layanan", "blanko KTP-el kosong di kantor Disdukcapil",
    "akta kelahiran anak tak kunjung terbit", "bantuan PKH keluarga miskin berhenti cair",
    "data DTKS tidak diperbarui petugas desa", "izin PBG rumah tinggal tertahan di DPMPTSP",
    "angkot mangkal sembarangan membuat kemacetan", "parkir liar memenuhi bahu jalan",
    "guru honorer SD negeri belum menerima honor", "kelas sekolah negeri bocor saat hujan",
    "gorong-gorong runtuh menganga", "tiang listrik miring hampir roboh",
    "meteran air pelanggan dicabut tanpa pemberitahuan", "tagihan PDAM melonjak tidak wajar",
    "ambulans desa tidak bisa dipakai", "obat generik di apotek puskesmas habis",
    "pembagian sembako bansos tidak merata", "kartu KIS pasien ditolak rumah sakit daerah",
    "pohon peneduh tumbang menimpa kabel", "asap pembakaran lahan menyesakkan napas",
    "limbah pabrik tahu mencemari anak sungai", "halte Transmusi rusak tanpa atap",
    "rambu lalu lintas hilang dicuri", "zonasi PPDB membingungkan orang tua murid",
    "seragam sekolah diwajibkan membeli di koperasi", "pemadaman bergilir tanpa jadwal jelas",
    "pengurusan kartu keluarga dipersulit oknum", "drainase perumahan meluap ke rumah",
    "jembatan gantung penyeberangan berkarat", "pengaspalan baru sudah retak-retak",
]  # fmt: skip
SINCE = ["seminggu", "dua minggu", "sebulan", "dua bulan", "tiga bulan", "setengah tahun",
         "sejak lebaran", "sejak awal tahun", "empat hari", "sepuluh hari"]  # fmt: skip
EFFECTS = [
    "pengendara motor sering tergelincir", "anak-anak kesulitan berangkat sekolah",
    "pedagang pasar merugi", "lansia harus menunggu berjam-jam", "warga terpaksa membeli air galon",
    "rumah warga tergenang setiap hujan deras", "ambulans sulit lewat", "usaha kecil terhenti",
    "warga takut keluar malam", "anak sekolah kehujanan di kelas", "balita batuk-batuk",
    "nelayan tidak bisa melaut", "ojek pangkalan kehilangan penumpang", "jemaah masjid terganggu",
    "harga barang naik karena distribusi tersendat", "pasien rujukan terlambat ditangani",
    "petani gagal panen", "pekerja pabrik terlambat masuk kerja", "mahasiswa kos mengungsi",
    "penjual pempek kehilangan pelanggan",
]  # fmt: skip
LANDMARKS = [
    "Masjid Agung", "Pasar 16 Ilir", "Benteng Kuto Besak", "Kambang Iwak", "Pasar Cinde",
    "Stadion Bumi Sriwijaya", "Simpang Charitas", "Terminal Alang-Alang Lebar", "Museum Balaputra",
    "Pasar Lemabang", "Jembatan Musi Dua", "Kantor Pos Besar", "Pelabuhan Boom Baru",
    "Universitas Sriwijaya Bukit", "Taman Purbakala", "Pasar Kuto", "Rumah Sakit Bari",
    "Bundaran Air Mancur", "Polda Sumsel", "Puskesmas Sekip", "Gereja Siloam", "Pasar Sekanak",
    "Pulau Kemaro", "Kampung Kapitan", "Taman Kota Kambang", "Simpang Polda",
]  # fmt: skip
GIVEN = ["Ahmad", "Siti", "Budi", "Dewi", "Rizki", "Yusuf", "Ratna", "Hendra", "Indah",
         "Fajar", "Wulan", "Agus", "Nurul", "Bambang", "Lestari", "Taufik", "Sri", "Joko",
         "Maya", "Dedi"]  # fmt: skip
FAMILY = ["Saputra", "Wijaya", "Hasibuan", "Pratama", "Kurniawan", "Rahmawati", "Setiawan",
          "Syahputra", "Nugroho", "Permana", "Hidayat", "Gunawan", "Sembiring", "Firmansyah",
          "Kusuma", "Maharani", "Ramadhan", "Santoso", "Halim", "Wahyudi"]  # fmt: skip
TEMPLATES = [
    "Di {street} nomor {house} dekat {landmark}, RT {rt}, {area}, {problem} sejak {since}. "
    "Selain itu {other}, akibatnya {effect}. Ketua RT {name} sudah menyampaikan ke kelurahan.",
    "Warga RT {rt} {area} melaporkan {problem} di {street} no. {house}, tidak jauh dari "
    "{landmark}, sudah {since}; {effect}. Juga {other}. Saksi: {name}.",
    "{problem} di {street} {house} ({area}, RT {rt}, seberang {landmark}) dibiarkan {since}, "
    "padahal {effect}. Ditambah lagi {other}. Dilaporkan bersama {name}.",
    "Mohon ditindaklanjuti: {problem}, lokasi {street} nomor {house} RT {rt} sekitar "
    "{landmark}, {area}. Kondisi ini {since} dan {effect}; {other} juga. Tetangga: {name}.",
]


def distinct_reports(total: int, seed: int = 20261102) -> list[str]:
    """``total`` plausible, different complaints from Palembang (no two near-identical)."""
    rng = random.Random(seed)
    texts: list[str] = []
    kept_terms: list[frozenset[str]] = []
    while len(texts) < total:
        problem, other = rng.sample(PROBLEMS, 2)
        text = rng.choice(TEMPLATES).format(
            street=rng.choice(STREETS),
            house=rng.randint(1, 400),
            rt=f"{rng.randint(1, 40):02d}",
            area=rng.choice(AREAS),
            landmark=rng.choice(LANDMARKS),
            name=f"{rng.choice(GIVEN)} {rng.choice(FAMILY)}",
            problem=problem[0].upper() + problem[1:],
            other=other,
            since=rng.choice(SINCE),
            effect=rng.choice(EFFECTS),
        )
        terms = text_terms(text)
        # Different problems: the data must not hold duplicates by the service's own measure.
        if all(jaccard(terms, seen) < 0.7 for seen in kept_terms):
            texts.append(text)
            kept_terms.append(terms)
    return texts


def received_case(
    tracking_id: str, text: str, n: int, protector: IdentityProtector, deadline: datetime
) -> tuple[Json, Json]:
    """A case as intake stores it (the same code builds it), and its ``complaint.received``."""
    case = factories.received(
        datetime.now(UTC),
        protector,
        tracking_id,
        channel="whatsapp",
        external_id=f"bulk-{n:04d}",
        description=text,
        location=None,
        reporter={"name": f"Pelapor {n}", "handle": f"wa:62812{n:07d}"},
    )
    case["deadlines"]["verification"] = deadline
    return case, to_json_dict(factories.received_event(case))


@pytest.mark.slow
@pytest.mark.timeout(600)  # a liveness guard only: speed is bench/pipeline.py's business
async def test_three_replicas_verify_a_thousand_reports_each_exactly_once(
    amqp: aio_pika.abc.AbstractConnection,
    settings: IntakeSettings,
    store: Store,
    protector: IdentityProtector,
) -> None:
    total = 1000
    # The relay re-sends what a handler has not confirmed within the grace; with three
    # replicas and the stand-in database sharing one process, a handler can be slower
    # than the tests' 1 s grace without having failed, so the production grace is used.
    settings = settings.model_copy(update={"outbox_grace_seconds": 5.0, "outbox_scan_seconds": 1.0})
    deadline = settings.sla.verification_deadline(settings.working_calendar(), datetime.now(UTC))
    tracking_ids = [new_tracking_id() for _ in range(total)]
    fed = [
        received_case(tid, text, n, protector, deadline)
        for n, (tid, text) in enumerate(zip(tracking_ids, distinct_reports(total), strict=True))
    ]
    await store.complaints.insert_many([case for case, _ in fed])
    replica_settings = verification_settings(settings)
    started = time.monotonic()
    async with (
        Listener(amqp, topology.EVENTS, "complaint.verified") as verified,
        Listener(amqp, topology.EVENTS, "complaint.needs_review") as held,
        Listener(amqp, topology.EVENTS, "complaint.archived") as archived,
    ):
        async with (
            verification_app.create(replica_settings),
            verification_app.create(replica_settings),
            verification_app.create(replica_settings),
        ):
            channel = await amqp.channel(publisher_confirms=True)
            exchange = await channel.get_exchange(topology.EVENTS)
            for n, (_, event) in enumerate(fed):
                # Every fifth event twice, back to back, as an at-least-once publisher may: the
                # copies reach two replicas at the same moment, and only one may verify the case.
                for _copy in range(2 if n % 5 == 0 else 1):
                    await exchange.publish(
                        aio_pika.Message(
                            json.dumps(event).encode(),
                            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                            message_id=event["message_id"],
                        ),
                        routing_key="complaint.received",
                    )
            await channel.close()
            await verified.wait_for(
                lambda b: len(b) >= total or bool(held.messages or archived.messages), timeout=400
            )
            assert held.bodies() == [] and archived.bodies() == [], "every report is a clean one"
            # Every copy taken off the queue; the replicas then stop, finishing what is in hand.
            await eventually(
                lambda: _is_zero(queue_depth(amqp, topology.VERIFICATION_RECEIVED.name)), 120
            )
        # Stopped: no handler and no outbox relay can publish any more.
        bodies = await verified.flush()
    elapsed = time.monotonic() - started
    # At least once: under load the outbox relay may publish an event again after its
    # grace; the copy has the same message_id, so a consumer can tell. Each case is
    # verified once (one stored step, one event identity).
    seen = sorted({b["message_id"]: b["tracking_id"] for b in bodies}.values())
    print(f"\n{total} received cases (200 delivered twice), 3 replicas: {elapsed:.1f}s")
    assert len(seen) == total, f"{len(seen)} verified events for {total} cases"
    assert sorted(seen) == sorted(tracking_ids)
    assert {b["message_id"] for b in bodies} == {f"verified:{t}" for t in tracking_ids}
    assert await store.complaints.count_documents({"status": "verified"}) == total
    # Each case went through the checks exactly once.
    once = await store.complaints.count_documents(
        {"timeline": {"$size": 2}, "timeline.1.step": "auto_verify"}
    )
    assert once == total
