"""Returns handled (issue 10): a message the broker returns is never counted as delivered.

Every LAPOR exchange has an alternate exchange, so in a correct topology nothing is ever
returned. This test declares an exchange *without* one (as an older or hand-made
topology would have), publishes a message no queue is bound for through the services'
own publisher, and shows that the publish raises and the outbox keeps the message
pending for the next relay — in both a service's channel (which raises on returns) and a
FastStream default channel (which reports a return as a result).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import aio_pika
import pytest
from aiormq.exceptions import PublishError
from faststream.rabbit import RabbitBroker
from faststream.rabbit.schemas import Channel

from services.portal.channel import Publisher
from services.portal.channel import make_broker as portal_broker
from shared import topology
from shared.outbox import Outbox, OutboxMessage
from shared.runtime import BrokerPublisher, NotDelivered, service_channel
from shared.storage import Store
from tests.servers import Servers

pytestmark = pytest.mark.integration


@pytest.fixture
async def bare_exchange(amqp: aio_pika.abc.AbstractConnection) -> AsyncIterator[str]:
    """A topic exchange with no alternate exchange and no queue bound."""
    name = f"lapor.test-returns-{uuid.uuid4().hex[:8]}"
    channel = await amqp.channel()
    await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC, durable=False)
    yield name
    await channel.exchange_delete(name)
    await channel.close()


@pytest.mark.parametrize(
    "channel",
    [service_channel(4), Channel(publisher_confirms=True)],
    ids=["service-channel", "faststream-default-channel"],
)
async def test_a_returned_message_stays_in_the_outbox(
    bare_exchange: str, servers: Servers, store: Store, channel: Channel
) -> None:
    broker = RabbitBroker(servers.amqp_url, default_channel=channel)
    await broker.connect()
    try:
        publisher = BrokerPublisher(broker, "guest")
        outbox = Outbox(store.complaints, publisher, grace=timedelta(0))
        message = OutboxMessage(bare_exchange, "opd.gone", "m-returned-1", {"n": 1})
        await store.complaints.insert_one(
            {"_id": "C-RETURN", "outbox": [message.to_document()], "outbox_due_at": None}
        )
        with pytest.raises(Exception) as raised:
            await outbox.deliver("C-RETURN", [message])
        assert "not taken" in str(raised.value) or "NO_ROUTE" in str(raised.value)
        stored = await store.complaints.find_one({"_id": "C-RETURN"})
        assert stored is not None
        assert [m["message_id"] for m in stored["outbox"]] == ["m-returned-1"]

        # The same publisher delivers a routable message: the check is not "always raise".
        await publisher.publish(OutboxMessage("lapor.events", "complaint.test", "m-ok-1", {}))
    finally:
        await broker.stop()


async def test_the_portal_never_counts_a_returned_message_as_sent(
    bare_exchange: str, servers: Servers
) -> None:
    """The portal's publisher too: the citizen sees "not sent, send again", not "sent"."""
    broker = portal_broker(servers.amqp_url, prefetch=4)
    await broker.connect()
    try:
        publisher = Publisher(broker, "guest")
        # The portal's channel raises on a return (aiormq's PublishError); a channel that
        # reported it as a result would give NotDelivered.
        with pytest.raises((NotDelivered, PublishError)):
            await publisher.publish(bare_exchange, "channel.web", {"n": 1}, "m-portal-returned")
        await publisher.publish("lapor.events", "complaint.test", {}, "m-portal-ok")
    finally:
        await broker.stop()


async def test_the_services_publisher_sends_what_the_contract_asks(
    amqp: aio_pika.abc.AbstractConnection, servers: Servers
) -> None:
    """Persistent JSON with its ``message_id``, the verified ``user_id``, the service's
    ``app_id``, a correlation ID and a timestamp, as ``broker.publish`` set them; and the
    publisher goes on working after its broker stopped and started again (a new channel)."""
    channel = await amqp.channel()
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(topology.EVENTS, "complaint.test-properties")
    broker = RabbitBroker(servers.amqp_url, default_channel=service_channel(4), app_id="lapor-x")
    publisher = BrokerPublisher(broker, "guest")
    try:
        for round_ in (1, 2):
            await broker.connect()
            await publisher.publish(
                OutboxMessage(topology.EVENTS, "complaint.test-properties", f"m-{round_}", {"n": 1})
            )
            await broker.stop()
        got = [await queue.get(timeout=5) for _ in range(2)]
    finally:
        await channel.close()
    assert [m.message_id for m in got] == ["m-1", "m-2"]
    for message in got:
        assert json.loads(message.body) == {"n": 1}
        assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
        assert message.content_type == "application/json"
        assert message.user_id == "guest"
        assert message.app_id == "lapor-x"
        assert message.correlation_id and message.timestamp is not None
        assert message.headers == {}
    assert got[0].correlation_id != got[1].correlation_id
