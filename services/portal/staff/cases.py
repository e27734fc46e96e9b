"""What the desks read: queues, an agency's cases, one case as a role may see it.

Read-only: the portal never writes a case document. Nothing here reads the reporter's
identity except :func:`reveal_identity`, which the admin desk calls as a separate,
audited action. Deadlines are shown in working days with a traffic light.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pymongo import ASCENDING

from services.portal.staff.labels import FindingView, finding_view
from services.portal.staff.roles import Role
from shared.calendar import WorkingCalendar
from shared.contract import TRACKING_ID
from shared.escalation_policy import CaseClock, live_deadline
from shared.lifecycle import Status
from shared.pii import IdentityProtector
from shared.storage import Document, Store

#: Fields a desk list reads: never the reporter, never raw input.
ROW_PROJECTION = {
    "status": 1, "title": 1, "description": 1, "kind": 1, "category": 1, "category_hint": 1,
    "severity": 1, "agency": 1, "agency_name": 1, "agency_tz": 1, "received_at": 1,
    "dispatched_at": 1, "first_answer_at": 1, "deadlines": 1, "anonymous": 1,
    "confidential": 1, "channel": 1, "location": 1,
}  # fmt: skip
#: Everything a case page may show, still without the sealed identity or raw input.
CASE_PROJECTION = {"reporter.sealed": 0, "raw_sealed": 0, "outbox": 0, "applied": 0}

_TRACKING_IN_TEXT = re.compile(TRACKING_ID.strip("^$"))


class AdminQueue(StrEnum):
    """The admin desk's queues (the URL names)."""

    NEEDS_REVIEW = "needs_review"
    NEEDS_ROUTING = "needs_routing"
    DEFERRED = "deferred"


QUEUE_STATUS: dict[AdminQueue, Status] = {
    AdminQueue.NEEDS_REVIEW: Status.NEEDS_REVIEW,
    AdminQueue.NEEDS_ROUTING: Status.AWAITING_ROUTING,
    AdminQueue.DEFERRED: Status.DEFERRED,
}

QUEUE_TITLES: dict[str, str] = {
    AdminQueue.NEEDS_REVIEW: "Perlu ditinjau",
    AdminQueue.NEEDS_ROUTING: "Perlu didisposisi",
    AdminQueue.DEFERRED: "Ditunda (menunggu pelapor)",
    "quarantine": "Karantina (laporan tidak valid)",
}


class Light(StrEnum):
    """A deadline's traffic light."""

    GREEN = "hijau"
    AMBER = "kuning"
    RED = "merah"


@dataclass(frozen=True)
class DeadlineView:
    """A deadline as a desk shows it: the instant, working days left, the light."""

    at: datetime
    working_days_left: int
    late: bool
    light: Light

    @property
    def label(self) -> str:
        """In words (Bahasa Indonesia)."""
        if self.late:
            days = -self.working_days_left
            return f"terlambat {days} hari kerja" if days else "terlambat (hari ini)"
        if self.working_days_left == 0:
            return "batas hari ini"
        return f"sisa {self.working_days_left} hari kerja"


def deadline_view(
    deadline: datetime, now: datetime, calendar: WorkingCalendar, tz: str | None = None
) -> DeadlineView:
    """Green with two or more working days left, amber with one or none, red once late."""
    left = calendar.working_days_between(now, deadline, tz)
    late = now > deadline
    light = Light.RED if late else Light.AMBER if left <= 1 else Light.GREEN
    return DeadlineView(deadline, left, late, light)


@dataclass(frozen=True)
class CaseRow:
    """One line of a desk's list."""

    tracking_id: str
    status: Status | None
    title: str
    received_at: datetime | None
    agency: str | None
    agency_name: str | None
    category: str | None
    severity: str | None
    anonymous: bool
    confidential: bool
    deadline: DeadlineView | None

    @classmethod
    def of(cls, doc: Mapping[str, Any], now: datetime, calendar: WorkingCalendar) -> CaseRow:
        """The row of a stored case, its live deadline (as escalation sees it) judged at now."""
        clock = CaseClock.from_document(doc)
        live = live_deadline(clock)
        return cls(
            tracking_id=str(doc["_id"]),
            status=clock.status,
            title=case_title(doc),
            received_at=doc.get("received_at"),
            agency=doc.get("agency"),
            agency_name=doc.get("agency_name"),
            category=doc.get("category") or doc.get("category_hint"),
            severity=doc.get("severity"),
            anonymous=bool(doc.get("anonymous")),
            confidential=bool(doc.get("confidential")),
            deadline=deadline_view(live.at, now, calendar, live.tz) if live else None,
        )


def case_title(doc: Mapping[str, Any]) -> str:
    """The report's title, or the start of its description."""
    title = doc.get("title")
    if title:
        return str(title)
    text = " ".join(str(doc.get("description", "")).split())
    return text if len(text) <= 80 else text[:77] + "…"


async def queue_rows(
    store: Store, queue: AdminQueue, now: datetime, calendar: WorkingCalendar, limit: int = 200
) -> list[CaseRow]:
    """One admin queue, oldest first."""
    cursor = (
        store.complaints.find({"status": str(QUEUE_STATUS[queue])}, ROW_PROJECTION)
        .sort([("received_at", ASCENDING), ("_id", ASCENDING)])
        .limit(limit)
    )
    return [CaseRow.of(doc, now, calendar) async for doc in cursor]


async def queue_counts(store: Store) -> dict[str, int]:
    """How many cases wait in each admin queue."""
    counts = {
        str(queue): await store.complaints.count_documents({"status": str(status)})
        for queue, status in QUEUE_STATUS.items()
    }
    counts["quarantine"] = await store.quarantine.count_documents({"dismissed": {"$ne": True}})
    return counts


async def agency_rows(
    store: Store, agencies: frozenset[str], now: datetime, calendar: WorkingCalendar
) -> list[CaseRow]:
    """The open cases of ``agencies``, late first."""
    open_statuses = [str(Status.DISPATCHED), str(Status.IN_PROGRESS), str(Status.RESOLVED)]
    cursor = store.complaints.find(
        {"agency": {"$in": sorted(agencies)}, "status": {"$in": open_statuses}}, ROW_PROJECTION
    ).limit(500)
    rows = [CaseRow.of(doc, now, calendar) async for doc in cursor]
    return sort_late_first(rows)


def sort_late_first(rows: Sequence[CaseRow]) -> list[CaseRow]:
    """Late cases first, then the nearest deadline; cases with no running deadline last."""

    def key(row: CaseRow) -> tuple[int, float]:
        if row.deadline is None:
            return (2, 0.0)
        return (0 if row.deadline.late else 1, row.deadline.at.timestamp())

    return sorted(rows, key=key)


async def load_case(store: Store, tracking_id: str) -> Document | None:
    """A stored case without its sealed identity and raw input, or None."""
    return await store.complaints.find_one({"_id": tracking_id.upper()}, CASE_PROJECTION)


@dataclass(frozen=True)
class CaseView:
    """A case as one role may see it."""

    doc: Document
    row: CaseRow
    findings: list[FindingView] = field(default_factory=list)
    duplicates: list[CaseRow] = field(default_factory=list)
    reporter_name: str | None = None
    show_identity_button: bool = False
    timeline: list[dict[str, Any]] = field(default_factory=list)


def duplicate_ids(doc: Mapping[str, Any]) -> list[str]:
    """Tracking IDs a case is linked to as a possible or proven duplicate."""
    found: list[str] = []
    for finding in doc.get("checks", []):
        if finding.get("code") == "duplicate":
            found += _TRACKING_IN_TEXT.findall(str(finding.get("detail", "")))
    for other in [doc.get("duplicate_of"), *doc.get("duplicates", [])]:
        if other:
            found.append(str(other))
    return [tid for i, tid in enumerate(found) if tid not in found[:i] and tid != doc.get("_id")]


@dataclass(frozen=True)
class ViewContext:
    """What every case page is read with: the instant, the working calendar for its
    deadlines and the protector that opens a reporter's sealed name."""

    now: datetime
    calendar: WorkingCalendar
    protector: IdentityProtector | None


async def case_view(store: Store, doc: Document, role: Role, context: ViewContext) -> CaseView:
    """What the case page shows this role.

    A liaison never sees contacts and sees the reporter's name only on a case that is
    not *anonim*; admins see identity only through the audited reveal.
    """
    duplicates: list[CaseRow] = []
    if role is Role.ADMIN:
        for tid in duplicate_ids(doc):
            other = await store.complaints.find_one({"_id": tid}, ROW_PROJECTION)
            if other:
                duplicates.append(CaseRow.of(other, context.now, context.calendar))
    name = None
    if role is Role.AGENCY and not doc.get("anonymous") and context.protector is not None:
        name = await _reporter_name(store, str(doc["_id"]), context.protector)
    return CaseView(
        doc=doc,
        row=CaseRow.of(doc, context.now, context.calendar),
        findings=[finding_view(str(f.get("code")), f.get("detail")) for f in doc.get("checks", [])],
        duplicates=duplicates,
        reporter_name=name,
        show_identity_button=role is Role.ADMIN,
        timeline=list(doc.get("timeline", [])),
    )


async def _reporter(store: Store, tracking_id: str, protector: IdentityProtector) -> dict[str, Any]:
    doc = await store.complaints.find_one({"_id": tracking_id}, {"reporter.sealed": 1})
    sealed = (doc or {}).get("reporter", {}).get("sealed")
    if not sealed:
        return {}
    return dict(protector.open_json(bytes(sealed), tracking_id))


async def _reporter_name(
    store: Store, tracking_id: str, protector: IdentityProtector
) -> str | None:
    name = (await _reporter(store, tracking_id, protector)).get("name")
    return str(name) if name else None


async def reveal_identity(
    store: Store, tracking_id: str, protector: IdentityProtector
) -> dict[str, str]:
    """The reporter's identity (name, phone, e-mail, handle): only for the audited reveal."""
    reporter = await _reporter(store, tracking_id, protector)
    return {
        k: str(v) for k, v in reporter.items() if v and k in {"name", "phone", "email", "handle"}
    }
