"""Server-side staff sessions (collection ``staff_sessions``) with idle and absolute expiry.

The browser holds only a random token in a Secure, HttpOnly, SameSite=Strict cookie; the
database holds the token's SHA-256, so a leaked database dump opens no session. Each
session carries its own CSRF token, which every form posts back.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from pymongo.asynchronous.collection import AsyncCollection

from shared.storage import Document


@dataclass(frozen=True)
class SessionPolicy:
    """How long a session lives: since the last request, and at most in total."""

    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=10)


@dataclass(frozen=True)
class StaffSession:
    """A logged-in staff member's session (the account is re-read on every request)."""

    session_id: str  # the token's hash
    name: str
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime
    address: str


def session_expired(
    created_at: datetime, last_seen_at: datetime, now: datetime, policy: SessionPolicy
) -> bool:
    """Whether a session is past its idle or its absolute expiry at ``now``."""
    return now - last_seen_at > policy.idle or now - created_at > policy.absolute


def token_hash(token: str) -> str:
    """What is stored for a session token."""
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_matches(expected: str, given: str | None) -> bool:
    """Whether a posted CSRF token is the session's (constant-time)."""
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


class StaffSessions:
    """The ``staff_sessions`` collection."""

    def __init__(self, collection: AsyncCollection[Document], policy: SessionPolicy) -> None:
        self._sessions = collection
        self.policy = policy

    async def start(self, name: str, address: str, now: datetime) -> tuple[str, StaffSession]:
        """A new session for ``name``: the token for the cookie, and the session."""
        token = secrets.token_urlsafe(32)
        session = StaffSession(
            session_id=token_hash(token),
            name=name,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            address=address,
        )
        await self._sessions.insert_one(
            {
                "_id": session.session_id,
                "name": name,
                "csrf_token": session.csrf_token,
                "created_at": now,
                "last_seen_at": now,
                "address": address,
            }
        )
        return token, session

    async def resume(self, token: str, now: datetime) -> StaffSession | None:
        """The live session for ``token``, its idle time restarted; None if none or expired."""
        session_id = token_hash(token)
        doc = await self._sessions.find_one({"_id": session_id})
        if doc is None:
            return None
        if session_expired(doc["created_at"], doc["last_seen_at"], now, self.policy):
            await self._sessions.delete_one({"_id": session_id})
            return None
        await self._sessions.update_one({"_id": session_id}, {"$set": {"last_seen_at": now}})
        return StaffSession(
            session_id=session_id,
            name=doc["name"],
            csrf_token=doc["csrf_token"],
            created_at=doc["created_at"],
            last_seen_at=now,
            address=doc.get("address", ""),
        )

    async def end(self, token: str) -> None:
        """Log out: the session is gone."""
        await self._sessions.delete_one({"_id": token_hash(token)})

    async def end_all_for(self, name: str) -> int:
        """End every session of an account (disabled, or its password reset)."""
        result = await self._sessions.delete_many({"name": name})
        return result.deleted_count
