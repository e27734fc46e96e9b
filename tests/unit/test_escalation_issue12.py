"""Issue 12 in escalation's decisions, hand-counted over a calendar with an operator holiday.

Wed 4 Nov 2026 is declared a holiday. A case deferred on Mon 2 Nov, 09:00 WIB: the
reporter's 10 working days end Tue 17 Nov 23:59:59.999999 WIB; it expires one tick later.
A case handed back to the admin desk on Tue 3 Nov: its 1 working day ends Thu 5 Nov.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.escalation.decisions import decide_expire_deferral, decide_fire
from shared.calendar import TICK, ExtraHoliday, WorkingCalendar
from shared.case import Case
from shared.escalation_policy import CaseClock, DeadlineKind, plan
from shared.lifecycle import EscalationTarget, Severity, Status
from shared.sla import SlaPolicy
from tests import factories

pytestmark = pytest.mark.unit

WIB = ZoneInfo("Asia/Jakarta")
TZ = "Asia/Jakarta"
CAL = WorkingCalendar([ExtraHoliday(date=dt.date(2026, 11, 4), name="cuti bersama (uji)")])
SLA = SlaPolicy()
DEFERRED_AT = dt.datetime(2026, 11, 2, 9, 0, tzinfo=WIB)
WINDOW_END = dt.datetime(2026, 11, 17, 23, 59, 59, 999_999, tzinfo=WIB)


def end_of(month: int, day: int) -> dt.datetime:
    return dt.datetime(2026, month, day, 23, 59, 59, 999_999, tzinfo=WIB)


def deferred_doc() -> dict[str, Any]:
    doc = factories.received(DEFERRED_AT - dt.timedelta(hours=2))
    deadline = SLA.deferral_deadline(CAL, DEFERRED_AT)
    return doc | {"status": "deferred", "deadlines": doc["deadlines"] | {"deferral": deadline}}


def test_the_deferral_window_is_10_working_days_around_the_holiday() -> None:
    assert SLA.deferral_deadline(CAL, DEFERRED_AT) == WINDOW_END


def test_the_reporter_alone_is_reminded_half_way_through_the_deferral() -> None:
    doc = deferred_doc()
    clock = CaseClock.from_document(doc)
    the_plan = plan(SLA, CAL, clock)
    assert the_plan.live is not None and the_plan.live.kind is DeadlineKind.DEFERRAL
    (rung,) = the_plan.pending
    assert rung.target is EscalationTarget.PELAPOR
    assert DEFERRED_AT < rung.due_at < WINDOW_END
    change = decide_fire(Case(doc), clock, rung, rung.due_at, TZ)
    # Only the domain event (intake turns it into the reporter's notice): no oversight.
    assert [m.routing_key for m in change.messages] == ["complaint.reminder"]
    assert change.messages[0].body["target"] == "pelapor"


def test_an_unanswered_deferral_is_archived_no_reply_after_day_10() -> None:
    doc = deferred_doc()
    the_plan = plan(SLA, CAL, CaseClock.from_document(doc))
    assert the_plan.expires_at == WINDOW_END + TICK
    assert not the_plan.expiry_due(WINDOW_END)  # day 10 is still the reporter's
    assert the_plan.expiry_due(WINDOW_END + TICK)
    now = dt.datetime(2026, 11, 18, 0, 0, tzinfo=WIB)
    change = decide_expire_deferral(Case(doc), now)
    assert change is not None
    assert (change.step, change.target) == ("expire_deferral", Status.ARCHIVED)
    assert change.fields["archive_reason"] == "no_reply"
    assert change.filter()["deadlines.deferral"] == WINDOW_END
    (archived,) = change.messages
    assert archived.routing_key == "complaint.archived"
    assert archived.message_id == f"expire_deferral:{doc['_id']}"
    assert archived.body["reason"] == "no_reply" and archived.body["reporter_message"]
    resumed = doc | {"status": "needs_review"}
    assert decide_expire_deferral(Case(resumed), now) is None


def test_the_admin_desks_deadline_escalates_to_the_head_of_the_admin_desk() -> None:
    returned_at = dt.datetime(2026, 11, 3, 10, 0, tzinfo=WIB)
    desk = SLA.admin_desk_deadline(CAL, returned_at)
    assert desk == end_of(11, 5)  # Wed 4 Nov is the holiday
    doc = factories.dispatched(factories.received(returned_at), returned_at - dt.timedelta(days=9))
    doc |= {"status": "awaiting_routing", "deadlines": doc["deadlines"] | {"admin_desk": desk}}
    del doc["agency"]
    clock = CaseClock.from_document(doc)
    the_plan = plan(SLA, CAL, clock)
    assert the_plan.live is not None and the_plan.live.kind is DeadlineKind.ADMIN_DESK
    assert the_plan.due(desk) == [r for r in the_plan.pending if r.level == 0]
    (head,) = [r for r in the_plan.due(desk + TICK) if r.level == 1]
    assert head.due_at == desk + TICK
    change = decide_fire(Case(doc), clock, head, desk + TICK, TZ)
    assert [m.routing_key for m in change.messages] == ["complaint.escalated", "pimpinan.admin"]


def in_progress(resolution: dt.datetime, **more: Any) -> dict[str, Any]:
    at = dt.datetime(2026, 11, 2, 9, 0, tzinfo=WIB)
    doc = factories.dispatched(factories.received(at), at, severity=Severity.SEDANG)
    doc["deadlines"] = doc["deadlines"] | {"resolution": resolution}
    return doc | {"status": "in_progress", "first_answer_at": at} | more


def test_an_extension_moves_escalation_exactly_to_the_new_date() -> None:
    resolution = end_of(11, 20)
    before = plan(SLA, CAL, CaseClock.from_document(in_progress(resolution)))
    assert [r.due_at for r in before.pending if r.level == 1] == [resolution + TICK]
    granted = SLA.extended_deadline(CAL, dt.date(2026, 12, 4), TZ)
    assert granted == end_of(12, 4)
    extended = in_progress(granted, extension={"state": "granted"})
    after = plan(SLA, CAL, CaseClock.from_document(extended))
    assert [r.due_at for r in after.pending if r.level == 1] == [granted + TICK]
    # The old date passes quietly: nothing escalates until the new date has passed.
    assert [r.level for r in after.due(resolution + TICK) if r.level >= 1] == []
    assert 1 in [r.level for r in after.due(granted + TICK)]


def test_koordinasi_escalation_watches_the_lead_only() -> None:
    doc = in_progress(end_of(11, 20), supporting_agencies=["dinkes-palembang", "dlh-palembang"])
    clock = CaseClock.from_document(doc)
    rungs = plan(SLA, CAL, clock).due(end_of(12, 31))
    keys = {
        m.routing_key
        for rung in rungs
        for m in decide_fire(Case(doc), clock, rung, end_of(12, 31), TZ).messages
    }
    assert keys == {
        "complaint.reminder",
        "complaint.escalated",
        "penghubung.pupr-palembang",
        "pimpinan.pupr-palembang",
        "inspektorat.pupr-palembang",
        "ombudsman.pupr-palembang",
    }
