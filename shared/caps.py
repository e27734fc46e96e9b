"""Per-case caps, so that no case document can approach MongoDB's 16 MiB limit — pure.

A case grows with every step (``timeline``), every applied command (``applied``) and
every piece of information the reporter adds (``additions``). Each has a cap. The cap is
part of the update's *filter* (:func:`room_filter`): MongoDB applies the update only while
the array is below its cap, atomically, so replicas racing on one case cannot push it
past. A case at its cap refuses more with a clear reason (:func:`check_room`) instead of
freezing on a write error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CaseCaps:
    """How many entries each growing array of a case may hold."""

    timeline: int = 1000
    applied: int = 2000
    additions: int = 50

    def of(self, field: str) -> int:
        """The cap of ``field`` (``timeline``, ``applied`` or ``additions``)."""
        cap: int = getattr(self, field)
        return cap


class CaseFull(Exception):
    """A case has reached a cap; the reason names which and how many."""

    def __init__(self, field: str, cap: int) -> None:
        super().__init__(f"case_full: {field} holds its maximum of {cap} entries")
        self.field = field
        self.cap = cap
        self.reason = "case_full"


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
