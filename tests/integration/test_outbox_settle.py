"""The outbox settles published entries together: one store command for many documents,
and never an entry or a due time that a later change added."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring

from shared.outbox import Outbox, OutboxMessage
from shared.settings import IntakeSettings
from shared.storage import Store

pytestmark = pytest.mark.integration

GRACE = timedelta(seconds=30)


class Sent:
    """A publisher that keeps what it was given (the broker is not what is tested here)."""

    def __init__(self) -> None:
        self.messages: list[OutboxMessage] = []

    async def publish(self, message: OutboxMessage) -> None:
        self.messages.append(message)


class Commands(monitoring.CommandListener):
    """The update commands the test's client sends (the relay's claims are findAndModify)."""

    def __init__(self) -> None:
        self.writes: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "update":
            self.writes.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def message(doc_id: str, step: str) -> OutboxMessage:
    return OutboxMessage("lapor.events", f"complaint.{step}", f"{step}:{doc_id}", {"n": 1})


async def store_pending(store: Store, doc_id: str, *messages: OutboxMessage) -> None:
    """A case as a step's commit leaves it: its messages pending, its due time set."""
    await store.complaints.update_one(
        {"_id": doc_id},
        {
            "$push": {"outbox": {"$each": [m.to_document() for m in messages]}},
            "$set": {"outbox_due_at": datetime.now(UTC) + GRACE},
        },
        upsert=True,
    )


async def started(outbox: Outbox) -> None:
    """Once :meth:`Outbox.run` has begun settling (its first step, in its own task)."""
    for _ in range(100):
        if outbox.settling:
            return
        await asyncio.sleep(0)
    raise AssertionError("the outbox never started settling")


async def outbox_of(store: Store, doc_id: str) -> dict[str, Any]:
    doc = await store.complaints.find_one({"_id": doc_id}, {"outbox": 1, "outbox_due_at": 1})
    assert doc is not None
    return doc


async def test_published_entries_of_many_cases_are_taken_off_with_one_command(
    store: Store, settings: IntakeSettings
) -> None:
    commands = Commands()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongo_url.get_secret_value(), tz_aware=True, event_listeners=[commands]
    )
    sent = Sent()
    outbox = Outbox(client[settings.mongo_db]["complaints"], sent, grace=GRACE, settle_seconds=60)
    stop = asyncio.Event()
    cases = [f"C-SETTLE-{n}" for n in range(5)]
    for doc_id in cases:
        await store_pending(store, doc_id, message(doc_id, "verified"))
    running = asyncio.create_task(outbox.run(stop, interval=60))
    try:
        await started(outbox)
        for doc_id in cases:
            await outbox.deliver(doc_id, [message(doc_id, "verified")])
        assert [m.message_id for m in sent.messages] == [f"verified:{c}" for c in cases]
        # Published, not yet taken off: the handler did not wait for the store.
        for doc_id in cases:
            assert len((await outbox_of(store, doc_id))["outbox"]) == 1
        assert commands.writes == []
        assert await outbox.settle_once() == len(cases)
        assert commands.writes == ["update"]  # one command for the five cases
    finally:
        stop.set()
        await running
        await client.close()
    for doc_id in cases:
        doc = await outbox_of(store, doc_id)
        assert doc["outbox"] == []
        assert "outbox_due_at" not in doc
    assert await outbox.settle_once() == 0  # nothing left over


async def test_a_later_step_s_entries_and_due_time_stay(store: Store) -> None:
    sent = Sent()
    outbox = Outbox(store.complaints, sent, grace=GRACE, settle_seconds=60)
    stop = asyncio.Event()
    running = asyncio.create_task(outbox.run(stop, interval=60))
    try:
        await started(outbox)
        await store_pending(store, "C-LATER", message("C-LATER", "verified"))
        await outbox.deliver("C-LATER", [message("C-LATER", "verified")])
        # The next step commits before this one settles: its entry is pending, not sent.
        await store_pending(store, "C-LATER", message("C-LATER", "dispatched"))
        await outbox.settle_once()
    finally:
        stop.set()
        await running
    doc = await outbox_of(store, "C-LATER")
    assert [m["message_id"] for m in doc["outbox"]] == ["dispatched:C-LATER"]
    assert doc["outbox_due_at"] is not None, "the relay must still find the later entry"


async def test_what_is_published_when_the_settler_stops_is_taken_off_at_once(
    store: Store,
) -> None:
    sent = Sent()
    outbox = Outbox(store.complaints, sent, grace=GRACE, settle_seconds=60)
    stop = asyncio.Event()
    running = asyncio.create_task(outbox.run(stop, interval=60))
    await started(outbox)
    await store_pending(store, "C-LEFT", message("C-LEFT", "verified"))
    await outbox.deliver("C-LEFT", [message("C-LEFT", "verified")])
    stop.set()
    await running  # stopping settles what was left
    assert (await outbox_of(store, "C-LEFT"))["outbox"] == []
    # A message in hand finishing after the stop: taken off in its own delivery.
    await store_pending(store, "C-AFTER", message("C-AFTER", "verified"))
    await outbox.deliver("C-AFTER", [message("C-AFTER", "verified")])
    doc = await outbox_of(store, "C-AFTER")
    assert doc["outbox"] == [] and "outbox_due_at" not in doc


class FailingOnce:
    """The complaints collection whose first bulk write fails (the store went away)."""

    def __init__(self, store: Store) -> None:
        self._collection = store.complaints
        self.failed = False

    async def bulk_write(self, *args: Any, **kwargs: Any) -> Any:
        if not self.failed:
            self.failed = True
            raise ConnectionError("store away")
        return await self._collection.bulk_write(*args, **kwargs)


async def test_a_failed_round_keeps_its_entries_for_the_next(store: Store) -> None:
    collection = FailingOnce(store)
    outbox = Outbox(collection, Sent(), grace=GRACE, settle_seconds=60)  # type: ignore[arg-type]
    outbox._settling = True  # as inside run(): deliveries wait for the next round
    await store_pending(store, "C-RETRY", message("C-RETRY", "verified"))
    await outbox.deliver("C-RETRY", [message("C-RETRY", "verified")])
    with pytest.raises(ConnectionError):
        await outbox.settle_once()
    assert len((await outbox_of(store, "C-RETRY"))["outbox"]) == 1
    assert await outbox.settle_once() == 1
    assert (await outbox_of(store, "C-RETRY"))["outbox"] == []


class RefusingFirst(Sent):
    """A publisher whose broker refuses the first message it is given."""

    async def publish(self, message: OutboxMessage) -> None:
        await super().publish(message)
        if len(self.messages) == 1:
            await asyncio.sleep(0.01)  # refused after the second one went out
            raise ConnectionError("not taken by the broker")


async def test_a_change_s_messages_go_out_together_and_one_refused_keeps_them_all(
    store: Store,
) -> None:
    """A change's messages are published in their order without waiting for each confirm;
    one the broker refuses fails the delivery once all are settled, and every entry stays
    pending for the relay (the others again, under their own ``message_id``s)."""
    sent = RefusingFirst()
    outbox = Outbox(store.complaints, sent, grace=GRACE)
    messages = [message("C-TOGETHER", "dispatched"), message("C-TOGETHER", "notice")]
    await store_pending(store, "C-TOGETHER", *messages)
    with pytest.raises(ConnectionError):
        await outbox.deliver("C-TOGETHER", messages)
    assert sent.messages == messages  # both offered, in order
    pending = (await outbox_of(store, "C-TOGETHER"))["outbox"]
    assert [m["message_id"] for m in pending] == [m.message_id for m in messages]
