"""The audit log (collection ``audit``): append-only, who did what, when, to which case, from where.

Every decision, identity reveal, log-in, failed log-in and user change is one document.
Nothing here updates or deletes an entry: the log holds only the collection's ``insert_one``
and ``find`` (:class:`AppendOnly`), and a deployment gives the portal's MongoDB user only
``insert`` and ``find`` on this collection (docs/staff.md). It never holds reporter
identity: a reveal records *that* it happened, not what was shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

from shared.storage import Document


class AuditAction(StrEnum):
    """What happened."""

    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGIN_THROTTLED = "login_throttled"
    LOGOUT = "logout"
    USER_ADDED = "user_added"
    USER_DISABLED = "user_disabled"
    USER_ENABLED = "user_enabled"
    PASSWORD_RESET = "password_reset"  # noqa: S105 (an action name, not a secret)
    DECISION = "decision"
    ROUTED = "routed"
    AGENCY_RESPONSE = "agency_response"
    IDENTITY_REVEALED = "identity_revealed"
    QUARANTINE_READ = "quarantine_read"
    QUARANTINE_RESUBMITTED = "quarantine_resubmitted"
    QUARANTINE_DISMISSED = "quarantine_dismissed"
    OVERSIGHT_ACKNOWLEDGED = "oversight_acknowledged"
    REFUSED = "refused"


#: What the operator reads for each action (Bahasa Indonesia); the code stays the data.
ACTION_TITLES: dict[AuditAction, str] = {
    AuditAction.LOGIN: "Masuk",
    AuditAction.LOGIN_FAILED: "Gagal masuk",
    AuditAction.LOGIN_THROTTLED: "Masuk ditahan (terlalu banyak percobaan)",
    AuditAction.LOGOUT: "Keluar",
    AuditAction.USER_ADDED: "Pengguna ditambahkan",
    AuditAction.USER_DISABLED: "Pengguna dinonaktifkan",
    AuditAction.USER_ENABLED: "Pengguna diaktifkan",
    AuditAction.PASSWORD_RESET: "Kata sandi diatur ulang",
    AuditAction.DECISION: "Keputusan atas laporan",
    AuditAction.ROUTED: "Disposisi manual",
    AuditAction.AGENCY_RESPONSE: "Tanggapan instansi",
    AuditAction.IDENTITY_REVEALED: "Identitas pelapor dibuka",
    AuditAction.QUARANTINE_READ: "Karantina dibaca",
    AuditAction.QUARANTINE_RESUBMITTED: "Karantina dikirim ulang",
    AuditAction.QUARANTINE_DISMISSED: "Karantina ditutup",
    AuditAction.OVERSIGHT_ACKNOWLEDGED: "Eskalasi diterima pengawas",
    AuditAction.REFUSED: "Tindakan ditolak",
}


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit log."""

    at: datetime
    actor: str  # the staff account, or ``cli:<os user>`` for the command line
    action: AuditAction
    address: str = ""
    role: str | None = None
    tracking_id: str | None = None
    detail: dict[str, str] = field(default_factory=dict)

    def to_document(self) -> Document:
        """As stored."""
        doc: Document = {
            "at": self.at,
            "actor": self.actor,
            "action": str(self.action),
            "address": self.address,
            "detail": dict(self.detail),
        }
        if self.role:
            doc["role"] = self.role
        if self.tracking_id:
            doc["tracking_id"] = self.tracking_id
        return doc

    @classmethod
    def from_document(cls, doc: Document) -> AuditEntry:
        """The entry stored as ``doc``."""
        return cls(
            at=doc["at"],
            actor=doc["actor"],
            action=AuditAction(doc["action"]),
            address=doc.get("address", ""),
            role=doc.get("role"),
            tracking_id=doc.get("tracking_id"),
            detail={str(k): str(v) for k, v in doc.get("detail", {}).items()},
        )


@dataclass(frozen=True)
class AuditFilter:
    """What the operator asks of the audit log; every field narrows it."""

    actor: str | None = None
    action: AuditAction | None = None
    tracking_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 200

    def query(self) -> dict[str, Any]:
        """The MongoDB filter."""
        query: dict[str, Any] = {}
        if self.actor:
            query["actor"] = self.actor
        if self.action:
            query["action"] = str(self.action)
        if self.tracking_id:
            query["tracking_id"] = self.tracking_id.upper()
        period: dict[str, datetime] = {}
        if self.since:
            period["$gte"] = self.since
        if self.until:
            period["$lt"] = self.until
        if period:
            query["at"] = period
        return query


class AppendOnly:
    """The audit collection as the portal holds it: insert and find, nothing else.

    The log keeps only these two bound operations, not the collection, so no code path
    through it can update, replace or delete an entry; the database role of a deployment
    enforces the same (docs/staff.md, "The audit log").
    """

    __slots__ = ("find", "insert_one")

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self.insert_one = collection.insert_one
        self.find = collection.find


class AuditLog:
    """The ``audit`` collection: append and read, never change."""

    __slots__ = ("_entries",)

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._entries = AppendOnly(collection)

    async def record(self, entry: AuditEntry) -> None:
        """Append one entry."""
        await self._entries.insert_one(entry.to_document())

    async def search(self, which: AuditFilter) -> list[AuditEntry]:
        """Matching entries, newest first."""
        # Entries of one instant keep their order of insertion (ObjectIds grow).
        cursor = (
            self._entries.find(which.query())
            .sort([("at", DESCENDING), ("_id", DESCENDING)])
            .limit(which.limit)
        )
        return [AuditEntry.from_document(doc) async for doc in cursor]
