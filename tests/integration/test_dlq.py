"""Dead letters: an operator sees why a message died and replays it once the cause is fixed."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aio_pika
import pytest

from lapor.cli import main as lapor
from lapor.commands.dlq import list_dead_letters, replay
from services.intake import app as intake_app
from shared import topology
from shared.storage import Store
from tests.conftest import make_settings
from tests.servers import Servers
from tests.support import Listener, eventually, publish

pytestmark = pytest.mark.integration


def report(external_id: str) -> dict[str, Any]:
    return {
        "channel": "sms",
        "external_id": external_id,
        "description": "Lampu penerangan jalan di Jl. Sudirman mati sejak seminggu.",
        "reporter": {"phone": "081234567890"},
    }


async def test_a_dead_letter_is_listed_without_its_body_and_replayed_after_the_fix(
    amqp: aio_pika.abc.AbstractConnection,
    servers: Servers,
    db_name: str,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    broken = make_settings(servers, db_name, failpoints="intake.before_store=raise")
    async with intake_app.create(broken):  # a bug makes intake fail on every delivery
        await publish(amqp, "lapor.intake", "channel.sms", report("sms-dlq-1"), "sms-dlq-1")

        async def died() -> bool:
            letters = await list_dead_letters(servers.amqp_url, 10)
            return len(letters) == 1

        await eventually(died, timeout=30)

    [letter] = await list_dead_letters(servers.amqp_url, 10)
    assert letter.queue == "intake.reports"
    assert letter.reason == "delivery_limit"
    assert letter.routing_key == "channel.sms"
    assert letter.message_id == "sms-dlq-1"

    monkeypatch.setenv("LAPOR_AMQP_URL", servers.amqp_url)
    assert await asyncio.to_thread(lapor, ["dlq", "list"]) == 0
    printed = capsys.readouterr().out
    assert "queue=intake.reports reason=delivery_limit" in printed
    assert "081234567890" not in printed and "Lampu" not in printed  # never the body

    fixed = make_settings(servers, db_name)
    async with (
        Listener(amqp, topology.EVENTS, "complaint.received") as events,
        intake_app.create(fixed),
    ):
        assert await replay(servers.amqp_url, "intake.reports", 100) == (1, 0)
        [received] = await events.wait_for(lambda b: len(b) == 1)
    case = await store.complaints.find_one({"_id": received["tracking_id"]})
    assert case is not None and case["external_id"] == "sms-dlq-1"
    assert await list_dead_letters(servers.amqp_url, 10) == []


async def test_replay_for_one_queue_keeps_the_others(
    amqp: aio_pika.abc.AbstractConnection, servers: Servers
) -> None:
    channel = await amqp.channel(publisher_confirms=True)
    dlx = await channel.get_exchange(topology.DLX)
    for queue in ("routing.commands", "verification.decisions"):
        await dlx.publish(
            aio_pika.Message(
                json.dumps({"n": queue}).encode(),
                headers={"x-death": [{"queue": queue, "reason": "rejected", "count": 1}]},
            ),
            routing_key="opd.respond",
        )
    await channel.close()
    assert await replay(servers.amqp_url, "routing.commands", 100) == (1, 1)
    [kept] = await list_dead_letters(servers.amqp_url, 10)
    assert kept.queue == "verification.decisions"
    # the replayed one waits on its own queue again
    channel = await amqp.channel()
    again = await channel.get_queue("routing.commands")
    message = await again.get(no_ack=True, fail=False)
    assert message is not None and json.loads(message.body) == {"n": "routing.commands"}
    await channel.close()
