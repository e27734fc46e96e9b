"""Why a service refused a message, kept where ``lapor dlq list`` can find it.

A consumer that rejects a message cannot add a header to it: the dead letter only says
``rejected``. So before it rejects (``unauthorised``, ``unknown case``, …) a service
records the reason here, keyed by the queue and the message, and ``lapor dlq list``
shows it beside the broker's own ``x-death`` reason. The record holds no body and no
identity: the queue, the message ID, the reason and the sending broker user. Records
expire with the dead letters they explain.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, IndexModel

COLLECTION = "refusals"


@dataclass(frozen=True)
class Refusal:
    """One refused message: where, which, why and from whom (a broker user, not a person)."""

    queue: str
    message_id: str | None
    reason: str
    sender: str | None
    at: datetime


def refusal_key(queue: str, message_id: str | None, body: bytes) -> str:
    """The record's id: the queue and the message ID (or, without one, the body's digest)."""
    which = message_id if message_id else "sha256:" + hashlib.sha256(body).hexdigest()
    return hashlib.sha256(f"{queue}\0{which}".encode()).hexdigest()[:32]


async def ensure_indexes(db: Any) -> None:
    """Expire records when their ``expires_at`` passes."""
    await db[COLLECTION].create_indexes(
        [IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expires_at")]
    )


async def record(db: Any, refusal: Refusal, body: bytes, keep: timedelta) -> None:
    """Keep why ``body`` was refused (idempotent: a redelivery keeps the first record)."""
    await db[COLLECTION].update_one(
        {"_id": refusal_key(refusal.queue, refusal.message_id, body)},
        {
            "$setOnInsert": {
                "queue": refusal.queue,
                "message_id": refusal.message_id,
                "reason": refusal.reason,
                "sender": refusal.sender,
                "at": refusal.at,
                "expires_at": refusal.at + keep,
            }
        },
        upsert=True,
    )


async def reasons(db: Any, keys: Iterable[str]) -> dict[str, str]:
    """The recorded reason for each of ``keys`` that has one."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    found = db[COLLECTION].find({"_id": {"$in": wanted}}, {"reason": 1})
    return {str(doc["_id"]): str(doc["reason"]) async for doc in found}
