"""The timer an event implies, written without reading the case: when it may be, and that
its guard holds exactly while the presumed timer is the one a read would compute."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mongomock.filtering import filter_applies

from services.escalation.decisions import FRESH, presume
from shared.calendar import WorkingCalendar
from shared.contract import ComplaintDispatched, ComplaintVerified, to_json_dict
from shared.escalation_policy import PLAN_INPUTS, CaseClock, DeadlineKind, Plan, plan
from shared.lifecycle import Severity, Status
from shared.sla import SlaPolicy
from tests import factories

pytestmark = pytest.mark.unit

SLA = SlaPolicy()
CAL = WorkingCalendar()
AT = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


def as_stored(value: Any) -> Any:
    """A value as MongoDB gives it back: datetimes in UTC, to the millisecond."""
    if isinstance(value, datetime):
        value = value.astimezone(UTC)
        return value.replace(microsecond=value.microsecond // 1000 * 1000)
    if isinstance(value, dict):
        return {k: as_stored(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_stored(v) for v in value]
    return value


def timer(the_plan: Plan) -> tuple[object, ...]:
    """What a plan stores and fires: its live deadline, next time and pending steps."""
    live = the_plan.live
    return (
        None if live is None else (live.kind, live.at),
        the_plan.next_at,
        tuple((r.key, r.due_at) for r in the_plan.pending),
    )


def read_plan(doc: dict[str, Any]) -> Plan:
    """The plan the read path computes from a stored case."""
    return plan(SLA, CAL, CaseClock.from_document(doc))


def event_json(event: Any) -> dict[str, Any]:
    """An event as escalation receives it: its JSON."""
    return to_json_dict(event)


def test_each_status_plan_reads_only_its_inputs() -> None:
    """Changing any policy field outside ``PLAN_INPUTS[status]`` never changes the timer."""
    rng = random.Random(11)
    moments = [None, AT, AT + timedelta(days=3), AT + timedelta(days=9), AT + timedelta(days=30)]
    kinds = [f"deadlines.{k}" for k in DeadlineKind]
    fields = [*kinds, "dispatched_at", "first_answer_at", "agency_tz"]
    for status, _ in itertools.product(Status, range(60)):
        values = {f: rng.choice(moments) for f in fields}
        values["agency_tz"] = rng.choice([None, "Asia/Makassar"])
        doc = _doc(status, values)
        kept = {f: v for f, v in values.items() if f in PLAN_INPUTS[status]}
        others = {f: rng.choice(moments) for f in fields if f not in PLAN_INPUTS[status]}
        if "agency_tz" in others:
            others["agency_tz"] = rng.choice([None, "Asia/Jayapura"])
        assert timer(read_plan(doc)) == timer(read_plan(_doc(status, kept | others))), status


def _doc(status: Status, values: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {"_id": "7KQM-X3RT-9DHV", "status": str(status), "deadlines": {}}
    for path, value in values.items():
        if value is None:
            continue
        if path.startswith("deadlines."):
            doc["deadlines"][path.removeprefix("deadlines.")] = value
        else:
            doc[path] = value
    return as_stored(doc)


def test_a_fresh_received_event_implies_the_timer_a_read_would_store() -> None:
    stored = as_stored(factories.received(AT))
    event = event_json(factories.received_event(stored))
    presumed = presume(stored["_id"], event, AT + timedelta(seconds=1), SLA, CAL)
    assert presumed is not None
    assert timer(presumed.the_plan) == timer(read_plan(stored))
    assert presumed.the_plan.next_at is not None
    assert filter_applies(presumed.filter(), stored)
    update = presumed.update()
    assert update["$set"]["escalation.next_at"] == presumed.the_plan.next_at
    assert update["$set"]["escalation.live"]["kind"] == "verification"


def test_its_guard_misses_once_the_case_is_not_as_the_event_says() -> None:
    stored = as_stored(factories.received(AT))
    presumed = presume(
        stored["_id"],
        event_json(factories.received_event(stored)),
        AT,
        SLA,
        CAL,
    )
    assert presumed is not None
    first_key = presumed.the_plan.pending[0].key
    moved_on = [
        stored | {"status": "verified"},
        stored | {"deadlines": {"verification": AT + timedelta(days=9)}},
        stored | {"escalation": {"fired": [first_key]}},
    ]
    for doc in moved_on:
        assert not filter_applies(presumed.filter(), doc)
        assert timer(read_plan(doc)) != timer(presumed.the_plan)
    # A step of another deadline fired earlier does not change this one's plan.
    other = stored | {"escalation": {"fired": ["follow_up:2026-01-01T00:00:00.000+00:00:L0"]}}
    assert filter_applies(presumed.filter(), other)
    assert timer(read_plan(other)) == timer(presumed.the_plan)


def test_a_dispatch_implies_the_follow_up_timer_unless_answered_or_in_another_zone() -> None:
    stored = as_stored(factories.dispatched(factories.received(AT - timedelta(days=1)), AT))
    dispatched = ComplaintDispatched(
        message_id="dispatched:x:1",
        tracking_id=stored["_id"],
        occurred_at=AT,
        status=Status.DISPATCHED,
        agency="pupr-palembang",
        agency_name="Dinas PUPR",
        hop=1,
        follow_up_deadline=factories.dispatched(factories.received(AT), AT)["deadlines"][
            "follow_up"
        ],
        resolution_deadline=stored["deadlines"]["resolution"],
        severity=Severity.SEDANG,
    )
    presumed = presume(stored["_id"], event_json(dispatched), AT, SLA, CAL)
    assert presumed is not None
    assert presumed.the_plan.live is not None
    assert presumed.the_plan.live.kind is DeadlineKind.FOLLOW_UP
    assert timer(presumed.the_plan) == timer(read_plan(stored))
    assert filter_applies(presumed.filter(), stored)
    for doc in (
        stored | {"first_answer_at": AT + timedelta(days=1)},
        stored | {"agency_tz": "Asia/Makassar"},
    ):
        assert not filter_applies(presumed.filter(), doc)


def test_a_verified_case_has_no_timer_whatever_else_it_holds() -> None:
    stored = as_stored(factories.received(AT)) | {"status": "verified"}
    verified = ComplaintVerified(
        message_id="verified:x",
        tracking_id=stored["_id"],
        occurred_at=AT,
        status=Status.VERIFIED,
        kind="pengaduan",
        severity=Severity.SEDANG,
        anonymous=False,
        confidential=False,
        by="system",
    )
    presumed = presume(stored["_id"], event_json(verified), AT, SLA, CAL)
    assert presumed is not None
    assert presumed.filter() == {"_id": stored["_id"], "status": "verified"}
    assert presumed.update() == {
        "$set": {"escalation.live": None},
        "$unset": {"escalation.next_at": ""},
    }
    assert read_plan(stored).next_at is None


def test_the_case_is_read_when_the_event_is_late_or_does_not_say_enough() -> None:
    stored = as_stored(factories.received(AT))
    event = event_json(factories.received_event(stored))
    late = AT + FRESH + timedelta(milliseconds=1)
    assert presume(stored["_id"], event, late, SLA, CAL) is None
    # complaint.followed_up names no resolution deadline: in_progress's plan needs it.
    followed_up = {
        "event": "followed_up",
        "status": "in_progress",
        "occurred_at": event["occurred_at"],
    }
    assert presume(stored["_id"], followed_up, AT, SLA, CAL) is None
    unknown = event | {"status": "a status of a later version"}
    assert presume(stored["_id"], unknown, AT, SLA, CAL) is None
    garbled = event | {"verification_deadline": "tomorrow"}
    assert presume(stored["_id"], garbled, AT, SLA, CAL) is None
