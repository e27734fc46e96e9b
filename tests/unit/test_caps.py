"""Per-case caps: a case at its cap refuses more with a clear reason."""

from __future__ import annotations

import mongomock
import pytest

from shared.caps import (
    CaseCaps,
    CaseFull,
    check_room,
    growth,
    may_use_reserve,
    no_room,
    room_filter,
)
from shared.lifecycle import Actor, Status
from shared.vocabulary import Reason, Refused

pytestmark = pytest.mark.unit

CAPS = CaseCaps(timeline=3, applied=5, additions=2, reserve=2)


def test_a_case_below_its_caps_has_room() -> None:
    check_room({"timeline": [1, 2], "additions": []}, CAPS, timeline=1, additions=2)


def test_a_case_at_its_cap_refuses_with_the_field_and_the_cap() -> None:
    with pytest.raises(CaseFull) as caught:
        check_room({"timeline": [1, 2, 3]}, CAPS, timeline=1)
    assert (caught.value.field, caught.value.cap, caught.value.reason) == (
        "timeline",
        3,
        "case_full",
    )
    assert "timeline holds its maximum of 3" in str(caught.value)


def test_the_filter_asks_for_the_right_index() -> None:
    assert room_filter(CAPS, timeline=1, applied=2) == {
        "timeline.2": {"$exists": False},
        "applied.3": {"$exists": False},
    }
    assert room_filter(CAPS, timeline=0) == {}
    with pytest.raises(CaseFull):
        room_filter(CAPS, additions=3)


def test_the_filter_stops_an_update_exactly_at_the_cap() -> None:
    """The same filter on a query engine: appends succeed until the cap, then match nothing."""
    cases = mongomock.MongoClient().db.complaints
    cases.insert_one({"_id": "C", "timeline": []})
    applied = 0
    for n in range(10):
        result = cases.update_one(
            {"_id": "C", **room_filter(CAPS, timeline=1)}, {"$push": {"timeline": n}}
        )
        applied += result.modified_count
    assert applied == 3
    assert cases.find_one({"_id": "C"})["timeline"] == [0, 1, 2]


def test_a_case_full_refusal_is_a_refusal_with_its_reason_and_details() -> None:
    full = CaseFull("additions", 2)
    assert isinstance(full, Refused)
    assert full.reason is Reason.CASE_FULL
    assert full.details == {"field": "additions", "cap": 2}


def test_growth_counts_what_an_update_pushes_into_each_capped_array() -> None:
    pushes = {"timeline": {"at": 1}, "applied": "cmd-1", "outbox": {"$each": [1, 2]}}
    assert growth(pushes) == {"timeline": 1, "applied": 1}
    assert growth({"additions": {"$each": [1, 2, 3]}}) == {"additions": 3}


@pytest.mark.parametrize(
    ("actor", "source", "target", "reserve"),
    [
        # Outside parties fill a case: at the cap their replies and follow-ups stop ...
        (Actor.REPORTER, Status.IN_PROGRESS, Status.IN_PROGRESS, False),  # add_information
        (Actor.REPORTER, Status.RESOLVED, Status.RESOLVED, False),  # rate
        (Actor.REPORTER, Status.RESOLVED, Status.DISPATCHED, False),  # reopen
        (Actor.AGENCY, Status.IN_PROGRESS, Status.IN_PROGRESS, False),  # follow_up
        (Actor.AGENCY, Status.IN_PROGRESS, Status.AWAITING_ROUTING, False),  # return
        # ... but a step that ends the case still goes through.
        (Actor.AGENCY, Status.IN_PROGRESS, Status.RESOLVED, True),  # resolve
        (Actor.REPORTER, Status.RESOLVED, Status.CLOSED, True),  # accept
        (Actor.REPORTER, Status.DISPATCHED, Status.CLOSED, True),  # withdraw
        # LAPOR's own steps and the admin's never freeze a full case.
        (Actor.CLOCK, Status.DISPATCHED, Status.DISPATCHED, True),  # escalation
        (Actor.CLOCK, Status.RESOLVED, Status.CLOSED, True),  # auto_close
        (Actor.SYSTEM, Status.VERIFIED, Status.DISPATCHED, True),  # dispatch
        (Actor.ADMIN, Status.AWAITING_ROUTING, Status.DISPATCHED, True),  # dispose
    ],
)
def test_who_meets_the_cap_and_who_has_the_reserve(
    actor: Actor, source: Status, target: Status, reserve: bool
) -> None:
    assert may_use_reserve(actor, source, target) is reserve
    caps = CAPS.for_step(actor, source, target)
    expected = CAPS.timeline + (CAPS.reserve if reserve else 0)
    assert caps.timeline == expected


def test_an_escalation_still_records_on_a_case_its_reporter_filled() -> None:
    """The scenario the reserve is for, on a query engine: the reporter's next reply
    matches nothing, the clock's escalation is stored, and the reserve has its own end."""
    cases = mongomock.MongoClient().db.complaints
    cases.insert_one({"_id": "C", "timeline": [0, 1, 2]})  # CAPS.timeline = 3: full
    reporter = CAPS.for_step(Actor.REPORTER, Status.DISPATCHED, Status.DISPATCHED)
    clock = CAPS.for_step(Actor.CLOCK, Status.DISPATCHED, Status.DISPATCHED)

    def push(caps: CaseCaps, entry: str) -> int:
        return int(
            cases.update_one(
                {"_id": "C", **room_filter(caps, timeline=1)}, {"$push": {"timeline": entry}}
            ).modified_count
        )

    assert push(reporter, "reply") == 0
    assert cases.find_one({"_id": "C", **no_room(reporter, "timeline", 1)}) is not None
    assert [push(clock, f"escalated-{n}") for n in range(CAPS.reserve + 1)] == [
        1
    ] * CAPS.reserve + [0]
