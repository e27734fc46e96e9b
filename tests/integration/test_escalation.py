"""Escalation against a real RabbitMQ and the MongoDB server, with time moved by hand.

Cases are written as intake, verification and routing would leave them (the fields of
the ``shared/storage.py`` docstring; a dispatched case with the timer routing stores
with it, ``shared/timers.py``), and the domain events escalation takes are published on
``lapor.events``; what escalation does is observed as an outside system sees it:
``complaint.*`` events on ``lapor.events``, notices on the ``oversight.<target>`` queues,
and the stored case.

November 2026 has no holidays. A case disposed on Mon 2 Nov 09:00 WIB must be followed
up by the end of Mon 9 Nov: reminder Fri 6 Nov, pimpinan Tue 10 Nov, Inspektorat Fri 13
Nov, Ombudsman Fri 20 Nov (all at 00:00 WIB; see tests/unit/test_escalation_policy.py).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import signal
import subprocess
from collections import Counter
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import aio_pika
import pytest

from services.escalation import app as escalation_app
from services.escalation.handlers import Escalation
from services.escalation.settings import EscalationSettings
from shared import topology
from shared.calendar import WorkingCalendar
from shared.clock import ManualClock
from shared.contract import (
    ComplaintDeferred,
    ComplaintFollowedUp,
    ComplaintNeedsReview,
    ComplaintResolved,
    Reporter,
    to_json_dict,
)
from shared.lifecycle import Severity, Status
from shared.pii import IdentityProtector
from shared.runtime import Service
from shared.settings import IntakeSettings
from shared.sla import SlaPolicy
from shared.storage import Store
from shared.timers import timer_of
from shared.tracking import new_tracking_id
from tests.conftest import make_settings, start_service, wait_exit
from tests.servers import Servers
from tests.support import Json, Listener, eventually, logged_text, publish

pytestmark = pytest.mark.integration

WIB = ZoneInfo("Asia/Jakarta")
CAL = WorkingCalendar()
AGENCY = "dinkes-sumsel"
AGENCY_NAME = "Dinas Kesehatan Provinsi Sumatera Selatan"
OTHER_AGENCY = "dinkes-palembang"  # a second agency: its reminders are never the first's
REPORTER_NAME = "Siti Aminah"  # must never reach an agency, an oversight office or a log


def wib(month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, second, tzinfo=WIB)


def escalation_settings(servers: Servers, db_name: str, **overrides: Any) -> EscalationSettings:
    base = make_settings(servers, db_name)
    return EscalationSettings.from_base(base, **({"escalation_scan_seconds": 0.1} | overrides))


# --- writing cases as the other services would ------------------------------------------


def base_case(tid: str, received_at: dt.datetime, protector: IdentityProtector) -> Json:
    """A case as intake stores it."""
    return {
        "_id": tid,
        "tracking_id": tid,
        "channel": "web",
        "external_id": f"web-{tid}",
        "kind": "pengaduan",
        "title": "Puskesmas tutup di jam layanan",
        "description": "Puskesmas Sukarami tutup pada jam layanan tiga hari berturut-turut.",
        "anonymous": False,
        "confidential": False,
        "reporter": {
            "sealed": protector.seal_model(
                Reporter(name=REPORTER_NAME, phone="+6281277889900"), tid
            ),
            "fingerprints": [],
            "has_contact": True,
        },
        "status": str(Status.RECEIVED),
        "submitted_at": received_at,
        "received_at": received_at,
        "updated_at": received_at,
        "deadlines": {"verification": SlaPolicy().verification_deadline(CAL, received_at)},
        "timeline": [{"at": received_at, "step": "receive", "actor": "reporter", "to": "received"}],
    }


def dispatched_case(
    tid: str,
    disposed_at: dt.datetime,
    protector: IdentityProtector,
    severity: Severity = Severity.SEDANG,
    sla: SlaPolicy | None = None,
) -> Json:
    """A case as routing leaves it on an agency's queue."""
    sla = sla or SlaPolicy()
    case = base_case(tid, disposed_at - dt.timedelta(days=3), protector)
    case["deadlines"] |= {
        "follow_up": sla.follow_up_deadline(CAL, disposed_at),
        "resolution": sla.resolution_deadline(CAL, disposed_at, severity),
    }
    case |= {
        "status": str(Status.DISPATCHED),
        "severity": str(severity),
        "category": "kesehatan",
        "agency": AGENCY,
        "agency_name": AGENCY_NAME,
        "dispatched_at": disposed_at,
    }
    # Routing stores the timer with the dispatch: escalation is not told of it.
    case["escalation"] = timer_of(case, sla, CAL)
    return case


def answered_case(tid: str, answered_at: dt.datetime, protector: IdentityProtector) -> Json:
    """A case its agency answered (routing's follow-up), its timer not yet moved."""
    case = dispatched_case(tid, answered_at - dt.timedelta(days=1), protector)
    return case | {"status": str(Status.IN_PROGRESS), "first_answer_at": answered_at}


async def announce_follow_up(amqp: aio_pika.abc.AbstractConnection, case: Json) -> None:
    """Routing's event for a case the agency answered (``first_answer_at`` on the case)."""
    followed_up = ComplaintFollowedUp(
        message_id=f"followed_up:{case['_id']}:1",
        tracking_id=case["_id"],
        occurred_at=case["first_answer_at"],
        status=Status.IN_PROGRESS,
        agency=case["agency"],
    )
    await publish(amqp, topology.EVENTS, "complaint.followed_up", to_json_dict(followed_up))


# --- watching ---------------------------------------------------------------------------


async def nothing_due(service: Service) -> None:
    """A barrier: a scan of the service's own store and clock finds nothing due now.

    Run directly, not waited for: a step that is due is fired by this very scan (and the
    assertion fails), so nothing can fire after it at this instant.
    """
    scanner = Escalation(service.context, lease=dt.timedelta(seconds=30), batch=1000)
    assert await scanner.scan_once() == 0, "a step was due"


async def timer_is(store: Store, tid: str, expected: dt.datetime | None) -> None:
    """Wait until the case's stored timer is ``expected`` and its outbox is empty."""

    async def check() -> bool:
        doc = await store.complaints.find_one({"_id": tid}, {"escalation": 1, "outbox": 1})
        if doc is None or doc.get("outbox"):
            return False
        stored = (doc.get("escalation") or {}).get("next_at", "absent")
        if expected is None:
            return stored == "absent" and "escalation" in doc
        return bool(stored == expected)

    await eventually(check, timeout=15)


async def drain(amqp: aio_pika.abc.AbstractConnection, queue_name: str) -> list[Json]:
    """Every message waiting on a durable queue, as an oversight office would read them."""
    channel = await amqp.channel()
    queue = await channel.get_queue(queue_name)
    bodies: list[Json] = []
    while (message := await queue.get(no_ack=True, fail=False)) is not None:
        assert message.routing_key is not None
        bodies.append(json.loads(message.body) | {"_routing_key": message.routing_key})
    await channel.close()
    return bodies


def steps(bodies: list[Json], tid: str) -> list[tuple[str, int]]:
    """``(deadline_kind, level)`` of each reminder (level 0) and escalation of one case."""
    return [(b["deadline_kind"], b.get("level", 0)) for b in bodies if b["tracking_id"] == tid]


def at_level(level: int, count: int) -> Callable[[list[Json]], bool]:
    """A ``wait_for`` condition: ``count`` escalations at ``level`` have arrived."""
    return lambda bodies: sum(b["level"] == level for b in bodies) >= count


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(wib(11, 2, 9))


# --- the scenarios ----------------------------------------------------------------------


async def test_a_late_case_climbs_reminder_to_ombudsman_each_step_once_with_two_replicas(
    amqp: aio_pika.abc.AbstractConnection,
    servers: Servers,
    db_name: str,
    store: Store,
    protector: IdentityProtector,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    settings = escalation_settings(servers, db_name)
    # One case narrated, eleven more so that both replicas have work at the same instants.
    cases = [dispatched_case(new_tracking_id(), wib(11, 2, 9), protector) for _ in range(12)]
    for case in cases[6:]:  # half of them with another agency
        case["agency"] = OTHER_AGENCY
    tid = cases[0]["_id"]
    follow_up = cases[0]["deadlines"]["follow_up"]
    async with (
        Listener(amqp, topology.EVENTS, "complaint.reminder") as reminders,
        Listener(amqp, topology.EVENTS, "complaint.escalated") as escalations,
        Listener(amqp, topology.OVERSIGHT, "#") as oversight,
        escalation_app.create(settings, clock) as service,
        escalation_app.create(settings, clock),
    ):
        # Each agency's liaison has its own reminder queue, declared with the agency.
        channel = await amqp.channel()
        for code in (AGENCY, OTHER_AGENCY):
            await topology.declare_queue(
                channel, topology.liaison_queue(code), settings.delivery_limit
            )
            await drain(amqp, f"penghubung.{code}")  # left over by an earlier run
        await channel.close()
        await store.complaints.insert_many(cases)
        for case in cases:
            await timer_is(store, case["_id"], wib(11, 6))  # the reminder's time, stored

        # Thu 5 Nov: nothing is due yet.
        clock.set(wib(11, 5, 16))
        await nothing_due(service)
        assert await reminders.flush() == []

        # Fri 6 Nov: the liaison is reminded, one working day before the deadline.
        clock.set(wib(11, 6, 8))
        await reminders.wait_for(lambda b: len(b) >= 12)
        for case in cases:
            await timer_is(store, case["_id"], wib(11, 10))

        # The deadline's last minute still meets it: no escalation yet.
        clock.set(wib(11, 9, 23, 59, 59))
        await nothing_due(service)
        assert await escalations.flush() == []

        # Level 1 at the first instant that misses it, then 2 and 3.
        for moment, level, next_at in [
            (wib(11, 10), 1, wib(11, 13)),
            (wib(11, 13, 8), 2, wib(11, 20)),
            (wib(11, 20, 8), 3, None),
        ]:
            clock.set(moment)
            await escalations.wait_for(at_level(level, 12))
            for case in cases:
                await timer_is(store, case["_id"], next_at)

        # Weeks later, nothing more: the ladder has no level 4.
        clock.set(wib(12, 14, 9))
        await nothing_due(service)
        await escalations.flush()
        await oversight.flush()

    assert steps(reminders.bodies(), tid) == [("follow_up", 0)]
    assert steps(escalations.bodies(), tid) == [
        ("follow_up", 1),
        ("follow_up", 2),
        ("follow_up", 3),
    ]
    [reminder] = [b for b in reminders.bodies() if b["tracking_id"] == tid]
    assert reminder["target"] == "penghubung"
    assert reminder["agency"] == AGENCY
    assert reminder["status"] == "dispatched"
    assert dt.datetime.fromisoformat(reminder["deadline"]) == follow_up
    levels = {b["level"]: b for b in escalations.bodies() if b["tracking_id"] == tid}
    assert [levels[n]["target"] for n in (1, 2, 3)] == ["pimpinan", "inspektorat", "ombudsman"]

    # Each step of each case exactly once, over both replicas.
    every_step = Counter(
        (b["tracking_id"], b.get("level", 0)) for b in reminders.bodies() + escalations.bodies()
    )
    assert set(every_step.values()) == {1}
    assert len(every_step) == 12 * 4

    # Each reminder reaches only its own agency's liaison (issue 12), once per case.
    for code in (AGENCY, OTHER_AGENCY):
        liaison = await drain(amqp, f"penghubung.{code}")
        own = sorted(c["_id"] for c in cases if c["agency"] == code)
        assert sorted(n["tracking_id"] for n in liaison) == own
        assert {(n["_routing_key"], n["level"]) for n in liaison} == {(f"penghubung.{code}", 0)}
    assert await drain(amqp, "oversight.penghubung") == []  # the admin desk's only
    # Each oversight office got its own notice of each case, once, keyed by the agency.
    for target, level in [("pimpinan", 1), ("inspektorat", 2), ("ombudsman", 3)]:
        notices = await drain(amqp, f"oversight.{target}")
        assert sorted(n["tracking_id"] for n in notices) == sorted(c["_id"] for c in cases)
        [notice] = [n for n in notices if n["tracking_id"] == tid]
        assert notice["_routing_key"] == f"{target}.{AGENCY}"
        assert notice["level"] == level
        assert notice["deadline_kind"] == "follow_up"
        assert tid in notice["summary"]
    assert all(REPORTER_NAME not in json.dumps(b) for b in oversight.bodies())
    logged = [r for r in caplog.records if r.name.startswith("lapor.escalation")]
    assert any(getattr(r, "step", None) for r in logged)  # the steps were logged...
    for record in logged:  # ...and no reporter identity with them
        text = logged_text(record)
        assert REPORTER_NAME not in text and "81277889900" not in text

    stored = await store.complaints.find_one({"_id": tid})
    assert stored is not None
    assert stored["status"] == "dispatched"  # escalation never changes who holds the case
    assert [e["step"] for e in stored["timeline"]][-4:] == ["remind"] + ["escalate"] * 3


async def test_a_case_answered_after_level_1_stops_climbing(
    amqp: aio_pika.abc.AbstractConnection,
    servers: Servers,
    db_name: str,
    store: Store,
    protector: IdentityProtector,
    clock: ManualClock,
) -> None:
    settings = escalation_settings(servers, db_name)
    case = dispatched_case(new_tracking_id(), wib(11, 2, 9), protector, Severity.BERAT)
    tid = case["_id"]
    async with (
        Listener(amqp, topology.EVENTS, "complaint.reminder") as reminders,
        Listener(amqp, topology.EVENTS, "complaint.escalated") as escalations,
        escalation_app.create(settings, clock) as service,
    ):
        await store.complaints.insert_one(case)
        await timer_is(store, tid, wib(11, 6))
        clock.set(wib(11, 6, 8))
        await reminders.wait_for(lambda b: len(b) == 1)
        await timer_is(store, tid, wib(11, 10))
        clock.set(wib(11, 10, 8))
        await escalations.wait_for(lambda b: len(b) == 1)  # pimpinan knows
        await timer_is(store, tid, wib(11, 13))

        # Wed 11 Nov: the agency answers, late; routing records it and says so.
        clock.set(wib(11, 11, 10))
        await store.complaints.update_one(
            {"_id": tid},
            {"$set": {"status": "in_progress", "first_answer_at": clock.now()}},
        )
        followed_up = ComplaintFollowedUp(
            message_id=f"followed_up:{tid}:1",
            tracking_id=tid,
            occurred_at=clock.now(),
            status=Status.IN_PROGRESS,
            agency=AGENCY,
        )
        await publish(amqp, topology.EVENTS, "complaint.followed_up", to_json_dict(followed_up))
        # The resolution deadline (berat: end of Wed 2 Dec) now runs: reminder Tue 1 Dec.
        await timer_is(store, tid, wib(12, 1))

        # Past the old ladder's Inspektorat (Fri 13) and Ombudsman (Fri 20) instants.
        clock.set(wib(11, 23, 9))
        await nothing_due(service)
        assert len(await escalations.flush()) == 1

        # The new deadline has its own ladder: its reminder comes on Tue 1 Dec.
        clock.set(wib(12, 1, 8))
        await reminders.wait_for(lambda b: len(b) == 2)
        await timer_is(store, tid, wib(12, 3))  # handled: next, its pimpinan on Thu 3 Dec
        await reminders.flush()

    assert steps(escalations.bodies(), tid) == [("follow_up", 1)]
    assert steps(reminders.bodies(), tid) == [("follow_up", 0), ("resolution", 0)]


async def test_a_stale_event_arriving_last_does_not_bring_back_an_old_deadline(
    amqp: aio_pika.abc.AbstractConnection,
    servers: Servers,
    db_name: str,
    store: Store,
    protector: IdentityProtector,
    clock: ManualClock,
) -> None:
    settings = escalation_settings(servers, db_name)
    # Resolved on Fri 30 Oct, reopened by the reporter and dispatched again on Mon 2 Nov:
    # the follow-up deadline runs again (reminder Fri 6 Nov), the old auto-close does not.
    case = dispatched_case(new_tracking_id(), wib(11, 2, 9), protector)
    resolved_at = wib(10, 30, 10)
    auto_close = SlaPolicy().auto_close_at(CAL, resolved_at)
    case |= {"resolved_at": resolved_at}
    case["deadlines"]["auto_close"] = auto_close
    sentinel = answered_case(new_tracking_id(), wib(11, 2, 9), protector)
    async with escalation_app.create(settings, clock):
        await store.complaints.insert_many([case, sentinel])
        # The resolution's event, delivered only now (and stamped fresh, so that the
        # timer it implies is tried: the stored status must refuse it).
        resolved = ComplaintResolved(
            message_id=f"resolved:{case['_id']}:1",
            tracking_id=case["_id"],
            occurred_at=clock.now(),
            status=Status.RESOLVED,
            agency=AGENCY,
            auto_close_at=auto_close,
        )
        await publish(amqp, topology.EVENTS, "complaint.resolved", to_json_dict(resolved))
        await announce_follow_up(amqp, sentinel)  # handled after it, on the same queue
        await eventually(
            lambda: store.complaints.find_one(
                {"_id": sentinel["_id"], "escalation.live.kind": "resolution"}
            )
        )
        await timer_is(store, case["_id"], wib(11, 6))  # not the auto-close's instant
        stored = await store.complaints.find_one({"_id": case["_id"]}, {"escalation": 1})
        assert stored is not None
        assert stored["escalation"]["live"]["kind"] == "follow_up"


async def test_a_service_stopped_for_three_days_catches_up_on_start(
    amqp: aio_pika.abc.AbstractConnection,
    servers: Servers,
    db_name: str,
    store: Store,
    protector: IdentityProtector,
    clock: ManualClock,
) -> None:
    # Short periods between the levels: pimpinan Tue 10, Inspektorat Wed 11, Ombudsman Thu 12.
    sla = SlaPolicy(inspectorate_after_days=1, ombudsman_after_days=1)
    settings = escalation_settings(servers, db_name, sla=sla)
    late = dispatched_case(new_tracking_id(), wib(11, 2, 9), protector, sla=sla)
    async with (
        Listener(amqp, topology.EVENTS, "complaint.reminder") as reminders,
        Listener(amqp, topology.EVENTS, "complaint.escalated") as escalations,
    ):
        async with escalation_app.create(settings, clock):
            # The agency's liaison has its own reminder queue, declared with the agency.
            channel = await amqp.channel()
            await topology.declare_queue(
                channel, topology.liaison_queue(AGENCY), settings.delivery_limit
            )
            await channel.close()
            await drain(amqp, f"penghubung.{AGENCY}")  # other tests' reminders
            await store.complaints.insert_one(late)
            clock.set(wib(11, 6, 8))
            await reminders.wait_for(lambda b: len(b) == 1)
            await timer_is(store, late["_id"], wib(11, 10))
            clock.set(wib(11, 9, 12))
        # Down from Mon 9 Nov noon to Thu 12 Nov noon. Meanwhile a new report comes in and
        # is held for the admin; its event waits on the durable queue.
        clock.set(wib(11, 10, 9))
        waiting = base_case(new_tracking_id(), clock.now(), protector)
        waiting["status"] = "needs_review"  # verification deadline: end of Fri 13 Nov
        await store.complaints.insert_one(waiting)
        needs_review = ComplaintNeedsReview(
            message_id=f"needs_review:{waiting['_id']}",
            tracking_id=waiting["_id"],
            occurred_at=clock.now(),
            status=Status.NEEDS_REVIEW,
        )
        await publish(amqp, topology.EVENTS, "complaint.needs_review", to_json_dict(needs_review))
        clock.set(wib(11, 12, 12))
        assert escalations.bodies() == []

        async with escalation_app.create(settings, clock):
            await escalations.wait_for(lambda b: len(b) >= 3)
            await reminders.wait_for(lambda b: len(b) >= 2)
            await timer_is(store, late["_id"], None)  # the whole ladder has fired
            await timer_is(store, waiting["_id"], wib(11, 14))  # its pimpinan: Sat 00:00
            await escalations.flush()  # both handled, their outboxes empty: all published

    # In order, each once; the reminder that fired before the outage is not repeated.
    assert steps(escalations.bodies(), late["_id"]) == [
        ("follow_up", 1),
        ("follow_up", 2),
        ("follow_up", 3),
    ]
    assert steps(reminders.bodies(), late["_id"]) == [("follow_up", 0)]
    # The admin's own deadline: reminded on Thu 12 (one working day before Fri 13), on the
    # central admin's chain.
    [admin_reminder] = [b for b in reminders.bodies() if b["tracking_id"] == waiting["_id"]]
    assert admin_reminder["deadline_kind"] == "verification"
    assert "agency" not in admin_reminder
    # Each reminder reaches only the one who must act (issue 12): the admin desk's stays on
    # the shared queue, the agency's goes to its liaison's own queue.
    penghubung = await drain(amqp, "oversight.penghubung")
    assert [n["_routing_key"] for n in penghubung] == ["penghubung.admin"]
    liaison = await drain(amqp, f"penghubung.{AGENCY}")
    assert [(n["_routing_key"], n["tracking_id"]) for n in liaison] == [
        (f"penghubung.{AGENCY}", late["_id"])
    ]
    for target in ("pimpinan", "inspektorat", "ombudsman"):
        [notice] = await drain(amqp, f"oversight.{target}")
        assert (notice["tracking_id"], notice["_routing_key"]) == (
            late["_id"],
            f"{target}.{AGENCY}",
        )


async def test_a_resolved_case_with_no_reply_closes_itself_after_10_working_days(
    amqp: aio_pika.abc.AbstractConnection,
    servers: Servers,
    db_name: str,
    store: Store,
    protector: IdentityProtector,
    clock: ManualClock,
) -> None:
    settings = escalation_settings(servers, db_name)
    resolved_at = wib(11, 2, 10)
    auto_close = SlaPolicy().auto_close_at(CAL, resolved_at)
    # 10 working days after Mon 2 Nov: Tue 3 .. Mon 16 Nov; it closes as Tue 17 begins.
    assert auto_close == wib(11, 17)
    case = dispatched_case(new_tracking_id(), wib(10, 26, 9), protector)
    tid = case["_id"]
    case |= {
        "status": "resolved",
        "first_answer_at": wib(10, 28, 9),
        "resolved_at": resolved_at,
    }
    case["deadlines"]["auto_close"] = auto_close
    clock.set(resolved_at)
    async with (
        Listener(amqp, topology.EVENTS, "complaint.closed") as closed,
        escalation_app.create(settings, clock) as service,
    ):
        await store.complaints.insert_one(case)
        resolved = ComplaintResolved(
            message_id=f"resolved:{tid}:1",
            tracking_id=tid,
            occurred_at=resolved_at,
            status=Status.RESOLVED,
            agency=AGENCY,
            auto_close_at=auto_close,
        )
        await publish(amqp, topology.EVENTS, "complaint.resolved", to_json_dict(resolved))
        await timer_is(store, tid, auto_close)

        clock.set(wib(11, 16, 23, 59, 59))  # the reporter's last day, to its last second
        await nothing_due(service)
        assert await closed.flush() == []
        clock.set(wib(11, 17))
        [event] = await closed.wait_for(lambda b: len(b) >= 1)
        await timer_is(store, tid, None)
        # A late copy of the resolved event changes nothing.
        await publish(amqp, topology.EVENTS, "complaint.resolved", to_json_dict(resolved))
        # A case's event sent after it is handled after it, on the same queue.
        sentinel = answered_case(new_tracking_id(), wib(11, 17), protector)
        await store.complaints.insert_one(sentinel)
        await announce_follow_up(amqp, sentinel)
        await eventually(
            lambda: store.complaints.find_one(
                {"_id": sentinel["_id"], "escalation.live.kind": "resolution"}
            )
        )
        await nothing_due(service)
        await closed.flush()
        await timer_is(store, tid, None)

    assert closed.bodies() == [event]
    assert event["reason"] == "no_reply"
    assert event["status"] == "closed"
    assert event["tracking_id"] == tid
    stored = await store.complaints.find_one({"_id": tid})
    assert stored is not None
    assert stored["status"] == "closed"
    last = stored["timeline"][-1]
    assert (last["step"], last["actor"], last["from"], last["to"]) == (
        "auto_close",
        "clock",
        "resolved",
        "closed",
    )
    assert stored.get("outbox", []) == []


async def test_an_unanswered_deferral_reminds_the_reporter_then_is_archived_no_reply(
    amqp: aio_pika.abc.AbstractConnection,
    servers: Servers,
    db_name: str,
    store: Store,
    protector: IdentityProtector,
    clock: ManualClock,
) -> None:
    settings = escalation_settings(servers, db_name)
    deferred_at = wib(11, 2, 9)
    window = SlaPolicy().deferral_deadline(CAL, deferred_at)
    # 10 working days after Mon 2 Nov: Tue 3 .. Mon 16 Nov, to its last instant.
    assert window == wib(11, 17) - dt.timedelta(microseconds=1)
    case = base_case(new_tracking_id(), deferred_at - dt.timedelta(hours=3), protector)
    tid = case["_id"]
    case |= {"status": "deferred", "question": "Di RT berapa?"}
    case["deadlines"]["deferral"] = window
    clock.set(deferred_at)
    async with (
        Listener(amqp, topology.EVENTS, "complaint.reminder") as reminders,
        Listener(amqp, topology.EVENTS, "complaint.archived") as archived,
        Listener(amqp, topology.OVERSIGHT, "#") as oversight,
        escalation_app.create(settings, clock) as service,
    ):
        await store.complaints.insert_one(case)
        deferred = ComplaintDeferred(
            message_id=f"deferred:{tid}:1",
            tracking_id=tid,
            occurred_at=deferred_at,
            status=Status.DEFERRED,
            reporter_message="Di RT berapa?",
            deferral_deadline=window,
        )
        await publish(amqp, topology.EVENTS, "complaint.deferred", to_json_dict(deferred))
        await eventually(lambda: _has_timer(store, tid), timeout=15)

        clock.set(wib(11, 16, 23, 59, 59))  # day 10, its last second: reminded, not archived
        [reminder] = await reminders.wait_for(lambda b: len(b) >= 1)
        await nothing_due(service)
        assert await archived.flush() == []
        clock.set(wib(11, 17))
        [event] = await archived.wait_for(lambda b: len(b) >= 1)
        await timer_is(store, tid, None)
        await oversight.flush()

    assert (reminder["target"], reminder["deadline_kind"]) == ("pelapor", "deferral")
    assert oversight.bodies() == []  # the reporter's own deadline: no oversight notice
    assert (event["reason"], event["status"]) == ("no_reply", "archived")
    assert event["message_id"] == f"expire_deferral:{tid}"
    assert event["reporter_message"]  # the reporter is told (intake turns it into a notice)
    stored = await store.complaints.find_one({"_id": tid})
    assert stored is not None
    assert (stored["status"], stored["archive_reason"]) == ("archived", "no_reply")
    assert [e["step"] for e in stored["timeline"]][-2:] == ["remind", "expire_deferral"]


async def _has_timer(store: Store, tid: str) -> bool:
    doc = await store.complaints.find_one({"_id": tid}, {"escalation": 1})
    return bool(doc and (doc.get("escalation") or {}).get("next_at"))


def _start_escalation(settings: IntakeSettings, **env: str) -> subprocess.Popen[bytes]:
    return start_service(
        "escalation",
        settings,
        LAPOR_ESCALATION_SCAN_SECONDS="0.2",
        LAPOR_ESCALATION_LEASE_SECONDS="2",
        # Long enough that a slow machine's own publish is never raced by the relay.
        LAPOR_OUTBOX_GRACE_SECONDS="5",
        **env,
    )


@pytest.mark.slow
async def test_a_crash_between_recording_a_step_and_publishing_it_loses_and_repeats_nothing(
    amqp: aio_pika.abc.AbstractConnection,
    settings: IntakeSettings,
    store: Store,
    protector: IdentityProtector,
) -> None:
    # Real time here (a separate process): a case disposed two months ago, never answered,
    # so its whole ladder is due.
    disposed_at = dt.datetime.now(dt.UTC) - dt.timedelta(days=60)
    case = dispatched_case(new_tracking_id(), disposed_at, protector)
    tid = case["_id"]
    # The agency's liaison reads its own reminder queue (issue 12), emptied of other tests'.
    channel = await amqp.channel()
    await topology.declare_queue(channel, topology.liaison_queue(AGENCY), settings.delivery_limit)
    await channel.close()
    await drain(amqp, f"penghubung.{AGENCY}")
    await store.complaints.insert_one(case)
    async with (
        Listener(amqp, topology.EVENTS, "complaint.reminder") as reminders,
        Listener(amqp, topology.EVENTS, "complaint.escalated") as escalations,
    ):
        crashing = _start_escalation(settings, LAPOR_FAILPOINTS="escalation.after_fire=exit")
        assert await wait_exit(crashing) == 137  # died right after recording the reminder
        stored = await store.complaints.find_one({"_id": tid})
        assert stored is not None
        assert len(stored["escalation"]["fired"]) == 1, "the reminder was recorded"
        assert len(stored["outbox"]) == 2, "its event and notice are pending"
        assert reminders.bodies() == [], "and were not published"

        restarted = _start_escalation(settings)
        try:
            await escalations.wait_for(lambda b: len(b) >= 3, timeout=60)
            await reminders.wait_for(lambda b: len(b) >= 1, timeout=30)
            await timer_is(store, tid, None)  # the whole ladder handled, nothing pending
            await escalations.flush()
        finally:
            restarted.send_signal(signal.SIGTERM)
            assert await wait_exit(restarted) == 0
    assert steps(reminders.bodies(), tid) == [("follow_up", 0)]
    assert sorted(steps(escalations.bodies(), tid)) == [
        ("follow_up", 1),
        ("follow_up", 2),
        ("follow_up", 3),
    ]
    notices = [
        n
        for queue in (
            f"penghubung.{AGENCY}",
            *(f"oversight.{t}" for t in ("pimpinan", "inspektorat", "ombudsman")),
        )
        for n in await drain(amqp, queue)
    ]
    assert Counter(n["level"] for n in notices) == {0: 1, 1: 1, 2: 1, 3: 1}
