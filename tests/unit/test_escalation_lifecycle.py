"""Issue 12's clocks with the injected clock, over working days with a holiday, by hand.

The operator added Fri 20 Nov 2026 as a regional holiday; November 2026 has no national
one. So from Mon 16 Nov the working days run Tue 17 (1), Wed 18, Thu 19, Mon 23 (4),
Tue 24, Wed 25 (6), Thu 26, Fri 27, Mon 30 (9), Tue 1 Dec (10). Every instant is WIB.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.escalation import notices
from shared import topology
from shared.calendar import ExtraHoliday, WorkingCalendar
from shared.escalation_policy import (
    CaseClock,
    DeadlineKind,
    notifies_oversight,
    oversight_routing_key,
    plan,
    responsible_agency,
)
from shared.lifecycle import (
    Actor,
    EscalationTarget,
    ExtensionRefused,
    NotHolding,
    Severity,
    Status,
    check_agency_step,
    check_can_request_extension,
    check_reply_in_time,
    transition,
)
from shared.sla import SlaPolicy

pytestmark = pytest.mark.unit

WIB = ZoneInfo("Asia/Jakarta")
SLA = SlaPolicy()
CAL = WorkingCalendar([ExtraHoliday(date=dt.date(2026, 11, 20), name="HUT daerah")])
TID = "7KQM-X3RT-9DHV"


def wib(month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=WIB)


def end_of(month: int, day: int) -> dt.datetime:
    return dt.datetime(2026, month, day, 23, 59, 59, 999_999, tzinfo=WIB)


def clock(status: Status, *, fired: frozenset[str] = frozenset(), **doc: object) -> CaseClock:
    return CaseClock.from_document(
        {"_id": TID, "status": str(status), "escalation": {"fired": sorted(fired)}, **doc}
    )


# --- deferral ------------------------------------------------------------------------------

DEFERRED_AT = wib(11, 16, 10)


def test_the_deferral_window_is_ten_working_days_with_the_holiday_skipped() -> None:
    assert SLA.deferral_deadline(CAL, DEFERRED_AT) == end_of(12, 1)
    assert SLA.deferral_deadline(WorkingCalendar(), DEFERRED_AT) == end_of(11, 30)


def test_a_deferral_reminds_the_reporter_half_way_then_is_archived_at_day_ten() -> None:
    case = clock(Status.DEFERRED, deadlines={"deferral": SLA.deferral_deadline(CAL, DEFERRED_AT)})
    the_plan = plan(SLA, CAL, case)
    assert the_plan.live is not None and the_plan.live.kind is DeadlineKind.DEFERRAL
    [reminder] = the_plan.pending
    # Half-way: five working days have passed at the start of the sixth, Wed 25 Nov.
    assert (reminder.level, reminder.target, reminder.due_at) == (
        0,
        EscalationTarget.PELAPOR,
        wib(11, 25),
    )
    assert not notifies_oversight(reminder)  # the reporter's own, not an office's
    assert responsible_agency(case, reminder.deadline) is None
    assert the_plan.next_at == wib(11, 25)
    assert "1 Desember 2026" in notices.reporter_reminder(TID, reminder, "Asia/Jakarta")

    reminded = plan(
        SLA,
        CAL,
        clock(
            case.status or Status.DEFERRED,
            fired=frozenset({reminder.key}),
            deadlines={"deferral": end_of(12, 1)},
        ),
    )
    assert reminded.pending == ()
    assert reminded.next_at == wib(12, 2)  # the instant day 10 has ended
    assert not reminded.expiry_due(end_of(12, 1))  # still day 10: the reporter may reply
    assert reminded.expiry_due(wib(12, 2))
    assert transition("expire_deferral", Status.DEFERRED, Actor.CLOCK) is Status.ARCHIVED


def test_information_on_day_nine_revives_the_case_with_a_fresh_three_day_clock() -> None:
    deadline = SLA.deferral_deadline(CAL, DEFERRED_AT)
    reply_at = wib(11, 30, 14)  # Mon 30 Nov: day 9
    check_reply_in_time(deadline, reply_at)
    status = transition("resume", Status.DEFERRED, Actor.REPORTER)
    fresh = SLA.verification_deadline(CAL, reply_at)
    assert fresh == end_of(12, 3)  # Tue 1, Wed 2, Thu 3 Dec
    revived = plan(SLA, CAL, clock(status, deadlines={"deferral": deadline, "verification": fresh}))
    assert revived.live is not None and revived.live.kind is DeadlineKind.VERIFICATION
    assert revived.live.at == fresh
    assert revived.expires_at is None  # the deferral's expiry no longer applies


# --- the admin desk ------------------------------------------------------------------------


def test_a_case_handed_back_gets_one_working_day_at_the_admin_desk_then_escalates() -> None:
    returned_at = wib(11, 19, 15)  # Thu 19 Nov; Fri 20 is the holiday
    deadline = SLA.admin_desk_deadline(CAL, returned_at)
    assert deadline == end_of(11, 23)
    case = clock(
        Status.AWAITING_ROUTING,
        dispatched_at=wib(11, 2, 9),
        deadlines={"admin_desk": deadline, "verification": end_of(10, 30)},
    )
    the_plan = plan(SLA, CAL, case)
    assert the_plan.live is not None and the_plan.live.kind is DeadlineKind.ADMIN_DESK
    steps = {rung.level: rung for rung in the_plan.pending}
    assert steps[0].due_at == wib(11, 23)  # reminded at the start of its day
    assert steps[1].due_at == wib(11, 24)  # the head of the admin desk, once it passed
    assert steps[2].due_at == wib(11, 27)  # three working days later: the Inspectorate
    assert [r.level for r in the_plan.due(wib(11, 24, 8))] == [0, 1]
    assert responsible_agency(case, the_plan.live) is None
    assert oversight_routing_key(steps[1].target, None) == "pimpinan.admin"
    text = notices.summary(TID, steps[1], None, "Asia/Jakarta")
    assert "kepala meja admin LAPOR" in text and "disposisi ulang" in text


def test_an_unplaced_case_runs_against_the_admin_desk_not_its_old_verification_day() -> None:
    needs_routing = clock(
        Status.AWAITING_ROUTING,
        deadlines={"verification": end_of(11, 18), "admin_desk": end_of(11, 23)},
    )
    live = plan(SLA, CAL, needs_routing).live
    assert live is not None and (live.kind, live.at) == (DeadlineKind.ADMIN_DESK, end_of(11, 23))


# --- extension (perpanjangan) ---------------------------------------------------------------

DISPOSED = wib(11, 2, 9)


def test_an_extension_moves_escalation_exactly_to_the_granted_date() -> None:
    resolution = SLA.resolution_deadline(CAL, DISPOSED, Severity.SEDANG)
    assert resolution == end_of(11, 23)  # 14 working days, the holiday skipped
    cap = SLA.extension_cap(CAL, resolution, Severity.SEDANG)
    assert cap == end_of(12, 11)  # 14 more working days
    granted = SLA.extended_deadline(CAL, dt.date(2026, 12, 4))
    check_can_request_extension(None, resolution, granted, cap, "menunggu anggaran perubahan")
    doc: dict[str, Any] = {
        "dispatched_at": DISPOSED,
        "first_answer_at": wib(11, 3, 9),
        "agency": "dpu-plg",
    }
    before = plan(SLA, CAL, clock(Status.IN_PROGRESS, deadlines={"resolution": resolution}, **doc))
    assert [r.due_at for r in before.pending if r.level == 1] == [wib(11, 24)]

    after = plan(
        SLA,
        CAL,
        clock(
            Status.IN_PROGRESS,
            deadlines={"resolution": granted},
            extension={"state": "granted"},
            **doc,
        ),
    )
    levels = {rung.level: rung.due_at for rung in after.pending}
    assert levels[0] == wib(12, 3)  # the reminder, one working day before
    assert levels[1] == wib(12, 5)  # the instant Fri 4 Dec has ended, not a tick sooner
    assert [r.level for r in after.due(end_of(12, 4))] == [0]
    assert [r.level for r in after.due(wib(12, 5))] == [0, 1]


def test_a_second_extension_request_is_refused_and_so_is_one_past_the_cap() -> None:
    resolution, cap = end_of(11, 23), end_of(12, 11)
    with pytest.raises(ExtensionRefused) as second:
        check_can_request_extension(
            {"state": "granted"}, end_of(12, 4), end_of(12, 10), cap, "sekali lagi"
        )
    assert second.value.code == "extension_already_requested"
    with pytest.raises(ExtensionRefused) as too_far:
        check_can_request_extension(None, resolution, end_of(12, 14), cap, "lama sekali")
    assert too_far.value.code == "beyond_cap"


# --- koordinasi ---------------------------------------------------------------------------


def test_koordinasi_supporting_agencies_add_the_lead_resolves_escalation_follows_the_lead() -> None:
    doc: dict[str, Any] = {
        "agency": "dinkes-sumsel",
        "supporting_agencies": ["dinsos-sumsel", "dpu-plg"],
        "dispatched_at": DISPOSED,
        "deadlines": {"follow_up": SLA.follow_up_deadline(CAL, DISPOSED)},
    }
    case = clock(Status.DISPATCHED, **doc)
    assert case.supporting == {"dinsos-sumsel", "dpu-plg"}
    for supporter in case.supporting:
        check_agency_step("support", supporter, case.agency, case.supporting)
        with pytest.raises(NotHolding):
            check_agency_step("resolve", supporter, case.agency, case.supporting)
    the_plan = plan(SLA, CAL, case)
    keys = {
        oversight_routing_key(r.target, responsible_agency(case, r.deadline))
        for r in the_plan.pending
    }
    assert keys == {
        "penghubung.dinkes-sumsel",
        "pimpinan.dinkes-sumsel",
        "inspektorat.dinkes-sumsel",
        "ombudsman.dinkes-sumsel",
    }
    check_agency_step("resolve", "dinkes-sumsel", case.agency, case.supporting)
    resolved = transition("resolve", Status.DISPATCHED, Actor.AGENCY)
    assert plan(SLA, CAL, clock(resolved, **doc)).pending == ()


# --- reminders per agency ------------------------------------------------------------------


def _topic_matches(pattern: str, key: str) -> bool:
    words = [re.escape(w) if w not in ("*", "#") else w for w in pattern.split(".")]
    regex = r"\.".join(words).replace("#", ".*").replace("*", r"[^.]+")
    return re.fullmatch(regex, key) is not None


def _queues_receiving(key: str, agencies: list[str]) -> list[str]:
    specs = [*topology.QUEUES, *(q for a in agencies for q in topology.agency_queues(a))]
    return sorted(
        spec.name
        for spec in specs
        for exchange, pattern in spec.bindings
        if exchange == topology.OVERSIGHT and _topic_matches(pattern, key)
    )


def test_each_reminder_reaches_only_its_own_agencys_liaison() -> None:
    agencies = ["dinkes-sumsel", "dpu-plg"]
    assert _topic_matches("pimpinan.#", "pimpinan.dpu-plg")
    assert not _topic_matches("penghubung.dpu-plg", "penghubung.dinkes-sumsel")
    for agency in agencies:
        key = oversight_routing_key(EscalationTarget.PENGHUBUNG, agency)
        assert _queues_receiving(key, agencies) == [f"penghubung.{agency}"]
    admin = oversight_routing_key(EscalationTarget.PENGHUBUNG, None)
    assert _queues_receiving(admin, agencies) == ["oversight.penghubung"]
    assert _queues_receiving("pimpinan.dpu-plg", agencies) == ["oversight.pimpinan"]
    assert ("oversight.penghubung", topology.OVERSIGHT, "penghubung.#") in (
        topology.OBSOLETE_BINDINGS
    )
