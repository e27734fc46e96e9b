"""Dead letters: an operator sees why a message died and replays it once the cause is fixed."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
import aiormq
import pytest

from lapor.cli import main as lapor
from lapor.commands.dlq import (
    DeadLetter,
    distrust,
    list_dead_letters,
    replay,
    republish_unrouted,
)
from services.intake import app as intake_app
from shared import refusals, topology
from shared.senders import ORIGINAL_ROUTING_KEY, ORIGINAL_USER_ID, SenderPolicy, SendersMode
from shared.settings import IntakeSettings
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


async def _die_in(
    amqp: aio_pika.abc.AbstractConnection,
    queue: str,
    body: dict[str, Any],
    routing_key: str,
    **properties: Any,
) -> None:
    """Put ``body`` in ``queue`` (as if published with ``routing_key``) and let the broker
    dead-letter it, as a service refusing it would."""
    channel = await amqp.channel(publisher_confirms=True)
    target = await channel.get_queue(queue)
    await target.purge()
    headers = properties.pop("headers", {}) | {"x-test-key": routing_key}
    await channel.default_exchange.publish(
        aio_pika.Message(json.dumps(body).encode(), headers=headers, **properties), queue
    )
    message = await target.get(timeout=5)
    await message.reject(requeue=False)
    await channel.close()


async def test_replay_for_one_queue_keeps_the_others(
    amqp: aio_pika.abc.AbstractConnection, servers: Servers
) -> None:
    for queue in ("routing.commands", "verification.decisions"):
        await _die_in(amqp, queue, {"n": queue}, "opd.respond")
    await eventually(lambda: _count_dead(servers, 2))
    assert await replay(servers.amqp_url, "routing.commands", 100) == (1, 1)
    [kept] = await list_dead_letters(servers.amqp_url, 10)
    assert kept.queue == "verification.decisions"
    # the replayed one waits on its own queue again
    channel = await amqp.channel()
    again = await channel.get_queue("routing.commands")
    message = await again.get(no_ack=True, fail=False)
    assert message is not None and json.loads(message.body) == {"n": "routing.commands"}
    await channel.close()


async def _count_dead(servers: Servers, n: int) -> bool:
    return len(await list_dead_letters(servers.amqp_url, 100)) == n


# --- issue 10: only dead letters the broker produced are replayed --------------------------


async def test_a_replay_carries_the_admins_user_id_and_the_original_sender(
    amqp: aio_pika.abc.AbstractConnection, servers: Servers
) -> None:
    # guest is the test broker's user: the "channel" whose command died.
    await _die_in(amqp, "routing.commands", {"n": 1}, "reporter.reply", user_id="guest")
    await eventually(lambda: _count_dead(servers, 1))
    assert await replay(servers.amqp_url, None, 100) == (1, 0)
    channel = await amqp.channel()
    message = await (await channel.get_queue("routing.commands")).get(no_ack=True, timeout=5)
    assert message.user_id == "guest"  # the admin's connection user, checked by RabbitMQ
    headers = message.headers or {}
    assert headers[ORIGINAL_USER_ID] == "guest"
    assert headers[ORIGINAL_ROUTING_KEY] == "routing.commands"  # the key it died with
    assert not any(str(k).startswith("x-death") for k in headers)
    await channel.close()


async def test_a_forged_x_death_is_never_replayed(
    amqp: aio_pika.abc.AbstractConnection, servers: Servers
) -> None:
    channel = await amqp.channel(publisher_confirms=True)
    forged = {"x-death": [{"queue": "routing.commands", "reason": "rejected", "count": 1}]}
    # 1. Straight to lapor.dlx: the broker refuses (internal exchange).
    dlx = await channel.get_exchange(topology.DLX)
    with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
        await dlx.publish(aio_pika.Message(b"{}", headers=forged), routing_key="routing.dispose")
    # 2. Straight into lapor.dead-letters (loose permissions): no broker x-death in front.
    channel = await amqp.channel(publisher_confirms=True)
    await channel.default_exchange.publish(
        aio_pika.Message(b'{"forged": 1}', headers=forged, message_id="forged-1"),
        routing_key=topology.DEAD_LETTERS,
    )
    # 3. An event forged with x-death naming an event queue, really dead-lettered: the
    #    broker's entry is in front, but no service sent it.
    await _die_in(amqp, "routing.verified", {"forged": 2}, "complaint.verified", headers=forged)
    await channel.close()
    await eventually(lambda: _count_dead(servers, 2))

    assert await replay(servers.amqp_url, None, 100) == (0, 2)
    letters = await list_dead_letters(servers.amqp_url, 10)
    assert {letter.message_id for letter in letters} >= {"forged-1"}
    channel = await amqp.channel()
    for queue in ("routing.commands", "routing.verified"):
        assert await (await channel.get_queue(queue)).get(fail=False) is None, queue
    await channel.close()


@pytest.mark.unit
def test_what_is_trusted_in_a_dead_letter() -> None:
    policy = SenderPolicy()

    def letter(
        queue: str | None, reason: str | None, user: str | None, via: str = topology.DLX
    ) -> DeadLetter:
        return DeadLetter(queue, reason, "k", "m", 1, 1, user, via)

    assert distrust(letter("routing.commands", "rejected", "channel-sms"), policy) is None
    assert distrust(letter("intake.reports", "delivery_limit", None), policy) is None
    assert distrust(letter("routing.verified", "rejected", "lapor-verification"), policy) is None
    assert distrust(letter("opd.dinkes", "expired", "lapor-routing"), policy) is None
    assert distrust(letter("routing.verified", "rejected", "channel-sms"), policy)
    assert distrust(letter("routing.verified", "rejected", None), policy)
    assert (
        distrust(letter("routing.verified", "rejected", None), SenderPolicy(mode=SendersMode.OPEN))
        is None
    )
    assert distrust(letter("lapor.dead-letters", "rejected", "lapor-intake"), policy)
    assert distrust(letter("somewhere", "rejected", "lapor-intake"), policy)
    assert distrust(letter("routing.commands", "forged", "lapor-admin"), policy)
    assert distrust(letter(None, None, None), policy)
    assert distrust(letter("routing.commands", "rejected", "channel-sms", ""), policy)
    assert distrust(letter("routing.commands", "rejected", "channel-sms", "other"), policy)
    # A refusal dead-lettered sealed is final, even from the service that sealed it.
    sealed = distrust(letter(topology.SEALED_REFUSALS, "expired", "lapor-routing"), policy)
    assert sealed is not None and "final" in sealed


async def test_a_services_refusal_reason_is_shown_beside_the_brokers(
    amqp: aio_pika.abc.AbstractConnection,
    servers: Servers,
    store: Store,
    settings: IntakeSettings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    body = {"message_id": "cmd-1", "tracking_id": "AAAA-BBBB-CCCC"}
    await _die_in(amqp, "routing.commands", body, "routing.dispose", message_id="cmd-1")
    # What the refusing service does before it rejects (the wiring: runtime.refuse).
    await refusals.ensure_indexes(store.db)
    await refusals.record(
        store.db,
        refusals.Refusal(
            "routing.commands", "cmd-1", "unauthorised", "channel-sms", datetime.now(UTC)
        ),
        json.dumps(body).encode(),
        keep=timedelta(days=14),
    )
    await eventually(lambda: _count_dead(servers, 1))
    monkeypatch.setenv("LAPOR_AMQP_URL", servers.amqp_url)
    monkeypatch.setenv("LAPOR_MONGO_URL", settings.mongo_url.get_secret_value())
    monkeypatch.setenv("LAPOR_MONGO_DB", settings.mongo_db)
    assert await asyncio.to_thread(lapor, ["dlq", "list"]) == 0
    printed = capsys.readouterr().out
    assert "queue=routing.commands reason=rejected" in printed
    assert "refused=unauthorised" in printed
    assert "AAAA-BBBB-CCCC" not in printed


async def test_a_disposition_for_a_deleted_agency_queue_waits_and_is_delivered_later(
    amqp: aio_pika.abc.AbstractConnection, servers: Servers
) -> None:
    channel = await amqp.channel(publisher_confirms=True)
    await (await channel.get_queue(topology.UNROUTED)).purge()
    agency = topology.agency_queue("dinas-dihapus")
    await topology.declare_queue(channel, agency, 3)
    await channel.queue_delete(agency.name)  # the agency's queue is gone
    opd = await channel.get_exchange(topology.OPD)
    await opd.publish(
        aio_pika.Message(b'{"tracking_id": "AAAA-BBBB-CCCC"}', message_id="disposition:1"),
        routing_key=agency.name,
    )  # confirmed by the broker...

    # ...and kept, not lost: the admin sees it, and publishing it again while the queue
    # is still missing only puts it back.
    seen, sent = await republish_unrouted(servers.amqp_url, 100, send=True)
    assert [(u.exchange, u.routing_key, u.message_id) for u in seen] == [
        (topology.OPD, agency.name, "disposition:1")
    ]
    assert sent == 1
    seen, sent = await republish_unrouted(servers.amqp_url, 100, send=False)
    assert [u.message_id for u in seen] == ["disposition:1"] and sent == 0

    # Once the agency's queue exists again, it is delivered there.
    await topology.declare_queue(channel, agency, 3)
    seen, sent = await republish_unrouted(servers.amqp_url, 100, send=True)
    assert sent == 1
    delivered = await (await channel.get_queue(agency.name)).get(timeout=5)
    assert delivered.message_id == "disposition:1"
    assert json.loads(delivered.body) == {"tracking_id": "AAAA-BBBB-CCCC"}
    assert (await republish_unrouted(servers.amqp_url, 100, send=False))[0] == []
    await channel.queue_delete(agency.name)
    await channel.close()
