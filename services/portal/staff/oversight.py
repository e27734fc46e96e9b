"""The oversight inbox: escalation notices the portal consumes, and their acknowledgements.

The portal reads its own queue ``portal.oversight`` (bound to ``lapor.oversight`` ``#``,
so the per-office ``oversight.*`` queues stay for other consumers such as e-mail) and keeps
each notice once, by ``message_id``, in the portal's collection ``oversight_inbox``.

An acknowledgement goes to the case as the command ``oversight.acknowledge`` (escalation
records it on the case's timeline: the portal never writes a case document), and is kept
here too (who, when) and in the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection

from services.portal.staff.roles import OVERSIGHT_TARGETS, Role
from shared.contract import EscalationNotice
from shared.lifecycle import EscalationTarget
from shared.storage import Document, Store

OVERSIGHT_INBOX = "oversight_inbox"

TARGET_TITLES = {
    EscalationTarget.PENGHUBUNG: "Pengingat untuk penghubung",
    EscalationTarget.PIMPINAN: "Pimpinan instansi",
    EscalationTarget.INSPEKTORAT: "Inspektorat",
    EscalationTarget.OMBUDSMAN: "Ombudsman",
}

DEADLINE_TITLES = {
    "verification": "verifikasi",
    "follow_up": "tindak lanjut",
    "resolution": "penyelesaian",
    "auto_close": "penutupan otomatis",
}


@dataclass(frozen=True)
class InboxItem:
    """One notice as the inbox shows it."""

    message_id: str
    tracking_id: str
    target: EscalationTarget
    level: int
    agency: str | None
    deadline_kind: str
    deadline: datetime
    occurred_at: datetime
    summary: str
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None

    @classmethod
    def from_document(cls, doc: Document) -> InboxItem:
        """The item stored as ``doc``."""
        return cls(
            message_id=doc["_id"],
            tracking_id=doc["tracking_id"],
            target=EscalationTarget(doc["target"]),
            level=int(doc["level"]),
            agency=doc.get("agency"),
            deadline_kind=doc["deadline_kind"],
            deadline=doc["deadline"],
            occurred_at=doc["occurred_at"],
            summary=doc["summary"],
            acknowledged_at=doc.get("acknowledged_at"),
            acknowledged_by=doc.get("acknowledged_by"),
        )


def visible_query(role: Role, agencies: frozenset[str]) -> dict[str, Any] | None:
    """The notices a role reads (None: none at all)."""
    targets = OVERSIGHT_TARGETS.get(role)
    if role is Role.AGENCY:
        return {"target": str(EscalationTarget.PENGHUBUNG), "agency": {"$in": sorted(agencies)}}
    if not targets:
        return None
    query: dict[str, Any] = {"target": {"$in": sorted(str(t) for t in targets)}}
    if role is Role.LEADER and agencies:
        query["agency"] = {"$in": sorted(agencies)}
    return query


class OversightInbox:
    """The ``oversight_inbox`` collection."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._items = collection

    @classmethod
    def over(cls, store: Store) -> OversightInbox:
        """The inbox in ``store``'s database."""
        return cls(store.db[OVERSIGHT_INBOX])

    async def ensure_indexes(self) -> None:
        """Indexes for the inbox's lists."""
        await self._items.create_indexes(
            [
                IndexModel(
                    [("target", ASCENDING), ("agency", ASCENDING), ("occurred_at", DESCENDING)],
                    name="target_agency",
                ),
                IndexModel([("tracking_id", ASCENDING)], name="tracking_id"),
            ]
        )

    async def keep(self, notice: EscalationNotice, now: datetime) -> None:
        """Store a notice once (a redelivered one changes nothing)."""
        fields = notice.model_dump(exclude={"message_id"}, exclude_none=True)
        fields["target"] = str(notice.target)
        await self._items.update_one(
            {"_id": notice.message_id},
            {"$setOnInsert": fields | {"received_at": now}},
            upsert=True,
        )

    async def for_role(
        self, role: Role, agencies: frozenset[str], limit: int = 200
    ) -> list[InboxItem]:
        """The notices addressed to this role (and agency), unacknowledged first, newest first."""
        query = visible_query(role, agencies)
        if query is None:
            return []
        cursor = self._items.find(query).sort("occurred_at", DESCENDING).limit(limit)
        items = [InboxItem.from_document(doc) async for doc in cursor]
        return sorted(items, key=lambda item: item.acknowledged_at is not None)

    async def get(self, message_id: str) -> InboxItem | None:
        """One notice."""
        doc = await self._items.find_one({"_id": message_id})
        return InboxItem.from_document(doc) if doc else None

    async def for_case(self, tracking_id: str) -> list[InboxItem]:
        """Every notice about a case, oldest first (shown beside its timeline)."""
        cursor = self._items.find({"tracking_id": tracking_id}).sort("occurred_at", ASCENDING)
        return [InboxItem.from_document(doc) async for doc in cursor]

    async def acknowledge(self, message_id: str, by: str, now: datetime) -> bool:
        """Record who acknowledged a notice, once; False if it was acknowledged already."""
        result = await self._items.update_one(
            {"_id": message_id, "acknowledged_at": {"$exists": False}},
            {"$set": {"acknowledged_at": now, "acknowledged_by": by}},
        )
        return result.modified_count == 1
