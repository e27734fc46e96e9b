"""The sender check on a real broker, as every service's subscriber runs it: replays and
admin commands from the wrong sender are dead-lettered as ``unauthorised`` before any
handler runs; the right ones pass."""

from __future__ import annotations

import json
from typing import Any

import aio_pika
import pytest
from faststream.rabbit import RabbitBroker

from lapor.commands.dlq import list_dead_letters
from shared import topology
from shared.refusals import Refusal
from shared.runtime import DeliveryRules, subscribe
from shared.sender_check import SenderCheck, queue_of
from shared.senders import ORIGINAL_ROUTING_KEY, SenderPolicy
from tests.servers import Servers
from tests.support import eventually

pytestmark = pytest.mark.integration


async def test_wrong_senders_are_refused_before_the_handler(
    amqp: aio_pika.abc.AbstractConnection, servers: Servers
) -> None:
    # In this test vhost every connection is guest; guest plays the admin here.
    policy = SenderPolicy(admin_users=frozenset({"guest"}))
    refused: list[Refusal] = []
    handled: list[dict[str, Any]] = []

    async def keep(refusal: Refusal, _body: bytes) -> None:
        refused.append(refusal)

    broker = RabbitBroker(servers.amqp_url, apply_types=False)

    async def handle(body: bytes) -> None:
        handled.append(json.loads(body))

    rules = DeliveryRules(SenderCheck(policy, keep))
    subscribe(broker, topology.subscription(topology.ROUTING_COMMANDS), handle, rules)

    channel = await amqp.channel(publisher_confirms=True)
    commands = await channel.get_exchange(topology.COMMANDS)

    async def send(key: str, n: int, **properties: Any) -> None:
        message = aio_pika.Message(json.dumps({"n": n}).encode(), message_id=f"m-{n}", **properties)
        await commands.publish(message, routing_key=key)

    async with broker:
        await broker.start()
        await send("routing.dispose", 1)  # no user_id: nobody, not an admin
        await send("opd.respond", 2, headers={ORIGINAL_ROUTING_KEY: "routing.dispose"})
        await send("routing.dispose", 3, user_id="guest")  # the admin
        await send("opd.respond", 4, user_id="guest")  # the handler checks the case
        await eventually(lambda: len(handled) == 2 and len(refused) == 2)

    assert sorted(b["n"] for b in handled) == [3, 4]
    assert sorted(r.message_id for r in refused) == ["m-1", "m-2"]
    assert {(r.queue, r.reason) for r in refused} == {("routing.commands", "unauthorised")}

    async def dead() -> list[str]:
        letters = await list_dead_letters(servers.amqp_url, 10)
        return sorted(str(letter.message_id) for letter in letters)

    assert await eventually(lambda: _equal(dead(), ["m-1", "m-2"]))
    await channel.close()


async def _equal(value: Any, expected: list[str]) -> bool:
    return await value == expected


@pytest.mark.unit
def test_the_queue_a_delivery_came_from() -> None:
    assert queue_of("lapor.commands", "routing.dispose") == "routing.commands"
    assert queue_of("lapor.commands", "verification.decide") == "verification.decisions"
    assert queue_of("lapor.intake", "channel.sms") == "intake.reports"
    assert queue_of("", "routing.commands") == "routing.commands"  # a replay
