"""Read-only questions about a case's routing history (for consoles, reports and tests)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from shared.lifecycle import Actor, Status
from shared.storage import Store


class CaseNotFound(LookupError):
    """No case has this tracking ID."""


class TimelineEntry(BaseModel):
    """One thing that happened to a case: who did what, when, and why."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    at: datetime
    step: str
    actor: Actor
    by: str | None = None
    agency: str | None = None
    from_status: Status | None = Field(default=None, alias="from")
    to_status: Status = Field(alias="to")
    note: str | None = None
    rule: str | None = None


class Hop(BaseModel):
    """One agency that held the case, how it was chosen, and how it let go."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    hop: int
    agency: str
    agency_name: str
    at: datetime
    rule: str
    reason: str
    by: str | None = None
    ended_at: datetime | None = None
    outcome: str | None = None
    outcome_reason: str | None = None


async def case_timeline(store: Store, tracking_id: str) -> list[TimelineEntry]:
    """Every timeline entry of a case, oldest first."""
    case = await store.complaints.find_one({"_id": tracking_id}, {"timeline": 1})
    if case is None:
        raise CaseNotFound(tracking_id)
    entries = [TimelineEntry.model_validate(e) for e in case.get("timeline") or []]
    return sorted(entries, key=lambda e: e.at)  # stable: same-instant entries keep their order


async def case_hops(store: Store, tracking_id: str) -> list[Hop]:
    """Every agency that has held a case, in order."""
    case = await store.complaints.find_one({"_id": tracking_id}, {"hops": 1})
    if case is None:
        raise CaseNotFound(tracking_id)
    return [Hop.model_validate(h) for h in case.get("hops") or []]
