"""Per-case caps, so that no case document can approach MongoDB's 16 MiB limit — pure.

A case grows with every step (``timeline``), every applied command (``applied``) and
every piece of information the reporter adds (``additions``). Each has a cap. The cap is
part of the update's *filter* (:func:`room_filter`): MongoDB applies the update only while
the array is below its cap, atomically, so replicas racing on one case cannot push it
past. A case at its cap refuses more with a clear reason (:class:`CaseFull`, reason
``case_full``) instead of freezing on a write error.

Who meets the cap. What fills a case is its outside parties: a reporter's replies and
additions (through a channel) and an agency's follow-ups. At the cap they are refused —
except a step that *ends* the case (the agency's final answer, the reporter accepting or
withdrawing), which a user expects to still work and which cannot repeat without a
refused step in between. LAPOR's own steps (automatic checks and routing, reminders,
escalations, the automatic close) and the admin's decisions may go ``reserve`` entries
past the cap, so a full case still escalates, can still be routed by hand, and still
closes; it never freezes half-way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from shared.lifecycle import Actor, Status
from shared.vocabulary import Reason, Refused

#: The growing arrays of a case that are capped.
CAPPED = ("timeline", "applied", "additions")
#: Who fills a case from outside; they meet the cap itself (see the module doc).
OUTSIDE_PARTIES = frozenset({Actor.REPORTER, Actor.AGENCY})
#: Statuses a step that ends a case leads to: such a step is never refused for room.
ENDINGS = frozenset({Status.RESOLVED, Status.CLOSED, Status.ARCHIVED})


@dataclass(frozen=True)
class CaseCaps:
    """How many entries each growing array of a case may hold."""

    timeline: int = 1000
    applied: int = 2000
    additions: int = 50
    #: Room past each cap for LAPOR's own steps, the admin's and steps that end a case.
    reserve: int = 100

    def of(self, field: str) -> int:
        """The cap of ``field`` (``timeline``, ``applied`` or ``additions``)."""
        cap: int = getattr(self, field)
        return cap

    def for_step(self, actor: Actor, source: Status, target: Status) -> CaseCaps:
        """The caps a step by ``actor`` from ``source`` to ``target`` meets."""
        if may_use_reserve(actor, source, target):
            return replace(
                self,
                timeline=self.timeline + self.reserve,
                applied=self.applied + self.reserve,
                additions=self.additions + self.reserve,
                reserve=0,
            )
        return self


def may_use_reserve(actor: Actor, source: Status, target: Status) -> bool:
    """Whether a step may go past the caps into the reserve (see the module doc)."""
    ends_the_case = target != source and target in ENDINGS
    return actor not in OUTSIDE_PARTIES or ends_the_case


class CaseFull(Refused):
    """A case has reached a cap; the reason names which and how many."""

    def __init__(self, field: str, cap: int) -> None:
        super().__init__(Reason.CASE_FULL, field=field, cap=cap)
        self.args = (f"case_full: {field} holds its maximum of {cap} entries",)
        self.field = field
        self.cap = cap


def growth(pushes: Mapping[str, Any]) -> dict[str, int]:
    """How many entries an update's ``$push`` adds to each capped array."""
    adding: dict[str, int] = {}
    for field in CAPPED:
        if field in pushes:
            value = pushes[field]
            each = value.get("$each") if isinstance(value, Mapping) else None
            adding[field] = len(each) if isinstance(each, list) else 1
    return adding


def check_room(case: Mapping[str, Any], caps: CaseCaps, **adding: int) -> None:
    """Raise :class:`CaseFull` if adding ``adding[field]`` entries would pass a cap."""
    for field, count in adding.items():
        held = len(case.get(field) or [])
        if held + count > caps.of(field):
            raise CaseFull(field, caps.of(field))


def room_filter(caps: CaseCaps, **adding: int) -> dict[str, Any]:
    """Conditions to AND into an update's filter: each array still has room for ``adding``.

    ``{"timeline.999": {"$exists": False}}`` is true while ``timeline`` has fewer than 1000
    entries; asking for room for *n* checks index ``cap - n``. Documented MongoDB semantics.
    """
    conditions: dict[str, Any] = {}
    for field, count in adding.items():
        if count <= 0:
            continue
        index = caps.of(field) - count
        if index < 0:
            raise CaseFull(field, caps.of(field))
        conditions[f"{field}.{index}"] = {"$exists": False}
    return conditions


def no_room(caps: CaseCaps, field: str, count: int) -> dict[str, Any]:
    """The filter condition true when ``field`` has no room for ``count`` more entries."""
    return {f"{field}.{max(caps.of(field) - count, 0)}": {"$exists": True}}
