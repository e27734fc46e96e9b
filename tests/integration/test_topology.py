"""Declaring the topology once, as a deployment does, and services that only use it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

import aio_pika
import aiormq
import pytest
from aio_pika.abc import AbstractConnection

from lapor.cli import main as lapor
from services.intake import app as intake_app
from shared import topology
from shared.settings import IntakeSettings
from tests.conftest import make_settings
from tests.integration.test_intake import report
from tests.servers import Servers
from tests.support import Listener, eventually, publish

pytestmark = pytest.mark.integration


async def missing_queues(amqp: AbstractConnection) -> list[str]:
    missing = []
    for spec in topology.QUEUES:
        channel = await amqp.channel()
        try:
            await channel.declare_queue(spec.name, passive=True)
        except aio_pika.exceptions.ChannelClosed:
            missing.append(spec.name)
        finally:
            if not channel.is_closed:
                await channel.close()
    return missing


async def delete_queue(amqp: AbstractConnection, name: str) -> None:
    channel = await amqp.channel()
    await channel.queue_delete(name)
    await channel.close()


async def test_lapor_topology_declare_creates_every_queue(
    amqp: AbstractConnection,
    servers: Servers,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await delete_queue(amqp, topology.INTAKE_REPORTS.name)
    assert await missing_queues(amqp) == [topology.INTAKE_REPORTS.name]

    monkeypatch.setenv("LAPOR_AMQP_URL", servers.amqp_url)
    monkeypatch.setenv("LAPOR_DELIVERY_LIMIT", "3")  # as the test fixtures declare them
    assert await asyncio.to_thread(lapor, ["topology", "declare"]) == 0
    assert "declared 8 exchanges and 15 queues" in capsys.readouterr().out
    assert await missing_queues(amqp) == []


async def test_a_service_told_not_to_declare_uses_the_declared_topology_and_creates_nothing(
    amqp: AbstractConnection, servers: Servers, db_name: str
) -> None:
    settings = make_settings(servers, db_name, declare_topology=False)
    await delete_queue(amqp, topology.INTAKE_REPORTS.name)
    # Its queue is missing: the service refuses to start rather than create it.
    with pytest.raises(aio_pika.exceptions.ChannelNotFoundEntity, match=r"intake\.reports"):
        async with intake_app.create(settings):
            pass
    assert await missing_queues(amqp) == [topology.INTAKE_REPORTS.name]

    await topology.declare_at(servers.amqp_url, settings.delivery_limit)
    async with (
        intake_app.create(settings),
        Listener(amqp, topology.OUTBOUND, "channel.telegram") as outbound,
    ):
        body = report()
        await publish(amqp, topology.INTAKE, "channel.telegram", body)
        [notice] = await outbound.wait_for(lambda bodies: len(bodies) >= 1)
    assert notice["in_reply_to"] == body["external_id"]


def test_declare_topology_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAPOR_DECLARE_TOPOLOGY", "false")
    assert IntakeSettings().declare_topology is False
    monkeypatch.setenv("LAPOR_DECLARE_TOPOLOGY", "true")
    assert IntakeSettings().declare_topology is True


# --- issue 10: nothing published is confirmed and lost; dead letters only from the broker ---


async def test_a_message_no_queue_is_bound_for_is_kept_not_dropped(
    amqp: AbstractConnection,
) -> None:
    channel = await amqp.channel(publisher_confirms=True)
    await (await channel.get_queue(topology.UNROUTED)).purge()
    opd = await channel.get_exchange(topology.OPD)
    # Confirmed by the broker, though no opd.dihapus queue exists...
    await opd.publish(aio_pika.Message(b'{"n": 1}', message_id="m-1"), routing_key="opd.dihapus")
    # ...and kept: the alternate exchange put it in lapor.unrouted, key and all.
    kept = await (await channel.get_queue(topology.UNROUTED)).get(no_ack=True, fail=False)
    assert kept is not None and kept.message_id == "m-1"
    assert kept.routing_key == "opd.dihapus"
    await channel.close()


async def test_no_client_may_publish_to_the_dead_letter_exchange(amqp: AbstractConnection) -> None:
    channel = await amqp.channel(publisher_confirms=True)
    dlx = await channel.get_exchange(topology.DLX)
    with pytest.raises(aiormq.exceptions.ChannelAccessRefused, match="internal exchange"):
        await dlx.publish(aio_pika.Message(b"forged"), routing_key="opd.respond")


async def _dead_letter(channel: aio_pika.abc.AbstractChannel, *bodies: bytes) -> None:
    """Let the broker dead-letter ``bodies`` (rejected in a queue with lapor.dlx)."""
    source = await channel.declare_queue(
        "limits.source",
        durable=True,
        arguments={"x-queue-type": "quorum", "x-dead-letter-exchange": topology.DLX},
    )
    for body in bodies:
        await channel.default_exchange.publish(aio_pika.Message(body), "limits.source")
    for _ in bodies:
        message = await source.get(timeout=5)
        await message.reject(requeue=False)
    await channel.queue_delete("limits.source")


async def _redeclare_dead_letters(
    channel: aio_pika.abc.AbstractChannel, limits: topology.DeadLetterLimits | None
) -> aio_pika.abc.AbstractQueue:
    await channel.queue_delete(topology.DEAD_LETTERS)
    await topology.declare_queue(channel, topology.DEAD_LETTER_QUEUE, 3, limits)
    return await channel.get_queue(topology.DEAD_LETTERS)


async def test_dead_letters_are_kept_up_to_a_number_then_the_oldest_go(
    amqp: AbstractConnection,
) -> None:
    channel = await amqp.channel()
    dead = await _redeclare_dead_letters(channel, topology.DeadLetterLimits(max_messages=2))
    await _dead_letter(channel, b"1", b"2", b"3")

    async def bodies() -> list[bytes]:
        seen = []
        while (message := await dead.get(no_ack=False, fail=False)) is not None:
            seen.append(message.body)
        await channel.close()  # unacknowledged: back in the queue
        return seen

    assert await bodies() == [b"2", b"3"]
    channel = await amqp.channel()
    await _redeclare_dead_letters(channel, None)
    await channel.close()


async def test_dead_letters_expire(amqp: AbstractConnection) -> None:
    channel = await amqp.channel()
    await _redeclare_dead_letters(channel, topology.DeadLetterLimits(ttl_hours=1 / 3600))
    await _dead_letter(channel, b"1")

    async def present() -> bool:
        looking = await amqp.channel()
        found = await (await looking.get_queue(topology.DEAD_LETTERS)).get(fail=False)
        await looking.close()  # unacknowledged: it goes back
        return found is not None

    await eventually(present, timeout=5)  # it arrived...
    await eventually(lambda: _not(present()), timeout=20)  # ...and after a second, expired
    await _redeclare_dead_letters(channel, None)
    await channel.close()


async def _not(value: Awaitable[bool]) -> bool:
    return not await value


async def test_an_exchange_from_an_older_version_is_named_with_the_way_out(
    amqp: AbstractConnection,
) -> None:
    channel = await amqp.channel()
    await channel.exchange_delete(topology.INTAKE)
    await channel.declare_exchange(topology.INTAKE, aio_pika.ExchangeType.TOPIC, durable=True)
    with pytest.raises(topology.TopologyOutdated, match=r"alternate-exchange.*Upgrading"):
        await topology.declare(await amqp.channel(), 3)
    channel = await amqp.channel()
    await channel.exchange_delete(topology.INTAKE)
    await topology.declare(channel, 3)  # as it should be again, bindings and all
    await channel.close()
