"""The transactional outbox: a stored change and the messages it implies are one write.

A handler stores its messages as pending entries *in the same document update* as the
state change, publishes them (publisher confirms on), then removes them. If the
process dies in between, the entries stay, with ``outbox_due_at`` set, and a relay in
any replica claims the document when that time passes and publishes them again. Each
entry keeps its ``message_id``, so a consumer that sees one twice can tell.

Removing them is bookkeeping, not delivery: the messages are out once the broker confirmed
them. So a running service *settles* its published entries together, one store command
for every document published in the last ``settle_seconds`` (:meth:`Outbox.run`), instead
of one per document; the handler does not wait for it. A crash before that write leaves
them pending like a crash before any removal: the relay sends them again after the grace,
with the same ``message_id``. Where no settler runs (a command-line tool, a test, a
service stopping), each delivery removes its own entries at once.
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
from pymongo import ReturnDocument, UpdateOne
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


def _removal(doc_id: Any, ids: list[str]) -> list[UpdateOne]:
    """The writes that take the published ``ids`` off one document's outbox, in order: the
    entries, then the due time, unless a later change (another step, another replica) has
    added entries of its own, which the relay must still find."""
    return [
        UpdateOne({"_id": doc_id}, {"$pull": {"outbox": {"message_id": {"$in": ids}}}}),
        UpdateOne({"_id": doc_id, "outbox": {"$size": 0}}, {"$unset": {"outbox_due_at": ""}}),
    ]


class Outbox:
    """Publishes pending messages of one collection, now or after a crash."""

    def __init__(
        self,
        collection: AsyncCollection[Document],
        publisher: Publisher,
        grace: timedelta = timedelta(seconds=5),
        protector: IdentityProtector | None = None,
        settle_seconds: float = 0.0,
    ) -> None:
        self._collection = collection
        #: Seals pending bodies at rest (None: a service with no identity key stores them
        #: as they are; its messages carry no identity).
        self.protector = protector
        self._publisher = publisher
        self._clock: Clock = _REAL_TIME
        self._grace = grace
        #: How long published entries wait to be taken off together (0: each at once).
        self._settle_seconds = settle_seconds
        #: Published and not yet taken off: document id → message ids (while settling).
        self._published: dict[Any, list[str]] = {}
        self._settling = False
        self._more_published = asyncio.Event()

    @property
    def settling(self) -> bool:
        """Whether published entries are taken off in rounds (:meth:`run` is settling)."""
        return self._settling

    async def deliver(self, doc_id: Any, messages: list[OutboxMessage]) -> None:
        """Publish ``messages`` of document ``doc_id`` and take them off its outbox (with
        the next settling round, while one runs)."""
        if len(messages) == 1:
            await self._publisher.publish(messages[0])
        elif messages:
            await self._publish_together(messages)
        if not messages or doc_id is None:
            return  # nothing stored to take off (a message published straight away)
        ids = [m.message_id for m in messages]
        if self._settling:
            self._published.setdefault(doc_id, []).extend(ids)
            self._more_published.set()
            return
        await self._take_off(doc_id, ids)

    async def _publish_together(self, messages: list[OutboxMessage]) -> None:
        """Publish ``messages`` in their order without waiting for one confirm before the
        next (one channel keeps the order); raises the first failure once all are settled.

        A failed one stays in the outbox with the others, so the relay sends them all again
        later under the same ``message_id``s: at least once, as after a crash.
        """
        outcomes = await asyncio.gather(
            *(self._publisher.publish(message) for message in messages), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _take_off(self, doc_id: Any, ids: list[str]) -> None:
        """Remove the published ``ids`` from one document's outbox now."""
        await self._collection.bulk_write(_removal(doc_id, ids), ordered=True)

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

    async def settle_once(self) -> int:
        """Take every published entry off its document's outbox: one store command for
        them all; the number of documents. Kept for the next round if the store fails."""
        batch, self._published = self._published, {}
        self._more_published.clear()
        if not batch:
            return 0
        writes = [write for doc_id, ids in batch.items() for write in _removal(doc_id, ids)]
        try:
            await self._collection.bulk_write(writes, ordered=True)
        except BaseException:
            for doc_id, ids in batch.items():  # idempotent: taken off again next round
                self._published.setdefault(doc_id, []).extend(ids)
            raise
        return len(batch)

    async def _settle_until(self, stop: asyncio.Event) -> None:
        """Settle published entries every ``settle_seconds`` until ``stop``; then what is
        left, and each later delivery takes its own off at once."""
        try:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._more_published.wait(), timeout=1.0)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self._settle_seconds)
                try:
                    await self.settle_once()
                except Exception:
                    log.exception("outbox settling round failed; retrying")
        finally:
            self._settling = False
            with contextlib.suppress(Exception):
                await self.settle_once()

    async def run(self, stop: asyncio.Event, interval: float) -> None:
        """Relay (and settle, if ``settle_seconds`` is set) until ``stop`` is set; a failed
        round is logged and retried."""
        settler = None
        if self._settle_seconds > 0:
            self._settling = True  # from now on, deliveries wait for a settling round
            settler = asyncio.create_task(self._settle_until(stop))
        try:
            while not stop.is_set():
                try:
                    await self.relay_once()
                except Exception:
                    log.exception("outbox relay round failed; retrying")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=interval)
        finally:
            if settler is not None:
                await settler
