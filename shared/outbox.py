"""The transactional outbox: a stored change and the messages it implies are one write.

A handler stores its messages as pending entries *in the same document update* as the
state change, publishes them (publisher confirms on), then removes them. If the
process dies in between, the entries stay, with ``outbox_due_at`` set, and a relay in
any replica claims the document when that time passes and publishes them again. Each
entry keeps its ``message_id``, so a consumer that sees one twice can tell.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from pydantic import BaseModel
from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

from shared.clock import Clock, SystemClock
from shared.contract import to_json_dict
from shared.pii import IdentityProtector

log = logging.getLogger("lapor.outbox")

#: The outbox waits in real seconds, whatever clock the domain runs on: its grace is about
#: a publisher process that may have died, not about deadlines (a demo or a test that moves
#: the domain clock forward must not make in-flight messages look abandoned).
_REAL_TIME = SystemClock()

Document = dict[str, Any]


@dataclass(frozen=True)
class OutboxMessage:
    """One message waiting to be published."""

    exchange: str
    routing_key: str
    message_id: str
    body: dict[str, Any]

    @classmethod
    def of(cls, exchange: str, routing_key: str, message: BaseModel) -> OutboxMessage:
        """A pending message for a contract model that has a ``message_id``."""
        message_id = getattr(message, "message_id")  # noqa: B009 - every contract message has one
        return cls(exchange, routing_key, str(message_id), to_json_dict(message))

    def to_document(self, protector: IdentityProtector | None = None) -> Document:
        """As stored in the ``outbox`` array; its body sealed when there is a key.

        A body may carry a reporter's name (a Disposition of a named report) or contacts:
        sealed, it is as unreadable in the store as the case's own identity field.
        """
        doc: Document = {
            "exchange": self.exchange,
            "routing_key": self.routing_key,
            "message_id": self.message_id,
        }
        if protector is None:
            return doc | {"body": self.body}
        return doc | {"body_sealed": protector.seal(self.payload(), _context(self.message_id))}

    @classmethod
    def from_document(
        cls, doc: Document, protector: IdentityProtector | None = None
    ) -> OutboxMessage:
        """Back from the ``outbox`` array (opening a sealed body)."""
        body = doc.get("body")
        if "body_sealed" in doc:
            if protector is None:
                raise RuntimeError("a sealed outbox entry and no identity key to open it")
            body = json.loads(protector.open(doc["body_sealed"], _context(doc["message_id"])))
        return cls(doc["exchange"], doc["routing_key"], doc["message_id"], body or {})

    def payload(self) -> bytes:
        """The JSON body as published."""
        return json.dumps(self.body, ensure_ascii=False, separators=(",", ":")).encode()


class Publisher(Protocol):
    """Publishes one message and returns once the broker confirmed it."""

    async def publish(self, message: OutboxMessage) -> None: ...


def _context(message_id: str) -> str:
    return f"outbox:{message_id}"


def with_pending(
    update: Document,
    messages: list[OutboxMessage],
    grace: timedelta,
    protector: IdentityProtector | None = None,
) -> Document:
    """``update`` (a MongoDB update document) that also adds ``messages`` to the outbox."""
    merged = {op: dict(fields) for op, fields in update.items()}
    pending = [m.to_document(protector) for m in messages]
    merged.setdefault("$push", {})["outbox"] = {"$each": pending}
    merged.setdefault("$set", {})["outbox_due_at"] = _REAL_TIME.now() + grace
    return merged


def pending_fields(
    messages: list[OutboxMessage], grace: timedelta, protector: IdentityProtector | None = None
) -> Document:
    """The fields of a new document whose outbox holds ``messages``."""
    return {
        "outbox": [m.to_document(protector) for m in messages],
        "outbox_due_at": _REAL_TIME.now() + grace,
    }


class Outbox:
    """Publishes pending messages of one collection, now or after a crash."""

    def __init__(
        self,
        collection: AsyncCollection[Document],
        publisher: Publisher,
        grace: timedelta = timedelta(seconds=5),
        clock: Clock = _REAL_TIME,
        protector: IdentityProtector | None = None,
    ) -> None:
        self._collection = collection
        #: Seals pending bodies at rest (None: a service with no identity key stores them
        #: as they are; its messages carry no identity).
        self.protector = protector
        self._publisher = publisher
        self._clock = clock
        self._grace = grace

    async def deliver(self, doc_id: Any, messages: list[OutboxMessage]) -> None:
        """Publish ``messages`` of document ``doc_id`` and take them off its outbox."""
        for message in messages:
            await self._publisher.publish(message)
        if not messages or doc_id is None:
            return  # nothing stored to take off (a message published straight away)
        ids = [m.message_id for m in messages]
        # Usually the outbox holds exactly these messages: one update empties it.
        emptied = await self._collection.update_one(
            {"_id": doc_id, "outbox": {"$size": len(ids)}, "outbox.message_id": {"$all": ids}},
            {"$set": {"outbox": []}, "$unset": {"outbox_due_at": ""}},
        )
        if emptied.matched_count:
            return
        await self._collection.update_one(
            {"_id": doc_id}, {"$pull": {"outbox": {"message_id": {"$in": ids}}}}
        )
        await self._collection.update_one(
            {"_id": doc_id, "outbox": {"$size": 0}}, {"$unset": {"outbox_due_at": ""}}
        )

    async def relay_once(self) -> int:
        """Publish the outbox of every document whose pending messages are overdue."""
        sent = 0
        while True:
            now = self._clock.now()
            doc = await self._collection.find_one_and_update(
                {"outbox_due_at": {"$lte": now}},
                # The claim: other replicas skip this document until the lease ends.
                {"$set": {"outbox_due_at": now + self._grace}},
                sort=[("outbox_due_at", 1)],
                projection={"outbox": 1},
                return_document=ReturnDocument.AFTER,
            )
            if doc is None:
                return sent
            messages = [
                OutboxMessage.from_document(m, self.protector) for m in doc.get("outbox", [])
            ]
            if messages:
                log.info(
                    "relaying pending messages",
                    extra={"doc_id": str(doc["_id"]), "count": len(messages)},
                )
            await self.deliver(doc["_id"], messages)
            if not messages:
                await self._collection.update_one(
                    {"_id": doc["_id"], "outbox": {"$size": 0}}, {"$unset": {"outbox_due_at": ""}}
                )
            sent += len(messages)

    async def run(self, stop: asyncio.Event, interval: float) -> None:
        """Relay until ``stop`` is set; a failed round is logged and retried."""
        while not stop.is_set():
            try:
                await self.relay_once()
            except Exception:
                log.exception("outbox relay round failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
