"""The staff area's collections in one place, and the indexes their queries need."""

from __future__ import annotations

from dataclasses import dataclass

from pymongo import ASCENDING, DESCENDING, IndexModel

from services.portal.staff.accounts import StaffAccounts
from services.portal.staff.audit import AuditLog
from services.portal.staff.sessions import SessionPolicy, StaffSessions
from services.portal.staff.throttle import LoginThrottle, ThrottlePolicy
from shared.storage import Store

STAFF_USERS = "staff_users"
STAFF_SESSIONS = "staff_sessions"
LOGIN_THROTTLE = "staff_login_throttle"
AUDIT = "audit"


@dataclass(frozen=True)
class StaffStore:
    """Accounts, sessions and the audit log over one database."""

    store: Store
    accounts: StaffAccounts
    sessions: StaffSessions
    audit: AuditLog

    @classmethod
    def over(
        cls,
        store: Store,
        throttle: ThrottlePolicy | None = None,
        sessions: SessionPolicy | None = None,
    ) -> StaffStore:
        """The staff collections of ``store``'s database."""
        db = store.db
        return cls(
            store=store,
            accounts=StaffAccounts(
                db[STAFF_USERS], LoginThrottle(db[LOGIN_THROTTLE], throttle or ThrottlePolicy())
            ),
            sessions=StaffSessions(db[STAFF_SESSIONS], sessions or SessionPolicy()),
            audit=AuditLog(db[AUDIT]),
        )

    async def ensure_indexes(self) -> None:
        """Create the indexes the staff area's queries use (idempotent)."""
        db = self.store.db
        await db[STAFF_SESSIONS].create_indexes([IndexModel([("name", ASCENDING)], name="name")])
        await db[AUDIT].create_indexes(
            [
                IndexModel([("at", DESCENDING)], name="at"),
                IndexModel([("actor", ASCENDING), ("at", DESCENDING)], name="actor_at"),
                IndexModel([("tracking_id", ASCENDING), ("at", DESCENDING)], name="case_at"),
                IndexModel([("action", ASCENDING), ("at", DESCENDING)], name="action_at"),
            ]
        )
