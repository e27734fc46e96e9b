"""Routing against a real RabbitMQ and the MongoDB server, with intake relaying to reporters.

Verification is not running: each test does what it would (store the decision on the
case, publish ``complaint.verified``). Agencies are plain aio-pika clients on their own
queues ``opd.<code>``; admins and reporters publish commands on ``lapor.commands``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, cast

import pytest
import yaml
from aio_pika.abc import AbstractConnection, AbstractIncomingMessage
from aio_pika.exceptions import ChannelNotFoundEntity

from services.intake import app as intake_app
from services.routing import app as routing_app
from services.routing.queries import case_hops, case_timeline
from services.routing.registry import read_registry, sample_registry_path, save_registry
from services.routing.settings import RoutingSettings
from shared import topology
from shared.calendar import WorkingCalendar
from shared.clock import ManualClock
from shared.contract import ComplaintVerified, to_json_dict
from shared.lifecycle import Kind, Severity, Status
from shared.settings import IntakeSettings
from shared.sla import SlaPolicy
from shared.storage import Store
from shared.tracking import new_tracking_id
from tests.conftest import service_env
from tests.support import Json, Listener, eventually, logged_text, publish, settled

pytestmark = pytest.mark.integration

# Friday 27 November 2026, 10:00 WIB: the follow-up deadline is Friday 4 December, 23:59 WIB.
START = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
FOLLOW_UP_DEADLINE = datetime(2026, 12, 4, 16, 59, 59, 999999, tzinfo=UTC)
SAMPLE = read_registry(sample_registry_path())
AGENCY_CODES = [a.code for a in SAMPLE.agencies]

SITI = {"name": "Siti Aminah", "phone": "0812-7788-9900", "handle": "tg:5501234"}
SITI_PHONE = "+6281277889900"  # as intake stores it


def report(**fields: Any) -> Json:
    """A report from a Telegram bot about a road in Palembang."""
    body: Json = {
        "channel": "telegram",
        "external_id": f"tg-{uuid.uuid4().hex[:12]}",
        "submitted_at": "2026-11-27T08:15:00+07:00",
        "title": "Jalan berlubang di Jl. Kolonel Atmo",
        "description": "Jalan berlubang besar di depan pasar, sudah dua minggu "
        "membahayakan pengendara motor.",
        "reporter": SITI,
        "location": {"address": "Jl. Kolonel Atmo, Palembang", "region_code": "16.71.04"},
        "category": "jalan",
    }
    return body | fields


# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def registry(store: Store) -> None:
    """The South Sumatra sample, loaded as `lapor agencies load` does."""
    await save_registry(store, SAMPLE, START)


async def purge_agency_queues(amqp: AbstractConnection) -> None:
    """Empty the agency queues routing declared; one not declared yet holds nothing."""
    channel = await amqp.channel()
    for code in AGENCY_CODES:
        try:
            await (await channel.get_queue(f"opd.{code}")).purge()
        except ChannelNotFoundEntity:
            channel = await amqp.channel()  # the broker closed the channel on the miss
    await channel.close()


@pytest.fixture
async def services(
    settings: IntakeSettings, amqp: AbstractConnection, registry: None, clock: ManualClock
) -> AsyncIterator[None]:
    """Intake (the reporter's door) and routing, sharing one test clock."""
    async with intake_app.create(settings, clock), routing_app.create(settings, clock):
        await purge_agency_queues(amqp)  # routing declared them at start
        yield


# --- actors -------------------------------------------------------------------------------


async def submit(amqp: AbstractConnection, store: Store, **fields: Any) -> str:
    """A reporter sends a report; intake stores it. Its tracking ID."""
    body = report(**fields)
    await publish(amqp, topology.INTAKE, "channel.telegram", body)

    async def stored() -> Json | None:
        return await store.complaints.find_one({"external_id": body["external_id"]})

    case = await eventually(stored)
    return str(case["_id"])


async def verify(
    amqp: AbstractConnection,
    store: Store,
    tracking_id: str,
    category: str | None,
    severity: Severity = Severity.SEDANG,
    agency_hint: str | None = None,
    by: Literal["system", "admin"] = "system",
) -> None:
    """What services/verification does: store the decision, then announce it."""
    case = await store.complaints.find_one({"_id": tracking_id})
    assert case is not None
    await store.complaints.update_one(
        {"_id": tracking_id, "status": "received"},
        {
            "$set": {
                "status": "verified",
                "category": category,
                "severity": str(severity),
                "verified_at": START,
            },
            "$push": {
                "timeline": {
                    "at": START,
                    "step": "auto_verify",
                    "actor": "system",
                    "to": "verified",
                }
            },
        },
    )
    event = ComplaintVerified(
        message_id=f"verified:{tracking_id}",
        tracking_id=tracking_id,
        occurred_at=START,
        status=Status.VERIFIED,
        kind=Kind.PENGADUAN,
        category=category,
        severity=severity,
        agency_hint=agency_hint,
        anonymous=case["anonymous"],
        confidential=case["confidential"],
        by=by,
    )
    body = event.model_dump_json(exclude_none=True).encode()
    await publish(amqp, topology.EVENTS, "complaint.verified", body, event.message_id)


class AgencyDesk:
    """An agency's own system: a plain aio-pika client on its queue ``opd.<code>``."""

    def __init__(self, amqp: AbstractConnection, code: str) -> None:
        self.amqp = amqp
        self.code = code

    async def __aenter__(self) -> AgencyDesk:
        self._channel = await self.amqp.channel()
        self.queue = await self._channel.get_queue(f"opd.{self.code}")
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._channel.close()

    async def receive(self, timeout: float = 15.0) -> tuple[Json, bytes]:
        """The next Disposition on the agency's queue (acknowledged), and its raw bytes."""

        async def next_message() -> AbstractIncomingMessage | None:
            return await self.queue.get(no_ack=False, fail=False)

        message: AbstractIncomingMessage = await eventually(next_message, timeout)
        await message.ack()
        return json.loads(message.body), message.body

    async def waiting(self) -> int:
        """How many messages wait on the agency's queue."""
        channel = await self.amqp.channel()
        queue = await channel.declare_queue(f"opd.{self.code}", passive=True)
        await channel.close()
        count = queue.declaration_result.message_count
        return int(count or 0)

    async def answer(
        self,
        tracking_id: str,
        action: str,
        message: str | None = None,
        suggested_agency: str | None = None,
        message_id: str | None = None,
    ) -> str:
        """Send ``opd.respond`` as the agency's liaison; the command's message_id."""
        body: Json = {
            "message_id": message_id or f"{self.code}-{uuid.uuid4().hex[:8]}",
            "tracking_id": tracking_id,
            "agency": self.code,
            "action": action,
            "liaison": "Penghubung Uji",
        }
        if message is not None:
            body["message"] = message
        if suggested_agency is not None:
            body["suggested_agency"] = suggested_agency
        await publish(self.amqp, topology.COMMANDS, "opd.respond", body, body["message_id"])
        return str(body["message_id"])


async def reply(
    amqp: AbstractConnection,
    tracking_id: str,
    action: str,
    reporter: Json,
    channel: str = "telegram",
    message_id: str | None = None,
    **fields: Any,
) -> str:
    """A reporter's reply relayed by their channel (``reporter.reply``)."""
    body: Json = {
        "message_id": message_id or f"reply-{uuid.uuid4().hex[:8]}",
        "tracking_id": tracking_id,
        "channel": channel,
        "reporter": reporter,
        "action": action,
    } | fields
    await publish(amqp, topology.COMMANDS, "reporter.reply", body, body["message_id"])
    return str(body["message_id"])


async def dispose(
    amqp: AbstractConnection, tracking_id: str, agency: str, note: str | None = None
) -> None:
    body: Json = {
        "message_id": f"dispose-{uuid.uuid4().hex[:8]}",
        "tracking_id": tracking_id,
        "agency": agency,
        "admin": "admin.pusat",
    } | ({"note": note} if note else {})
    await publish(amqp, topology.COMMANDS, "routing.dispose", body, body["message_id"])


async def take_all(amqp: AbstractConnection, queue_name: str) -> list[Any]:
    """Everything waiting on a durable queue now.

    Callers first see the event that put their message there arrive on a listener; a
    quorum queue may commit the same publish a moment later, so callers that must find it
    poll (``eventually``).
    """
    channel = await amqp.channel()
    queue = await channel.get_queue(queue_name)
    found = []
    while (message := await queue.get(no_ack=True, fail=False)) is not None:
        found.append(message)
    await channel.close()
    return found


async def on_admin_desk(amqp: AbstractConnection, tid: str) -> list[Json]:
    """Case ``tid``'s items on the admin's desk, once there are any.

    The listener that saw the event and the desk's quorum queue get the same publish, but
    the quorum queue may commit it a moment later (CI once found the desk still empty).
    """
    taken: list[Json] = []

    async def found() -> list[Json]:
        taken.extend(json.loads(m.body) for m in await take_all(amqp, "admin.review"))
        return [item for item in taken if item["tracking_id"] == tid]

    items: list[Json] = await eventually(found)
    return items


async def handled_after(amqp: AbstractConnection, routing_key: str = "opd.respond") -> None:
    """A barrier: every message routing took from the queue ``routing_key`` feeds is handled.

    A message about a case that does not exist, sent after the thing under test, is
    handled after it (one consumer, in order) and dead-lettered.
    """
    marker = f"barrier-{uuid.uuid4().hex[:8]}"
    tid = new_tracking_id()
    body: Json
    if routing_key == "complaint.verified":
        body = to_json_dict(
            ComplaintVerified(
                message_id=marker, tracking_id=tid, occurred_at=START, status=Status.VERIFIED,
                kind=Kind.PENGADUAN, category="jalan", severity=Severity.SEDANG,
                anonymous=False, confidential=False, by="system",
            )
        )  # fmt: skip
        exchange, queue = topology.EVENTS, topology.ROUTING_VERIFIED.name
    else:
        body = {"message_id": marker, "tracking_id": tid, "agency": "pupr-palembang",
                "action": "acknowledge", "liaison": "barrier"}  # fmt: skip
        exchange, queue = topology.COMMANDS, topology.ROUTING_COMMANDS.name
    await publish(amqp, exchange, routing_key, body, marker)
    while True:  # other services may refuse their own copy of the marker too
        dead = await dead_letter(amqp, routing_key)
        assert json.loads(dead.body)["message_id"] == marker
        if cast(list[Json], dead.headers["x-death"])[0]["queue"] == queue:
            return


async def dead_letter(amqp: AbstractConnection, routing_key: str) -> AbstractIncomingMessage:
    channel = await amqp.channel()
    queue = await channel.get_queue(topology.DEAD_LETTERS)

    async def found() -> AbstractIncomingMessage | None:
        message = await queue.get(no_ack=True, fail=False)
        return message if message is None or message.routing_key == routing_key else None

    message: AbstractIncomingMessage = await eventually(found)
    await channel.close()
    return message


def events(bodies: list[Json], name: str, tracking_id: str) -> list[Json]:
    return [b for b in bodies if b.get("event") == name and b["tracking_id"] == tracking_id]


def has(name: str, tracking_id: str, count: int = 1) -> Any:
    return lambda bodies: len(events(bodies, name, tracking_id)) >= count


async def arrived(listener: Listener, name: str, tracking_id: str, count: int = 1) -> list[Json]:
    """The events called ``name`` about the case, once ``count`` of them have arrived."""
    return events(await listener.wait_for(has(name, tracking_id, count)), name, tracking_id)


async def stored(store: Store, tracking_id: str) -> Json:
    case = await store.complaints.find_one({"_id": tracking_id})
    assert case is not None
    return case


def close_to(a: datetime, b: datetime) -> bool:
    """Equal up to MongoDB's millisecond precision."""
    return abs(a - b) < timedelta(milliseconds=1)


# --- dispatch ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "category", "hint", "expected", "rule"),
    [
        ({}, "jalan", None, "pupr-palembang", "category_region"),
        ({"location": {"region_code": "16.05"}}, "jalan", None, "pubmtr-sumsel", "category_region"),
        (
            {"description": "Air PDAM mati."},
            "air_bersih",
            None,
            "pdam-palembang",
            "category_region",
        ),
        ({"agency": "rsud-bari-palembang"}, "kesehatan", None, "rsud-bari-palembang", "hint"),
        ({"category": None}, None, "dishub-palembang", "dishub-palembang", "hint"),
    ],
    ids=["city-road", "province-road", "water", "reporter-hint", "admin-hint"],
)
async def test_a_verified_case_lands_on_the_queue_of_the_responsible_agency(
    amqp: AbstractConnection,
    services: None,
    store: Store,
    fields: Json,
    category: str | None,
    hint: str | None,
    expected: str,
    rule: str,
) -> None:
    async with Listener(amqp, topology.EVENTS, "complaint.dispatched") as dispatched:
        tid = await submit(amqp, store, **fields)
        await verify(amqp, store, tid, category, agency_hint=hint, by="admin" if hint else "system")
        async with AgencyDesk(amqp, expected) as desk:
            disposition, raw = await desk.receive()
        [event] = await arrived(dispatched, "dispatched", tid)

    assert disposition["tracking_id"] == tid
    assert disposition["agency"] == expected
    assert disposition["hop"] == 1
    assert disposition["message_id"] == f"disposition:{tid}:1"
    assert datetime.fromisoformat(disposition["follow_up_deadline"]) == FOLLOW_UP_DEADLINE
    assert disposition["reporter_name"] == "Siti Aminah"  # not anonim: the name, never contacts
    for contact in ["7788", "9900", "5501234"]:
        assert contact.encode() not in raw
    # Nowhere else: every other agency's queue is empty.
    others = [c for c in AGENCY_CODES if c != expected]
    for code in others:
        assert await AgencyDesk(amqp, code).waiting() == 0, code

    assert event["agency"] == expected
    assert event["hop"] == 1
    assert event["agency_name"] == next(a.name for a in SAMPLE.agencies if a.code == expected)
    case = await stored(store, tid)
    assert case["status"] == "dispatched"
    assert case["agency"] == expected
    assert close_to(case["deadlines"]["follow_up"], FOLLOW_UP_DEADLINE)
    resolution = SlaPolicy().resolution_deadline(WorkingCalendar(), START, Severity.SEDANG)
    assert close_to(case["deadlines"]["resolution"], resolution)
    [hop] = await case_hops(store, tid)
    assert (hop.agency, hop.rule) == (expected, rule)
    await settled(store, tid)


# --- the agency round trip ----------------------------------------------------------------


async def test_the_agency_round_trip_reaches_the_reporter_on_their_own_channel(
    amqp: AbstractConnection, services: None, store: Store
) -> None:
    async with Listener(amqp, topology.OUTBOUND, "channel.telegram") as outbound:
        tid = await submit(amqp, store)
        await verify(amqp, store, tid, "jalan")
        async with AgencyDesk(amqp, "pupr-palembang") as desk:
            disposition, _ = await desk.receive()
            assert disposition["description"].startswith("Jalan berlubang besar")
            [dispatched] = await arrived(outbound, "dispatched", tid)
            assert "Dinas Pekerjaan Umum dan Penataan Ruang Kota Palembang" in dispatched["text"]
            assert "paling lambat 4 Desember 2026" in dispatched["text"]

            await desk.answer(tid, "acknowledge")
            await outbound.wait_for(has("followed_up", tid))
            await desk.answer(tid, "follow_up", "Tim sudah meninjau lokasi; perbaikan dijadwalkan.")
            await outbound.wait_for(has("followed_up", tid, 2))
            await desk.answer(tid, "resolve", "Lubang sudah ditambal pada 2 Desember 2026.")
            notices = await outbound.wait_for(has("resolved", tid))

    acknowledged, followed = events(notices, "followed_up", tid)
    [resolved] = events(notices, "resolved", tid)
    assert "telah diterima oleh instansi terkait" in acknowledged["text"]
    assert followed["text"] == (
        f"Tindak lanjut laporan {tid}: Tim sudah meninjau lokasi; perbaikan dijadwalkan."
    )
    assert "Lubang sudah ditambal pada 2 Desember 2026." in resolved["text"]
    assert "ditutup otomatis pada 12 Desember 2026" in resolved["text"]
    # Every notice goes to the reporter's own channel, by intake: the one door.
    mine = [m for m in outbound.messages if json.loads(m.body)["tracking_id"] == tid]
    assert {m.app_id for m in mine} == {"lapor-intake"}
    for notice in [*events(notices, "followed_up", tid), resolved]:
        assert notice["recipient"]["handle"] == "tg:5501234"
        assert notice["recipient"]["phone"] == SITI_PHONE

    case = await stored(store, tid)
    assert case["status"] == "resolved"
    assert close_to(case["first_answer_at"], START)
    assert close_to(case["deadlines"]["auto_close"], datetime(2026, 12, 11, 17, tzinfo=UTC))
    assert case["final_answer"]["text"] == "Lubang sudah ditambal pada 2 Desember 2026."
    timeline = await case_timeline(store, tid)
    assert [(e.step, e.actor, e.to_status) for e in timeline] == [
        ("receive", "reporter", "received"),
        ("auto_verify", "system", "verified"),
        ("dispatch", "system", "dispatched"),
        ("acknowledge", "agency", "in_progress"),
        ("follow_up", "agency", "in_progress"),
        ("resolve", "agency", "resolved"),
    ]
    dispatch, _, follow_up, resolve = timeline[2:]
    assert dispatch.agency == "pupr-palembang" and dispatch.rule == "category_region"
    assert "kategori 'jalan' di wilayah 16.71.04" in (dispatch.note or "")
    assert (follow_up.by, follow_up.agency) == ("Penghubung Uji", "pupr-palembang")
    assert resolve.note == "Lubang sudah ditambal pada 2 Desember 2026."


# --- "not our authority" ------------------------------------------------------------------


SMA_REPORT = {
    "title": "Pungutan di SMAN 5 Palembang",
    "description": "Orang tua murid SMAN 5 diminta membayar uang gedung tanpa dasar.",
    "category": "pendidikan",
    "location": {"region_code": "16.71"},
}


async def test_not_our_authority_routes_the_case_to_the_next_agency_and_records_each_hop(
    amqp: AbstractConnection, services: None, store: Store
) -> None:
    async with (
        Listener(amqp, topology.EVENTS, "complaint.*") as domain,
        Listener(amqp, topology.OUTBOUND, "channel.telegram") as outbound,
        AgencyDesk(amqp, "disdik-palembang") as city,
        AgencyDesk(amqp, "disdik-sumsel") as province,
    ):
        tid = await submit(amqp, store, **SMA_REPORT)
        await verify(amqp, store, tid, "pendidikan")
        await city.receive()  # the city's office is the most specific match...
        reason = "SMA/SMK adalah kewenangan Pemerintah Provinsi (UU 23/2014)."
        await city.answer(tid, "not_our_authority", reason)
        second, _ = await province.receive()  # ...and says the province is responsible
        bodies = await domain.wait_for(has("dispatched", tid, 2))
        await outbound.wait_for(has("forwarded", tid))

    assert second["hop"] == 2
    assert second["agency"] == "disdik-sumsel"
    assert reason in second["note"] and "Dinas Pendidikan Kota Palembang" in second["note"]
    [forwarded] = events(bodies, "forwarded", tid)
    assert (forwarded["from_agency"], forwarded["to_agency"]) == (
        "disdik-palembang",
        "disdik-sumsel",
    )
    assert forwarded["reason"] == reason and forwarded["hop"] == 2
    assert events(bodies, "dispatched", tid)[1]["hop"] == 2
    hops = await case_hops(store, tid)
    assert [(h.hop, h.agency, h.outcome) for h in hops] == [
        (1, "disdik-palembang", "not_our_authority"),
        (2, "disdik-sumsel", None),
    ]
    assert hops[0].outcome_reason == reason
    case = await stored(store, tid)
    assert (case["status"], case["agency"], case["hop"]) == ("dispatched", "disdik-sumsel", 2)
    assert await city.waiting() == 0


async def test_a_forwarding_loop_ends_at_the_admin(
    amqp: AbstractConnection, services: None, store: Store
) -> None:
    async with (
        Listener(amqp, topology.EVENTS, "complaint.*") as domain,
        AgencyDesk(amqp, "disdik-palembang") as city,
        AgencyDesk(amqp, "disdik-sumsel") as province,
    ):
        tid = await submit(amqp, store, **SMA_REPORT)
        await verify(amqp, store, tid, "pendidikan")
        await city.receive()
        await city.answer(tid, "not_our_authority", "Kewenangan provinsi.", "disdik-sumsel")
        await province.receive()
        # The province sends it back: the case would go round in circles.
        await province.answer(tid, "not_our_authority", "Sekolah swasta: kota.", "disdik-palembang")
        bodies = await domain.wait_for(has("needs_routing", tid))
    [desk_item] = await on_admin_desk(amqp, tid)
    assert desk_item["event"] == "needs_routing"
    assert "pengalihan berulang" in desk_item["reason"]
    assert "Sekolah swasta: kota." in desk_item["reason"]
    last_forward = events(bodies, "forwarded", tid)[-1]
    assert last_forward["from_agency"] == "disdik-sumsel" and "to_agency" not in last_forward
    case = await stored(store, tid)
    assert case["status"] == "awaiting_routing"
    assert "agency" not in case and "follow_up" not in case["deadlines"]
    assert await city.waiting() == 0 and await province.waiting() == 0
    assert [t.step for t in await case_timeline(store, tid)][-2:] == ["forward", "return_to_admin"]


async def test_the_hop_limit_sends_the_case_to_the_admin(
    amqp: AbstractConnection,
    settings: IntakeSettings,
    registry: None,
    store: Store,
    clock: ManualClock,
) -> None:
    limited = RoutingSettings.from_base(settings, hop_limit=2)
    async with intake_app.create(settings, clock), routing_app.create(limited, clock):
        await purge_agency_queues(amqp)
        async with (
            Listener(amqp, topology.EVENTS, "complaint.needs_routing") as needs_routing,
            AgencyDesk(amqp, "pupr-palembang") as first,
            AgencyDesk(amqp, "pubmtr-sumsel") as second,
        ):
            tid = await submit(amqp, store)
            await verify(amqp, store, tid, "jalan")
            await first.receive()
            await first.answer(tid, "not_our_authority", "Jalan provinsi.", "pubmtr-sumsel")
            await second.receive()
            await second.answer(tid, "not_our_authority", "Jalan nasional.", "dishub-sumsel")
            [event] = await arrived(needs_routing, "needs_routing", tid)
    assert "batas pengalihan tercapai (2 dari 2 OPD)" in event["reason"]
    assert (await stored(store, tid))["status"] == "awaiting_routing"
    assert await AgencyDesk(amqp, "dishub-sumsel").waiting() == 0


# --- the admin's manual queue -------------------------------------------------------------


async def test_the_admin_routes_by_hand_what_no_rule_could(
    amqp: AbstractConnection, services: None, store: Store
) -> None:
    async with (
        Listener(amqp, topology.OPD, "opd.#") as agency_queues,
        Listener(amqp, topology.EVENTS, "complaint.needs_routing") as needs_routing,
    ):
        tid = await submit(
            amqp,
            store,
            title="Tiang listrik miring",
            description="Tiang listrik miring hampir roboh ke badan jalan.",
            category="listrik",
        )
        await verify(amqp, store, tid, "listrik")
        # Routed: the same publish reaches the admin's desk, a quorum queue that may commit
        # it a moment after the listener's queue has it (CI saw it empty once): wait for it.
        await arrived(needs_routing, "needs_routing", tid)
        [desk_item] = await on_admin_desk(amqp, tid)
        assert agency_queues.bodies() == []  # no rule, no agency
    assert desk_item["event"] == "needs_routing"
    assert "kategori 'listrik'" in desk_item["reason"]
    assert (await stored(store, tid))["status"] == "awaiting_routing"

    # An agency the registry does not know is refused, and the case waits on.
    await dispose(amqp, tid, "pln-ulp-ilir-timur")
    refused = await dead_letter(amqp, "routing.dispose")
    assert json.loads(refused.body)["agency"] == "pln-ulp-ilir-timur"
    assert (await stored(store, tid))["status"] == "awaiting_routing"

    note = "Tiang menghalangi jalan; mohon koordinasi dengan PLN ULP setempat."
    async with AgencyDesk(amqp, "pupr-palembang") as desk:
        await dispose(amqp, tid, "pupr-palembang", note)
        disposition, _ = await desk.receive()
    assert disposition["note"] == note
    case = await stored(store, tid)
    assert (case["status"], case["agency"]) == ("dispatched", "pupr-palembang")
    last = (await case_timeline(store, tid))[-1]
    assert (last.step, last.actor, last.by, last.note) == ("dispose", "admin", "admin.pusat", note)


# --- the reporter's replies -----------------------------------------------------------------


async def resolved_case(amqp: AbstractConnection, store: Store, desk: AgencyDesk) -> str:
    tid = await submit(amqp, store)
    await verify(amqp, store, tid, "jalan")
    await desk.receive()
    await desk.answer(tid, "resolve", "Lubang sudah ditambal.")

    async def is_resolved() -> bool:
        return bool((await stored(store, tid))["status"] == "resolved")

    await eventually(is_resolved)
    return tid


async def test_a_reply_from_anyone_but_the_reporter_is_refused(
    amqp: AbstractConnection, services: None, store: Store
) -> None:
    async with (
        AgencyDesk(amqp, "pupr-palembang") as desk,
        Listener(amqp, topology.EVENTS, "complaint.*") as domain,
    ):
        tid = await resolved_case(amqp, store, desk)
        await reply(amqp, tid, "accept", {"name": "Siti Aminah", "phone": "0813-1111-2222"})
        refused = await dead_letter(amqp, "reporter.reply")
        await reply(amqp, tid, "reopen", {"handle": "tg:999"}, message="Belum beres")
        await dead_letter(amqp, "reporter.reply")
        # Both refused (dead-lettered): their handling is over and published nothing.
        assert events(await domain.flush(), "closed", tid) == []
        assert events(domain.bodies(), "reopened", tid) == []
    # Dead-lettered sealed (it names a reporter): the tracking ID readable, no contact.
    assert json.loads(refused.body)["tracking_id"] == tid
    assert "Siti" not in refused.body.decode() and "1111" not in refused.body.decode()
    x_death: Any = refused.headers["x-death"]
    assert (x_death[0]["queue"], x_death[0]["reason"]) == (topology.SEALED_REFUSALS, "expired")
    assert (await stored(store, tid))["status"] == "resolved"
    assert await desk.waiting() == 0

    # The reporter, however the channel spells the number, is heard.
    async with Listener(amqp, topology.OUTBOUND, "channel.telegram") as outbound:
        await reply(amqp, tid, "accept", {"phone": "0812 7788 9900"}, channel="sms", rating=5)
        # The two notices may arrive in either order (messages are handled concurrently).
        notices = await outbound.wait_for(
            lambda bodies: has("closed", tid)(bodies) and has("rated", tid)(bodies)
        )
    assert "telah ditutup" in events(notices, "closed", tid)[0]["text"]
    assert "(5/5)" in events(notices, "rated", tid)[0]["text"]
    case = await stored(store, tid)
    assert (case["status"], case["close_reason"], case["rating"]) == ("closed", "accepted", 5)


async def test_the_reporter_reopens_the_agency_answers_again_and_the_reporter_accepts(
    amqp: AbstractConnection, services: None, store: Store, clock: ManualClock
) -> None:
    async with (
        AgencyDesk(amqp, "pupr-palembang") as desk,
        Listener(amqp, topology.OUTBOUND, "channel.telegram") as outbound,
    ):
        tid = await resolved_case(amqp, store, desk)
        clock.advance(timedelta(days=3))  # Monday 30 November
        await reply(amqp, tid, "reopen", {"handle": "tg:5501234"}, message="Lubang muncul lagi.")
        again, _ = await desk.receive()
        [reopened] = await arrived(outbound, "reopened", tid)

        case = await stored(store, tid)
        assert case["status"] == "dispatched"
        assert "auto_close" not in case["deadlines"]
        new_deadline = datetime(2026, 12, 7, 16, 59, 59, 999999, tzinfo=UTC)  # Monday 7 Dec
        assert close_to(case["deadlines"]["follow_up"], new_deadline)
        assert datetime.fromisoformat(again["follow_up_deadline"]) == new_deadline
        assert again["note"] == "Dibuka kembali oleh pelapor: Lubang muncul lagi."
        assert again["hop"] == 1 and again["agency"] == "pupr-palembang"
        assert "dibuka kembali" in reopened["text"]

        await desk.answer(tid, "resolve", "Ditambal ulang dengan aspal hotmix.")
        await outbound.wait_for(has("resolved", tid, 2))
        await reply(amqp, tid, "accept", {"phone": SITI_PHONE})
        await outbound.wait_for(has("closed", tid))
    steps = [t.step for t in await case_timeline(store, tid)]
    assert steps[-4:] == ["resolve", "reopen", "resolve", "accept"]
    assert (await stored(store, tid))["status"] == "closed"


async def test_information_the_reporter_adds_reaches_the_agency_holding_the_case(
    amqp: AbstractConnection, services: None, store: Store
) -> None:
    async with (
        AgencyDesk(amqp, "pupr-palembang") as desk,
        Listener(amqp, topology.OUTBOUND, "channel.telegram") as outbound,
    ):
        tid = await submit(amqp, store)
        await verify(amqp, store, tid, "jalan")
        await desk.receive()
        await desk.answer(tid, "acknowledge")
        await outbound.wait_for(has("followed_up", tid))
        text = "Sore ini seorang pengendara jatuh di lubang yang sama."
        await reply(amqp, tid, "add_information", {"handle": "tg:5501234"}, message=text)
        update, _ = await desk.receive()
        [notice] = await arrived(outbound, "information_added", tid)
    assert update["tracking_id"] == tid and update["hop"] == 1
    assert text in update["note"]
    assert "Informasi tambahan untuk laporan" in notice["text"]
    case = await stored(store, tid)
    assert case["status"] == "in_progress"  # kept
    assert [a["text"] for a in case["additions"]] == [text]


# --- anonim -----------------------------------------------------------------------------------


async def test_an_anonymous_reports_agency_messages_hold_no_reporter_identity(
    amqp: AbstractConnection, services: None, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    identity = {
        "name": "Budi Santoso",
        "phone": "+62 813-6000-1234",
        "email": "budi.santoso@example.id",
        "handle": "tg:987654321",
    }
    secrets = [
        "Budi", "Santoso", "budi.santoso", "example.id", "6000", "1234", "987654321",
    ]  # fmt: skip
    async with (
        Listener(amqp, topology.OPD, "opd.#") as agency_messages,
        Listener(amqp, topology.EVENTS, "complaint.#") as domain,
        Listener(amqp, topology.OUTBOUND, "channel.telegram") as outbound,
        AgencyDesk(amqp, "disdik-palembang") as city,
        AgencyDesk(amqp, "disdik-sumsel") as province,
    ):
        tid = await submit(
            amqp,
            store,
            **(
                SMA_REPORT
                | {
                    "anonymous": True,
                    "reporter": identity,
                    "description": "Anak saya di SMAN 5 diminta uang gedung. Saya Budi Santoso, "
                    "bisa dihubungi di 0813-6000-1234 atau budi.santoso@example.id.",
                }
            ),
        )
        await verify(amqp, store, tid, "pendidikan")
        await city.receive()
        # Fixed command IDs: they appear in message IDs, and random hex could hold "1234".
        await reply(
            amqp, tid, "add_information", {"handle": "tg:987654321"}, message_id="anon-info",
            message="Kuitansi ada pada saya, Budi (tg:987654321).",
        )  # fmt: skip
        await city.receive()
        await city.answer(tid, "not_our_authority", "Kewenangan provinsi.", message_id="anon-n")
        await province.receive()
        await province.answer(tid, "resolve", "Pungutan dihentikan.", message_id="anon-r")
        await outbound.wait_for(has("resolved", tid))
        await reply(
            amqp, tid, "reopen", {"email": "Budi.Santoso@example.id"}, message="Belum.",
            message_id="anon-reopen",
        )  # fmt: skip
        await province.receive()
        await domain.wait_for(has("reopened", tid))
        raw_agency_messages = [m.body for m in agency_messages.messages]

    assert len(raw_agency_messages) == 4  # dispatch, new information, forward, reopen
    for raw in raw_agency_messages:
        disposition = json.loads(raw)
        assert disposition["anonymous"] is True
        assert "reporter_name" not in disposition
        for secret in secrets:
            assert secret.encode() not in raw, (secret, raw)
    for message in domain.messages:  # events are internal, but hold no identity either
        for secret in secrets:
            assert secret.encode() not in message.body, secret
    for record in caplog.records:
        if record.name.startswith("lapor"):
            logged = logged_text(record)
            for secret in secrets:
                assert secret not in logged, (secret, record.name, record.getMessage())


# --- idempotency and refusals ---------------------------------------------------------------


async def test_redelivered_messages_change_nothing(
    amqp: AbstractConnection, services: None, store: Store
) -> None:
    async with (
        Listener(amqp, topology.EVENTS, "complaint.*") as domain,
        Listener(amqp, topology.OPD, "opd.#") as agency_messages,
        AgencyDesk(amqp, "pupr-palembang") as desk,
    ):
        tid = await submit(amqp, store)
        await verify(amqp, store, tid, "jalan")
        await desk.receive()
        # The broker redelivers the verified event, and the agency's system retries.
        case = await stored(store, tid)
        verified = ComplaintVerified(
            message_id=f"verified:{tid}",
            tracking_id=tid,
            occurred_at=START,
            status=Status.VERIFIED,
            kind=Kind.PENGADUAN,
            category="jalan",
            severity=Severity.SEDANG,
            anonymous=case["anonymous"],
            confidential=False,
            by="system",
        )
        body = verified.model_dump_json().encode()
        await publish(amqp, topology.EVENTS, "complaint.verified", body, verified.message_id)
        for _ in range(3):
            await desk.answer(tid, "follow_up", "Sedang ditinjau.", message_id="pupr-fu-1")
        await domain.wait_for(has("followed_up", tid))
        await handled_after(amqp, "complaint.verified")
        await handled_after(amqp, "opd.respond")
        bodies = await domain.flush()
    assert len(events(bodies, "followed_up", tid)) == 1
    assert len(events(bodies, "dispatched", tid)) == 1
    assert len(agency_messages.messages) == 1
    case = await stored(store, tid)
    assert [t["step"] for t in case["timeline"]].count("follow_up") == 1
    assert case["applied"] == ["pupr-fu-1"]


@pytest.mark.parametrize(
    ("command", "why"),
    [
        ({"agency": "dinkes-palembang", "action": "follow_up", "message": "x"}, "wrong agency"),
        ({"agency": "pupr-palembang", "action": "resolve"}, "resolve without an answer"),
        ({"agency": "pupr-palembang", "action": "tolak", "message": "x"}, "unknown action"),
        ({"action": "follow_up", "message": "x"}, "no agency"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
async def test_an_answer_that_can_never_apply_is_dead_lettered_and_changes_nothing(
    amqp: AbstractConnection, services: None, store: Store, command: Json, why: str
) -> None:
    async with (
        AgencyDesk(amqp, "pupr-palembang") as desk,
        Listener(amqp, topology.EVENTS, "complaint.followed_up") as followed_up,
    ):
        tid = await submit(amqp, store)
        await verify(amqp, store, tid, "jalan")
        await desk.receive()
        body = {"message_id": "bad-1", "tracking_id": tid, "liaison": "X"} | command
        await publish(amqp, topology.COMMANDS, "opd.respond", body, "bad-1")
        refused = await dead_letter(amqp, "opd.respond")
        assert await followed_up.flush() == []  # refused: handled, nothing published
    assert json.loads(refused.body)["message_id"] == "bad-1", why
    case = await stored(store, tid)
    assert case["status"] == "dispatched" and "applied" not in case


# --- operating it -----------------------------------------------------------------------------


# --- issue 12: koordinasi, withdrawal, extension ------------------------------------------


async def unplaced_case(amqp: AbstractConnection, store: Store) -> str:
    """A verified case no rule places: it waits on the admin's desk (taken off it)."""
    tid = await submit(
        amqp,
        store,
        title="Tiang listrik miring",
        description="Tiang listrik miring hampir roboh ke badan jalan dekat puskesmas.",
        category="listrik",
    )
    await verify(amqp, store, tid, "listrik")

    async def waits() -> bool:
        return bool((await stored(store, tid))["status"] == "awaiting_routing")

    await eventually(waits)
    await take_all(amqp, "admin.review")
    return tid


async def test_a_koordinasi_case_supporting_agencies_inform_the_lead_who_alone_resolves(
    amqp: AbstractConnection, services: None, store: Store
) -> None:
    lead, helpers = "pupr-palembang", ["dinkes-palembang", "dishub-sumsel"]
    tid = await unplaced_case(amqp, store)
    async with (
        AgencyDesk(amqp, lead) as lead_desk,
        AgencyDesk(amqp, helpers[0]) as helper_desk,
        AgencyDesk(amqp, helpers[1]) as other_desk,
    ):
        body: Json = {
            "message_id": f"dispose-{uuid.uuid4().hex[:8]}",
            "tracking_id": tid,
            "agency": lead,
            "admin": "admin.pusat",
            "supporting": helpers,
        }
        await publish(amqp, topology.COMMANDS, "routing.dispose", body, body["message_id"])
        to_lead, _ = await lead_desk.receive()
        to_helper, _ = await helper_desk.receive()
        to_other, _ = await other_desk.receive()
        assert [d["role"] for d in (to_lead, to_helper, to_other)] == [
            "lead",
            "supporting",
            "supporting",
        ]
        assert {d["lead_agency"] for d in (to_lead, to_helper, to_other)} == {lead}

        await helper_desk.answer(tid, "add_information", "Puskesmas terdekat 50 m dari tiang.")
        notice, _ = await lead_desk.receive()
        assert (notice["notice"], notice["from_agency"]) == ("information_added", helpers[0])
        assert "Puskesmas terdekat" in notice["text"]

        await other_desk.answer(tid, "resolve", "Sudah kami tangani.")
        refused = await dead_letter(amqp, "opd.respond")
        assert json.loads(refused.body)["agency"] == helpers[1]
        assert (await stored(store, tid))["status"] == "dispatched"

        await lead_desk.answer(tid, "resolve", "Tiang sudah ditegakkan bersama PLN.")

        async def is_resolved() -> bool:
            return bool((await stored(store, tid))["status"] == "resolved")

        await eventually(is_resolved)
    case = await stored(store, tid)
    assert (case["agency"], case["supporting_agencies"]) == (lead, helpers)
    assert [n["agency"] for n in case["agency_notes"]] == [helpers[0]]
    assert case["final_answer"]["agency"] == lead
    steps = [t.step for t in await case_timeline(store, tid)]
    assert steps[-3:] == ["coordinate", "support", "resolve"]


async def test_the_reporter_withdraws_before_resolution_and_is_refused_after(
    amqp: AbstractConnection, services: None, store: Store
) -> None:
    async with (
        AgencyDesk(amqp, "pupr-palembang") as desk,
        Listener(amqp, topology.OUTBOUND, "channel.telegram") as outbound,
    ):
        tid = await submit(amqp, store)
        await verify(amqp, store, tid, "jalan")
        await desk.receive()
        await reply(amqp, tid, "withdraw", {"phone": SITI_PHONE})
        notice, _ = await desk.receive()
        [closed] = await arrived(outbound, "closed", tid)
        case = await stored(store, tid)
        assert (case["status"], case["close_reason"]) == ("closed", "withdrawn")
        assert (notice["notice"], notice["tracking_id"]) == ("withdrawn", tid)
        assert closed["text"]

        done = await resolved_case(amqp, store, desk)
        await reply(amqp, done, "withdraw", {"phone": SITI_PHONE})
        refused = await dead_letter(amqp, "reporter.reply")
    assert json.loads(refused.body)["tracking_id"] == done
    assert (await stored(store, done))["status"] == "resolved"
    assert await store.complaints.count_documents({"_id": tid}) == 1  # kept, not deleted


async def test_an_extension_is_asked_once_granted_by_the_admin_and_moves_the_deadline(
    amqp: AbstractConnection, services: None, store: Store
) -> None:
    async with AgencyDesk(amqp, "pupr-palembang") as desk:
        tid = await submit(amqp, store)
        await verify(amqp, store, tid, "jalan")
        await desk.receive()
        before = (await stored(store, tid))["deadlines"]["resolution"]
        until = (before + timedelta(days=10)).date()
        ask: Json = {
            "message_id": f"ext-{uuid.uuid4().hex[:8]}",
            "tracking_id": tid,
            "agency": "pupr-palembang",
            "liaison": "penghubung.pupr",
            "action": "request_extension",
            "message": "Menunggu anggaran perbaikan.",
            "extend_until": until.isoformat(),
        }
        await publish(amqp, topology.COMMANDS, "opd.respond", ask, ask["message_id"])

        async def requested() -> list[Json]:
            return [
                json.loads(m.body)
                for m in await take_all(amqp, "admin.review")
                if json.loads(m.body)["tracking_id"] == tid
            ]

        [request] = await eventually(requested)
        assert request["event"] == "extension_requested"
        again = ask | {"message_id": f"ext-{uuid.uuid4().hex[:8]}"}
        await publish(amqp, topology.COMMANDS, "opd.respond", again, again["message_id"])
        refused = await dead_letter(amqp, "opd.respond")
        assert json.loads(refused.body)["message_id"] == again["message_id"]

        grant: Json = {
            "message_id": f"grant-{uuid.uuid4().hex[:8]}",
            "tracking_id": tid,
            "admin": "admin.pusat",
            "grant": True,
        }
        await publish(amqp, topology.COMMANDS, "routing.extension", grant, grant["message_id"])
        notice, _ = await desk.receive()
    assert notice["notice"] == "extension_granted"
    case = await stored(store, tid)
    assert case["extension"]["state"] == "granted"
    assert case["deadlines"]["resolution"] > before
    assert case["deadlines"]["resolution"].date() in {until, until + timedelta(days=1)}


async def _lapor(settings: IntakeSettings, *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "lapor.cli",
        "agencies",
        *args,
        env=service_env(settings),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    return int(process.returncode or 0), out.decode()


async def test_lapor_agencies_load_upserts_declares_queues_and_deactivates_the_missing(
    amqp: AbstractConnection, settings: IntakeSettings, store: Store, tmp_path: Path
) -> None:
    code, out = await _lapor(settings, "load", str(sample_registry_path()))
    assert code == 0, out
    assert f"{len(AGENCY_CODES)} agencies added" in out
    assert await store.agencies.count_documents({"active": True}) == len(AGENCY_CODES)

    # Each agency's queue exists, bound to lapor.opd with its own key.
    await purge_agency_queues(amqp)
    await publish(amqp, topology.OPD, "opd.dinkes-sumsel", {"probe": 1})
    async with AgencyDesk(amqp, "dinkes-sumsel") as desk:
        probe, _ = await desk.receive()
    assert probe == {"probe": 1}

    smaller = yaml.safe_load(sample_registry_path().read_text())
    smaller["agencies"] = [a for a in smaller["agencies"] if a["code"].endswith("-palembang")]
    smaller_file = tmp_path / "palembang.yaml"
    smaller_file.write_text(yaml.safe_dump(smaller))
    code, out = await _lapor(settings, "load", str(smaller_file))
    assert code == 0, out
    kept = len(smaller["agencies"])
    assert f"0 agencies added, {kept} updated, {len(AGENCY_CODES) - kept} marked inactive" in out
    assert await store.agencies.count_documents({}) == len(AGENCY_CODES)  # none deleted
    inactive = await store.agencies.find_one({"_id": "dinkes-sumsel"})
    assert inactive is not None and inactive["active"] is False

    code, listing = await _lapor(settings, "list")
    assert code == 0 and "pdam-palembang" in listing and "dinkes-sumsel" not in listing
    code, listing = await _lapor(settings, "list", "--all")
    assert "dinkes-sumsel" in listing and "inactive" in listing

    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump({"categories": [], "agencies": [{"code": "X Y"}]}))
    code, out = await _lapor(settings, "load", str(broken))
    assert code == 2
    assert "agencies[0] (X Y): code" in out
    assert await store.agencies.count_documents({"active": True}) == kept  # nothing changed


async def test_lapor_agencies_load_sample_needs_no_file_path(
    settings: IntakeSettings, store: Store, tmp_path: Path
) -> None:
    code, out = await _lapor(settings, "load", "--sample")
    assert code == 0, out
    assert f"{len(AGENCY_CODES)} agencies added" in out
    assert await store.agencies.count_documents({"active": True}) == len(AGENCY_CODES)
    for wrong in ((), ("--sample", str(tmp_path / "x.yaml"))):
        code, out = await _lapor(settings, "load", *wrong)
        assert code == 2 and "give FILE or --sample" in out, wrong


async def _start_routing(settings: IntakeSettings, **env: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.routing",
        env=service_env(settings, **env),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def _outbox_empty(store: Store, tid: str) -> bool:
    return not (await stored(store, tid)).get("outbox")


@pytest.mark.slow
async def test_a_crash_between_store_and_publish_loses_no_disposition(
    amqp: AbstractConnection, settings: IntakeSettings, store: Store, registry: None
) -> None:
    async with intake_app.create(settings):
        tid = await submit(amqp, store)
    await purge_agency_queues(amqp)
    crashing = await _start_routing(settings, LAPOR_FAILPOINTS="routing.after_store=exit")
    await verify(amqp, store, tid, "jalan")
    assert await asyncio.wait_for(crashing.wait(), timeout=60) == 137  # died after storing

    case = await stored(store, tid)
    assert case["status"] == "dispatched"
    pending = [m["routing_key"] for m in case["outbox"]]
    assert pending == ["opd.pupr-palembang", "complaint.dispatched"]
    async with AgencyDesk(amqp, "pupr-palembang") as desk:
        assert await desk.waiting() == 0, "nothing was published before the crash"
        restarted = await _start_routing(settings)
        try:
            disposition, _ = await desk.receive(timeout=60)
            # The barrier: the relay empties the outbox only after the broker confirmed
            # every pending message, so once it is empty nothing more is on its way.
            await eventually(lambda: _outbox_empty(store, tid), timeout=60)
            assert await desk.waiting() == 0  # exactly once
        finally:
            restarted.terminate()
            assert await asyncio.wait_for(restarted.wait(), timeout=60) == 0
    assert disposition["message_id"] == f"disposition:{tid}:1"
    assert (await stored(store, tid)).get("outbox", []) == []
