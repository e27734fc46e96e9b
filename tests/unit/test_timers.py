"""The escalation timer a step stores with itself (``shared/timers.py``).

Escalation is not told of ``received``, ``verified`` and ``dispatched``: the steps that
make them store the case's timer in their own update. Each update is run here by
mongomock (an independent MongoDB update engine), and the stored timer must be the one
escalation computes when it reads the stored case; a case that moved in between must
make the update miss.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import mongomock
import pytest

from services.routing.decisions import decide_route
from services.verification.decisions import decide_checked, facts_of
from services.verification.policy import VerificationPolicy, assess, decide
from shared import topology
from shared.calendar import WorkingCalendar
from shared.case import Case
from shared.contract import EVENT_NAMES
from shared.escalation_policy import CaseClock, DeadlineKind, Plan, plan
from shared.lifecycle import Actor, Status
from shared.sla import SlaPolicy
from shared.timers import CLOCK_FIELDS, applied, store_timer, timer_of
from shared.unit_of_work import CaseChange
from tests import factories

# The routing decisions' own set-up: the sample registry, a verified road report.
from tests.unit.test_routing_decide import NOW, RULES, verified_case, verified_event

pytestmark = pytest.mark.unit

SLA = SlaPolicy()
CAL = WorkingCalendar()


def read_plan(doc: dict[str, Any]) -> Plan:
    """What escalation computes when it reads the stored case."""
    return plan(SLA, CAL, CaseClock.from_document(doc))


def as_stored(value: Any) -> Any:
    """A value as MongoDB keeps it: datetimes to the millisecond."""
    if isinstance(value, datetime):
        return value.replace(microsecond=value.microsecond // 1000 * 1000)
    if isinstance(value, dict):
        return {k: as_stored(v) for k, v in value.items()}
    return value


def stored_timer(doc: dict[str, Any]) -> tuple[object, object]:
    """The stored ``escalation.live`` and ``escalation.next_at`` (None where absent)."""
    timer = doc.get("escalation") or {}
    return as_stored(timer.get("live")), as_stored(timer.get("next_at"))


def expected_timer(doc: dict[str, Any]) -> tuple[object, object]:
    """The timer escalation's read path would store for ``doc``."""
    the_plan = read_plan(doc)
    live = the_plan.live
    live_doc = None if live is None else {"kind": str(live.kind), "at": live.at}
    return as_stored(live_doc), as_stored(the_plan.next_at)


def committed(
    doc: dict[str, Any], change: CaseChange, between: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """Store ``doc``, apply ``between`` (someone else's update), then commit ``change`` as
    :class:`~shared.unit_of_work.CaseStore` does; the stored case, or None on a miss."""
    collection = mongomock.MongoClient(tz_aware=True).db.complaints
    collection.insert_one(doc)
    if between:
        collection.update_one({"_id": doc["_id"]}, between)
    assert change.timer_from is not None, "the change does not store its timer"
    store_timer(change, change.timer_from, SLA, CAL)
    result = collection.update_one(change.filter(), change.update())
    if result.matched_count == 0:
        return None
    stored: dict[str, Any] | None = collection.find_one({"_id": doc["_id"]})
    return stored


def dispatch(case: Case) -> CaseChange:
    change = decide_route(case, verified_event(case), NOW, RULES)
    assert isinstance(change, CaseChange) and change.target is Status.DISPATCHED, change
    return change


# --- which events escalation is told of --------------------------------------------------


def test_escalation_takes_every_event_but_those_whose_step_stores_the_timer() -> None:
    bound = {key for _, key in topology.ESCALATION_EVENTS.bindings}
    assert set(EVENT_NAMES) >= topology.TIMED_AT_COMMIT
    assert bound == {f"complaint.{n}" for n in EVENT_NAMES if n not in topology.TIMED_AT_COMMIT}
    assert ("escalation.events", topology.EVENTS, "complaint.#") in topology.OBSOLETE_BINDINGS


# --- received: intake stores the timer with the case ----------------------------------


def test_a_new_case_is_stored_with_the_timer_of_its_verification_deadline() -> None:
    doc = factories.received(NOW)  # what intake inserts, its timer included
    assert doc["escalation"] == timer_of(doc, SLA, CAL)
    assert stored_timer(doc) == expected_timer(doc)
    live, next_at = stored_timer(doc)
    assert isinstance(live, dict) and live["kind"] == DeadlineKind.VERIFICATION
    assert isinstance(next_at, datetime) and next_at < doc["deadlines"]["verification"]


# --- verified: no timer while routing places the case ---------------------------------


def test_an_automatically_verified_case_stores_that_nothing_is_due() -> None:
    case = Case(factories.received(NOW - timedelta(minutes=5)))
    policy = VerificationPolicy()
    facts = facts_of(case)
    assessment = assess(facts, [], policy)
    change = decide_checked(case, assessment, decide(facts, assessment, policy), NOW)
    assert change is not None and change.target is Status.VERIFIED
    stored = committed(dict(case.doc), change)
    assert stored is not None and stored["status"] == "verified"
    assert stored_timer(stored) == (None, None) == expected_timer(stored)


# --- dispatched: routing stores the follow-up deadline's timer ------------------------


def test_a_dispatched_case_stores_the_timer_escalation_would_compute() -> None:
    case = verified_case()
    stored = committed(dict(case.doc), dispatch(case))
    assert stored is not None and stored["status"] == "dispatched"
    assert stored_timer(stored) == expected_timer(stored)
    live, next_at = stored_timer(stored)
    assert isinstance(live, dict) and live["kind"] == DeadlineKind.FOLLOW_UP
    assert live["at"] == as_stored(stored["deadlines"]["follow_up"])
    assert isinstance(next_at, datetime) and next_at < live["at"]  # the liaison's reminder


def test_a_forwarded_case_starts_the_new_agency_ladder_with_the_old_one_fired() -> None:
    first = Case(factories.dispatched(dict(verified_case().doc), NOW - timedelta(days=9)))
    old = read_plan(dict(first.doc))
    fired = [rung.key for rung in old.pending[:2]]  # reminded and escalated once
    case = Case(dict(first.doc) | {"status": "verified", "escalation": {"fired": fired}})
    stored = committed(dict(case.doc), dispatch(case))
    assert stored is not None
    assert stored_timer(stored) == expected_timer(stored)
    assert stored["escalation"]["fired"] == fired  # the record of what was sent stays
    assert stored_timer(stored)[0] == {"kind": "follow_up", "at": stored["deadlines"]["follow_up"]}


@pytest.mark.parametrize(
    ("what", "between"),
    [
        ("the scanner fired a step the plan counts as pending", "fire"),
        ("the agency answered meanwhile", {"$set": {"first_answer_at": NOW}}),
        ("the case moved on", {"$set": {"status": "archived"}}),
    ],
)
def test_a_case_that_moved_since_it_was_read_refuses_the_timer(what: str, between: Any) -> None:
    case = verified_case()
    change = dispatch(case)
    if between == "fire":
        # The dispatch's own ladder, as the plan computes it from the case it leaves.
        after = applied(case.doc, change.fields, change.unset) | {"status": "dispatched"}
        first_rung = read_plan(after).pending[0].key
        between = {"$push": {"escalation.fired": first_rung}}
    assert committed(dict(case.doc), change, between) is None, what


def test_a_change_that_does_not_store_its_timer_leaves_it_alone() -> None:
    case = Case(factories.received(NOW))
    change = CaseChange.record(case, "note", Actor.ADMIN, NOW)
    assert change.timer_from is None
    assert "escalation.live" not in change.update()["$set"]


# --- applying a change's fields --------------------------------------------------------


def test_applied_sets_and_unsets_dotted_paths_without_touching_the_original() -> None:
    doc: dict[str, Any] = {"a": {"b": 1, "c": 2}, "d": 3}
    after = applied(doc, {"a.b": 5, "f.g": 6}, ["a.c", "d", "zz.y"])
    assert after == {"a": {"b": 5}, "f": {"g": 6}}
    assert doc == {"a": {"b": 1, "c": 2}, "d": 3}


def test_the_fields_copied_to_compute_a_timer_are_all_the_clock_reads() -> None:
    doc = factories.dispatched(factories.received(NOW), NOW + timedelta(hours=1))
    doc |= {
        "first_answer_at": NOW + timedelta(days=1),
        "agency_tz": "Asia/Makassar",
        "supporting_agencies": ["dinkes-sumsel"],
        "extension": {"state": "requested"},
        "escalation": {"fired": ["x"]},
    }
    subset = {name: doc[name] for name in CLOCK_FIELDS if name in doc}
    assert CaseClock.from_document(subset) == CaseClock.from_document(doc)
    assert len(subset) == len(CLOCK_FIELDS)  # each of them was present, so each was tested
