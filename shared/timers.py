"""The escalation timer a change stores with itself — pure, no IO.

Escalation keeps each case's next due step in ``escalation.next_at`` (and its running
deadline in ``escalation.live``; see :mod:`shared.escalation_policy`). It recomputes them
from the stored case when a ``complaint.*`` event says the case moved. Three events come
with every report — ``received``, ``verified``, ``dispatched`` — and for those the step
that makes the event stores the timer in its own update instead (issue 11: three of a
report's nine deliveries and three store commands). Escalation's queue is not bound to
them (``TIMED_AT_COMMIT`` in ``shared/topology.py``); its scanner, its other events and
its start-up backfill are unchanged.

The timer is computed from the case as the change leaves it: the document the change was
decided on with the change's fields applied. The fields the plan reads and the change
does not write are added to the change's guard, and so are the keys of the steps the plan
counts as pending, so the update stores the timer only while the case is as computed; a
case that moved in between makes the commit miss and the change is decided again.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from shared.calendar import WorkingCalendar
from shared.escalation_policy import (
    PLAN_INPUTS,
    CaseClock,
    LiveDeadline,
    Plan,
    field_value,
    plan,
)
from shared.sla import SlaPolicy

if TYPE_CHECKING:
    from shared.unit_of_work import CaseChange

Document = dict[str, Any]


def live_document(live: LiveDeadline | None) -> Document | None:
    """How ``escalation.live`` stores a case's running deadline (None: none runs)."""
    return None if live is None else {"kind": str(live.kind), "at": live.at}


def timer_document(the_plan: Plan) -> Document:
    """The ``escalation`` sub-document a new case is stored with."""
    timer: Document = {"live": live_document(the_plan.live)}
    if the_plan.next_at is not None:
        timer["next_at"] = the_plan.next_at
    return timer


def timer_update(the_plan: Plan) -> Document:
    """The update that stores a plan's live deadline and next time (escalation's own)."""
    update: Document = {"$set": {"escalation.live": live_document(the_plan.live)}}
    if the_plan.next_at is None:
        update["$unset"] = {"escalation.next_at": ""}
    else:
        update["$set"]["escalation.next_at"] = the_plan.next_at
    return update


def timer_of(doc: Mapping[str, Any], sla: SlaPolicy, calendar: WorkingCalendar) -> Document:
    """The ``escalation`` sub-document of a whole case (a new one: nothing to guard)."""
    return timer_document(plan(sla, calendar, CaseClock.from_document(doc)))


#: The top-level fields :meth:`CaseClock.from_document` reads (the rest of a case, its
#: timeline above all, is not copied to compute a timer).
CLOCK_FIELDS = (
    "_id",
    "status",
    "deadlines",
    "escalation",
    "agency",
    "agency_tz",
    "dispatched_at",
    "first_answer_at",
    "supporting_agencies",
    "extension",
)


def _written(path: str, paths: Iterable[str]) -> bool:
    """Whether writing ``paths`` writes ``path`` (the path itself, or a parent of it)."""
    return any(path == p or path.startswith(p + ".") for p in paths)


def applied(doc: Mapping[str, Any], fields: Mapping[str, Any], unset: Iterable[str]) -> Document:
    """``doc`` with ``$set``-style dotted ``fields`` and ``$unset``-style paths applied."""
    after = copy.deepcopy(dict(doc))
    for path, value in fields.items():
        *parents, name = path.split(".")
        node = after
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[name] = value
    for path in unset:
        *parents, name = path.split(".")
        node = after
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                break
            node = child
        else:
            node.pop(name, None)
    return after


def store_timer(
    change: CaseChange, base: Mapping[str, Any], sla: SlaPolicy, calendar: WorkingCalendar
) -> None:
    """Add to ``change`` the timer of the case it leaves, and the guard that keeps it true.

    ``base`` is the case the change was decided on; it must hold every field of
    :data:`~shared.escalation_policy.PLAN_INPUTS` for the change's target status and the
    case's ``escalation`` (a projection without them would compute a wrong timer).
    """
    clock_fields = {name: base[name] for name in CLOCK_FIELDS if name in base}
    after = applied(clock_fields, change.fields, change.unset) | {"status": str(change.target)}
    the_plan = plan(sla, calendar, CaseClock.from_document(after))
    written = [*change.fields, *change.unset]
    for path in PLAN_INPUTS[change.target]:
        if not _written(path, written):
            change.guard.setdefault(path, field_value(base, path))
    if the_plan.pending:
        # Fired meanwhile by the scanner: the plan is stale, so decide again.
        change.guard["escalation.fired"] = {"$nin": [rung.key for rung in the_plan.pending]}
    timer = timer_document(the_plan)
    change.fields["escalation.live"] = timer["live"]
    if "next_at" in timer:
        change.fields["escalation.next_at"] = timer["next_at"]
    else:
        change.unset.append("escalation.next_at")
