"""What tests use to watch the broker as an outside system would: plain aio-pika."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import aio_pika
from aio_pika.abc import AbstractConnection, AbstractIncomingMessage

from shared.storage import Store

Json = dict[str, Any]

# What every log record has (times, thread and process ids): never reporter data, and
# digits in a timestamp must not look like a leaked phone number.
_RECORD_BASICS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName",
}  # fmt: skip


def logged_text(record: logging.LogRecord) -> str:
    """What a log record says: its message and every field the code added to it."""
    extra = {k: v for k, v in vars(record).items() if k not in _RECORD_BASICS}
    return f"{record.getMessage()} {json.dumps(extra, default=str, ensure_ascii=False)}"


#: Header of the barrier message :meth:`Listener.flush` sends to its own queue.
_SENTINEL = "x-lapor-test-sentinel"


class Listener:
    """Collects every message an exchange routes with ``routing_key`` (its own queue)."""

    def __init__(self, connection: AbstractConnection, exchange: str, routing_key: str) -> None:
        self._connection = connection
        self._exchange = exchange
        self._routing_key = routing_key
        self.messages: list[AbstractIncomingMessage] = []
        self._arrived = asyncio.Event()
        self._sentinels: set[str] = set()

    async def __aenter__(self) -> Listener:
        self._channel = await self._connection.channel()
        queue = await self._channel.declare_queue(exclusive=True, auto_delete=True)
        self._queue_name = queue.name
        await queue.bind(self._exchange, routing_key=self._routing_key)
        await queue.consume(self._on_message, no_ack=True)
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._channel.close()

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        sentinel = (message.headers or {}).get(_SENTINEL)
        if isinstance(sentinel, str):
            self._sentinels.add(sentinel)
        else:
            self.messages.append(message)
        self._arrived.set()

    def bodies(self) -> list[Json]:
        """The JSON bodies received so far."""
        return [json.loads(m.body) for m in self.messages]

    async def wait_for(
        self, predicate: Callable[[list[Json]], bool], timeout: float = 15.0
    ) -> list[Json]:
        """Wait until ``predicate(bodies)`` holds; fail with what arrived if it does not."""
        deadline = time.monotonic() + timeout
        while True:
            bodies = self.bodies()
            if predicate(bodies):
                return bodies
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"{self._exchange} {self._routing_key}: condition not met in {timeout}s; "
                    f"got {len(bodies)} messages: {bodies[-5:]}"
                )
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), timeout=min(remaining, 0.5))

    async def flush(self, timeout: float = 15.0) -> list[Json]:
        """Every body routed to this listener until now: a barrier, not a pause.

        A sentinel goes straight to the listener's own queue (the default exchange) and
        is waited for: a queue delivers in order, so whatever reached the queue before it
        has arrived too. Pair it with proof that the service is done with the thing under
        test (a sentinel through the service, a stopped service, a stored state).
        """
        marker = uuid.uuid4().hex
        channel = await self._connection.channel(publisher_confirms=True)
        try:
            await channel.default_exchange.publish(
                aio_pika.Message(b"{}", headers={_SENTINEL: marker}),
                routing_key=self._queue_name,
            )
        finally:
            await channel.close()
        deadline = time.monotonic() + timeout
        while marker not in self._sentinels:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{self._routing_key}: the barrier did not come back")
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), timeout=min(remaining, 0.5))
        return self.bodies()


async def publish(
    connection: AbstractConnection,
    exchange: str,
    routing_key: str,
    body: bytes | Json,
    message_id: str | None = None,
) -> None:
    """Publish as an outside system does: persistent, with publisher confirms."""
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    channel = await connection.channel(publisher_confirms=True)
    target = await channel.get_exchange(exchange)
    await target.publish(
        aio_pika.Message(
            payload,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message_id,
        ),
        routing_key=routing_key,
    )
    await channel.close()


async def eventually(check: Callable[[], Any], timeout: float = 15.0, interval: float = 0.1) -> Any:
    """Await ``check()`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in {timeout}s (last: {result!r})")
        await asyncio.sleep(interval)


async def settled(store: Store, tracking_id: str, timeout: float = 15.0) -> None:
    """Wait until the case's published outbox entries are off the store, due time and all
    (a running service takes them off in rounds: ``shared/outbox.py``)."""
    await eventually(
        lambda: store.complaints.find_one(
            {"_id": tracking_id, "outbox": {"$size": 0}, "outbox_due_at": {"$exists": False}},
            {"_id": 1},
        ),
        timeout,
    )


def _texts(value: Any) -> list[str]:
    """Every string in a stored value, bytes read as UTF-8 too (sealed bytes read as noise)."""
    found: list[str] = []
    stack = [value]
    while stack:
        current = stack.pop()
        if isinstance(current, str):
            found.append(current)
        elif isinstance(current, bytes | bytearray):
            found.append(bytes(current).decode("utf-8", "ignore"))
        elif isinstance(current, dict):
            stack.extend(current.keys())
            stack.extend(current.values())
        elif isinstance(current, list | tuple):
            stack.extend(current)
    return found


async def plaintext_identity(
    database: Any, needles: list[str], amqp: AbstractConnection | None = None
) -> list[str]:
    """Where any of ``needles`` (a reporter's name, phone, ...) is readable: every document
    of every collection, and every dead letter's body. Empty means nowhere."""
    from shared.contacts import normalise_text

    wanted = [normalise_text(n).lower() for n in needles if n]
    hits: list[str] = []
    for name in await database.list_collection_names():
        async for document in database[name].find({}):
            for text in _texts(document):
                folded = normalise_text(text).lower()
                hits += [f"{name}/{document.get('_id')}: {n}" for n in wanted if n in folded]
    if amqp is not None:
        from shared.topology import DEAD_LETTERS

        channel = await amqp.channel()
        queue = await channel.get_queue(DEAD_LETTERS)
        while (message := await queue.get(no_ack=False, fail=False)) is not None:
            folded = normalise_text(message.body.decode("utf-8", "ignore")).lower()
            hits += [f"{DEAD_LETTERS}/{message.message_id}: {n}" for n in wanted if n in folded]
        await channel.close()  # every dead letter goes back, unacknowledged
    return hits
