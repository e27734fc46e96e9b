"""Escalation's use cases as pure decisions: fire a due step once, close a silent case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.escalation.decisions import decide_auto_close, decide_fire
from shared.calendar import WorkingCalendar
from shared.case import Case
from shared.escalation_policy import CaseClock, plan
from shared.lifecycle import Status
from shared.sla import SlaPolicy
from tests import factories

pytestmark = pytest.mark.unit

DISPATCHED_AT = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


def late_case() -> Case:
    return Case(factories.dispatched(factories.received(DISPATCHED_AT), DISPATCHED_AT))


def test_every_due_step_fires_once_with_its_event_and_notice() -> None:
    case = late_case()
    clock = CaseClock.from_document(case.doc)
    the_plan = plan(SlaPolicy(), WorkingCalendar(), clock)
    now = DISPATCHED_AT + timedelta(days=60)
    rungs = the_plan.due(now)
    assert [r.level for r in rungs] == [0, 1, 2, 3]
    reminder = decide_fire(case, clock, rungs[0], now, "Asia/Jakarta")
    assert [m.routing_key for m in reminder.messages] == [
        "complaint.reminder",
        "penghubung.pupr-palembang",
    ]
    assert reminder.target is Status.DISPATCHED and "status" not in reminder.update()["$set"]
    entry = reminder.timeline_entry()
    assert entry["step"] == "remind" and "from" not in entry and "pengingat" in entry["note"]
    query = reminder.filter()
    assert query["escalation.fired"] == {"$ne": rungs[0].key}
    assert query["deadlines.follow_up"] == case.deadline("follow_up")
    assert query["first_answer_at"] is None  # an answer meanwhile stops the step
    assert reminder.push["escalation.fired"] == rungs[0].key
    top = decide_fire(case, clock, rungs[3], now, "Asia/Jakarta")
    assert [m.routing_key for m in top.messages] == [
        "complaint.escalated",
        "ombudsman.pupr-palembang",
    ]
    assert top.messages[0].body["level"] == 3 and top.timeline_entry()["step"] == "escalate"
    assert case.tracking_id in top.messages[1].body["summary"]


def test_a_resolved_case_with_no_reply_closes_itself() -> None:
    auto_close = DISPATCHED_AT + timedelta(days=20)
    doc = late_case().doc | {"status": "resolved", "deadlines": {"auto_close": auto_close}}
    change = decide_auto_close(Case(doc), auto_close + timedelta(seconds=1))
    assert change is not None and change.target is Status.CLOSED
    assert change.fields["close_reason"] == "no_reply" and "escalation.next_at" in change.unset
    assert change.filter()["deadlines.auto_close"] == auto_close
    assert [m.body["reason"] for m in change.messages] == ["no_reply"]
    assert decide_auto_close(late_case(), auto_close) is None  # not resolved: nothing to close
