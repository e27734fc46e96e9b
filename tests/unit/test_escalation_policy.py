"""Escalation rules: which deadline is live, which steps are due, against hand-counted dates.

The case: disposed to the provincial health office on Mon 2 Nov 2026, 09:00 WIB (no
holidays in November 2026). Follow-up, 5 working days: Tue 3 .. Mon 9 Nov, so the
deadline is Mon 9 Nov 23:59:59.999 WIB. Each later period is counted from the end of the
previous one (see ``SlaPolicy.escalation_ladder``).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from shared.calendar import WorkingCalendar
from shared.escalation_policy import (
    CaseClock,
    DeadlineKind,
    live_deadline,
    oversight_routing_key,
    plan,
    step_key,
)
from shared.lifecycle import EscalationTarget, Status
from shared.sla import SlaPolicy

pytestmark = pytest.mark.unit

WIB = ZoneInfo("Asia/Jakarta")
SLA = SlaPolicy()
CAL = WorkingCalendar()


def wib(month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=WIB)


def end_wib(month: int, day: int) -> dt.datetime:
    return dt.datetime(2026, month, day, 23, 59, 59, 999_999, tzinfo=WIB)


DISPOSED = wib(11, 2, 9)
VERIFICATION = end_wib(10, 30)
FOLLOW_UP = end_wib(11, 9)
RESOLUTION = end_wib(11, 20)  # sedang: 14 working days
AUTO_CLOSE = wib(11, 17)  # the instant it closes (10 working days after Mon 2 Nov)

ALL_DEADLINES = {
    DeadlineKind.VERIFICATION: VERIFICATION,
    DeadlineKind.FOLLOW_UP: FOLLOW_UP,
    DeadlineKind.RESOLUTION: RESOLUTION,
    DeadlineKind.AUTO_CLOSE: AUTO_CLOSE,
}


def case(
    status: Status | None,
    first_answer_at: dt.datetime | None = None,
    dispatched_at: dt.datetime | None = DISPOSED,
    fired: set[str] | None = None,
    deadlines: dict[DeadlineKind, dt.datetime] | None = None,
) -> CaseClock:
    return CaseClock(
        tracking_id="7KQM-X3RT-9DHV",
        status=status,
        deadlines=ALL_DEADLINES if deadlines is None else deadlines,
        agency="dinkes-sumsel",
        agency_tz=None,
        dispatched_at=dispatched_at,
        first_answer_at=first_answer_at,
        fired=frozenset(fired or ()),
    )


@pytest.mark.parametrize(
    ("status", "first_answer_at", "dispatched_at", "expected"),
    [
        (Status.RECEIVED, None, None, DeadlineKind.VERIFICATION),
        (Status.NEEDS_REVIEW, None, None, DeadlineKind.VERIFICATION),
        (Status.AWAITING_ROUTING, None, None, DeadlineKind.VERIFICATION),
        # Handed back by an agency: the admin's old deadline says nothing about it.
        (Status.AWAITING_ROUTING, None, DISPOSED, None),
        (Status.DISPATCHED, None, DISPOSED, DeadlineKind.FOLLOW_UP),
        # Answered late and still (again) with the agency: the resolution deadline runs.
        (Status.DISPATCHED, wib(11, 12), DISPOSED, DeadlineKind.RESOLUTION),
        # Reopened with a new follow-up deadline after the answer: the agency owes one.
        (Status.DISPATCHED, wib(11, 4), DISPOSED, DeadlineKind.FOLLOW_UP),
        (Status.IN_PROGRESS, wib(11, 4), DISPOSED, DeadlineKind.RESOLUTION),
        (Status.IN_PROGRESS, wib(11, 12), DISPOSED, DeadlineKind.RESOLUTION),
        (Status.RESOLVED, wib(11, 4), DISPOSED, DeadlineKind.AUTO_CLOSE),
        (Status.DEFERRED, None, None, None),
        (Status.VERIFIED, None, None, None),
        (Status.CLOSED, wib(11, 4), DISPOSED, None),
        (Status.ARCHIVED, None, None, None),
        (None, None, None, None),  # a status this version does not know
    ],
)
def test_which_deadline_is_live_for_each_status(
    status: Status | None,
    first_answer_at: dt.datetime | None,
    dispatched_at: dt.datetime | None,
    expected: DeadlineKind | None,
) -> None:
    live = live_deadline(case(status, first_answer_at, dispatched_at))
    assert (live.kind if live else None) == expected
    if live is not None:
        assert live.at == ALL_DEADLINES[live.kind]


def test_a_live_deadline_that_is_not_stored_sets_no_timer() -> None:
    the_case = case(Status.DISPATCHED, deadlines={DeadlineKind.VERIFICATION: VERIFICATION})
    assert live_deadline(the_case) is None
    assert plan(SLA, CAL, the_case).next_at is None


def test_the_ladder_of_a_follow_up_deadline() -> None:
    the_plan = plan(SLA, CAL, case(Status.DISPATCHED))
    assert [(r.level, r.target, r.due_at) for r in the_plan.pending] == [
        (0, EscalationTarget.PENGHUBUNG, wib(11, 6)),  # one working day before Mon 9
        (1, EscalationTarget.PIMPINAN, wib(11, 10)),  # the instant Mon 9 ends
        # 3 working days counted from Mon 9: Tue 10, Wed 11, Thu 12 → Fri 13 00:00
        (2, EscalationTarget.INSPEKTORAT, wib(11, 13)),
        # 5 more from Thu 12: Fri 13, Mon 16 .. Thu 19 → Fri 20 00:00
        (3, EscalationTarget.OMBUDSMAN, wib(11, 20)),
    ]
    assert the_plan.next_at == wib(11, 6)
    assert [r.key for r in the_plan.pending][:2] == [
        "follow_up:2026-11-09T16:59:59.999+00:00:L0",
        "follow_up:2026-11-09T16:59:59.999+00:00:L1",
    ]


@pytest.mark.parametrize(
    ("now", "levels"),
    [
        (wib(11, 5, 23, 59), []),
        (wib(11, 6), [0]),
        (end_wib(11, 9), [0]),  # the deadline's last instant still meets it
        (wib(11, 10), [0, 1]),
        (wib(11, 12, 12), [0, 1]),
        (wib(11, 13), [0, 1, 2]),
        (wib(11, 20), [0, 1, 2, 3]),
        (wib(12, 31), [0, 1, 2, 3]),  # catching up after a long outage: all, in order
    ],
)
def test_steps_due_at_an_instant(now: dt.datetime, levels: list[int]) -> None:
    the_plan = plan(SLA, CAL, case(Status.DISPATCHED))
    assert [r.level for r in the_plan.due(now)] == levels


def test_fired_steps_are_never_due_again_and_the_next_one_is_the_timer() -> None:
    fired = {step_key(DeadlineKind.FOLLOW_UP, FOLLOW_UP, level) for level in (0, 1)}
    the_plan = plan(SLA, CAL, case(Status.DISPATCHED, fired=fired))
    assert [r.level for r in the_plan.due(wib(11, 13))] == [2]
    assert the_plan.next_at == wib(11, 13)
    everything = fired | {step_key(DeadlineKind.FOLLOW_UP, FOLLOW_UP, level) for level in (2, 3)}
    done = plan(SLA, CAL, case(Status.DISPATCHED, fired=everything))
    assert done.due(wib(12, 31)) == []
    assert done.next_at is None


def test_a_case_answered_in_time_never_escalates() -> None:
    # Answered Wed 4 Nov, resolved Thu 5 Nov: no follow-up step is ever due.
    for the_case in (
        case(Status.IN_PROGRESS, first_answer_at=wib(11, 4, 10)),
        case(Status.RESOLVED, first_answer_at=wib(11, 4, 10)),
    ):
        the_plan = plan(SLA, CAL, the_case)
        later = wib(11, 16, 23, 59)  # past every follow-up rung, before auto-close
        assert all(r.deadline.kind is not DeadlineKind.FOLLOW_UP for r in the_plan.pending)
        assert the_plan.due(later) == []
        assert not the_plan.auto_close_due(later)


def test_a_case_answered_late_stops_climbing_the_old_ladder() -> None:
    fired = {step_key(DeadlineKind.FOLLOW_UP, FOLLOW_UP, level) for level in (0, 1)}
    late = case(Status.IN_PROGRESS, first_answer_at=wib(11, 11, 10), fired=fired)
    the_plan = plan(SLA, CAL, late)
    assert the_plan.live is not None and the_plan.live.kind is DeadlineKind.RESOLUTION
    # The follow-up's level 2 (Fri 13) is not due; the resolution's reminder is next.
    assert the_plan.due(wib(11, 18)) == []
    assert the_plan.next_at == wib(11, 19)  # one working day before Fri 20
    assert [r.key for r in the_plan.due(wib(11, 19))] == [
        "resolution:2026-11-20T16:59:59.999+00:00:L0"
    ]


def test_a_resolved_case_closes_itself_at_its_auto_close_instant_without_a_ladder() -> None:
    the_plan = plan(SLA, CAL, case(Status.RESOLVED, first_answer_at=wib(11, 4)))
    assert the_plan.pending == ()
    assert the_plan.next_at == AUTO_CLOSE
    assert not the_plan.auto_close_due(AUTO_CLOSE - dt.timedelta(microseconds=1))
    assert the_plan.auto_close_due(AUTO_CLOSE)


def test_the_verification_ladder_is_the_central_admins() -> None:
    the_plan = plan(SLA, CAL, case(Status.NEEDS_REVIEW, dispatched_at=None))
    assert the_plan.live is not None
    assert the_plan.live.kind is DeadlineKind.VERIFICATION
    # Fri 30 Oct ends: reminder Thu 29 Oct, pimpinan Sat 31 Oct 00:00.
    assert [r.due_at for r in the_plan.pending[:2]] == [wib(10, 29), wib(10, 31)]


def test_agency_time_zone_counts_its_own_days() -> None:
    wit = ZoneInfo("Asia/Jayapura")
    deadline = dt.datetime(2026, 11, 9, 23, 59, 59, 999_999, tzinfo=wit)
    papua = CaseClock(
        tracking_id="7KQM-X3RT-9DHV",
        status=Status.DISPATCHED,
        deadlines={DeadlineKind.FOLLOW_UP: deadline},
        agency="dinkes-papua",
        agency_tz="Asia/Jayapura",
    )
    the_plan = plan(SLA, CAL, papua)
    assert the_plan.pending[0].due_at == dt.datetime(2026, 11, 6, tzinfo=wit)
    assert the_plan.pending[1].due_at == dt.datetime(2026, 11, 10, tzinfo=wit)


def test_oversight_routing_keys() -> None:
    assert oversight_routing_key(EscalationTarget.PIMPINAN, "dinkes-sumsel") == (
        "pimpinan.dinkes-sumsel"
    )
    assert oversight_routing_key(EscalationTarget.OMBUDSMAN, None) == "ombudsman.admin"


def test_the_case_is_read_from_its_stored_document() -> None:
    def as_stored(moment: dt.datetime) -> dt.datetime:  # MongoDB keeps milliseconds
        return moment.astimezone(dt.UTC).replace(microsecond=moment.microsecond // 1000 * 1000)

    doc = {
        "_id": "7KQM-X3RT-9DHV",
        "status": "dispatched",
        "agency": "dinkes-sumsel",
        "deadlines": {"verification": as_stored(VERIFICATION), "follow_up": as_stored(FOLLOW_UP)},
        "dispatched_at": DISPOSED,
        "escalation": {"fired": ["x"], "next_at": wib(11, 6)},
        "reporter": {"sealed": "…"},
    }
    the_case = CaseClock.from_document(doc)
    assert the_case.status is Status.DISPATCHED
    assert the_case.deadlines == {
        DeadlineKind.VERIFICATION: VERIFICATION,
        DeadlineKind.FOLLOW_UP: FOLLOW_UP,
    }
    assert the_case.fired == frozenset({"x"})
    # Level 1 fires at the following midnight, not in the deadline's last millisecond.
    assert plan(SLA, CAL, the_case).pending[1].due_at == wib(11, 10)
    assert CaseClock.from_document({"_id": "A", "status": "someday"}).status is None
