"""The scan that proves no plaintext identity is stored: it finds what is there."""

from __future__ import annotations

import aio_pika
import pytest

from shared.contract import Reporter
from shared.pii import IdentityProtector
from shared.storage import Store
from shared.topology import DLX
from tests.support import eventually, plaintext_identity

pytestmark = pytest.mark.integration


async def test_the_scan_finds_plaintext_and_ignores_what_is_sealed(
    store: Store, protector: IdentityProtector, amqp: aio_pika.abc.AbstractConnection
) -> None:
    siti = Reporter(name="Siti Aminah", phone="+6281277889900")
    await store.complaints.insert_one(
        {"_id": "A", "reporter": {"sealed": protector.seal_model(siti, "A")}}
    )
    assert await plaintext_identity(store.db, ["Siti Aminah", "+6281277889900"], amqp) == []

    await store.complaints.insert_one(
        {"_id": "B", "outbox": [{"body": {"reporter_name": "Ｓｉｔｉ Aminah"}}]}
    )
    channel = await amqp.channel()
    source = await channel.declare_queue(
        "scan.source",
        durable=True,
        arguments={"x-queue-type": "quorum", "x-dead-letter-exchange": DLX},
    )
    await channel.default_exchange.publish(
        aio_pika.Message(b'{"phone": "+6281277889900"}', message_id="m-1"), "scan.source"
    )
    message = await source.get(timeout=5)
    await message.reject(requeue=False)

    async def both() -> list[str]:
        hits = await plaintext_identity(store.db, ["Siti Aminah", "+6281277889900"], amqp)
        return hits if len(hits) == 2 else []

    hits = await eventually(both)
    assert sorted(hits) == ["complaints/B: siti aminah", "lapor.dead-letters/m-1: +6281277889900"]
    await channel.queue_delete("scan.source")
    await channel.close()
