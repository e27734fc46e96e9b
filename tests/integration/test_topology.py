"""Declaring the topology once, as a deployment does, and services that only use it."""

from __future__ import annotations

import asyncio

import aio_pika
import pytest
from aio_pika.abc import AbstractConnection

from lapor.cli import main as lapor
from services.intake import app as intake_app
from shared import topology
from shared.settings import IntakeSettings
from tests.conftest import make_settings
from tests.integration.test_intake import report
from tests.servers import Servers
from tests.support import Listener, publish

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
    # 7 exchanges; 14 service queues, the portal's channel queues and its oversight inbox.
    assert "declared 7 exchanges and 17 queues" in capsys.readouterr().out
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
