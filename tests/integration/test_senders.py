"""Who may act, on the real local broker (issue 10): with loose broker permissions, so that
the services' own checks are what is tested, every forgery is refused as ``unauthorised``
and changes nothing; the same commands from the right users still work.

RabbitMQ users are global to the node, so this test's users carry a random suffix: its
channels are ``tg<sfx>`` and ``sms<sfx>``, its agencies ``a<sfx>`` and ``b<sfx>``, its admin
``lapor-admin-<sfx>`` (named in ``LAPOR_ADMIN_USERS``). Each user gets every right in the
session's vhost; only ``user_id`` (which RabbitMQ checks against the connection's user)
says who it is. The services run with ``LAPOR_SENDERS=enforce``.

A forged ``x-death`` replayed is tested in tests/integration/test_dlq.py
(``test_a_forged_x_death_is_never_replayed``).
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import aio_pika
import pytest
from aio_pika.abc import AbstractConnection

from lapor.commands.dlq import list_dead_letters
from services.intake import app as intake_app
from services.routing import app as routing_app
from services.routing.registry import read_registry, sample_registry_path, save_registry
from services.verification import app as verification_app
from shared import topology
from shared.pii import IdentityProtector
from shared.senders import ORIGINAL_ROUTING_KEY
from shared.settings import IntakeSettings
from shared.storage import Store
from tests import factories
from tests.conftest import make_settings
from tests.servers import Servers
from tests.support import Json, eventually

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
SIGNED_OFF = ("outbox", "outbox_due_at", "outbox_pending")


def _ctl(*args: str, check: bool = True) -> None:
    try:
        subprocess.run(
            ["rabbitmqctl", "--quiet", *args], check=check, capture_output=True, timeout=120
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"rabbitmqctl {args[0]} did not answer in 120 s: is the local node healthy?")
    except subprocess.CalledProcessError as exc:
        pytest.fail(f"rabbitmqctl {args[0]} failed: {exc.stderr!r}")


@dataclass
class Users:
    """This test's broker users and how to connect as each."""

    suffix: str
    base_url: str
    passwords: dict[str, str]

    @property
    def tg(self) -> str:
        return f"tg{self.suffix}"

    @property
    def sms(self) -> str:
        return f"sms{self.suffix}"

    @property
    def agency_a(self) -> str:
        return f"a{self.suffix}"

    @property
    def agency_b(self) -> str:
        return f"b{self.suffix}"

    @property
    def admin(self) -> str:
        return f"lapor-admin-{self.suffix}"

    def url(self, user: str) -> str:
        parts = urlsplit(self.base_url)
        host = parts.netloc.split("@")[-1]
        return urlunsplit(parts._replace(netloc=f"{user}:{self.passwords[user]}@{host}"))


@pytest.fixture
def users(servers: Servers) -> Iterator[Users]:
    """Channel, agency and admin users with every right in the session's vhost."""
    if shutil.which("rabbitmqctl") is None:
        pytest.fail("this test needs rabbitmqctl and the local RabbitMQ node to add users")
    vhost = unquote(urlsplit(servers.amqp_url).path.lstrip("/")) or "/"
    suffix = secrets.token_hex(3)
    names = [f"channel-tg{suffix}", f"channel-sms{suffix}", f"opd-a{suffix}", f"opd-b{suffix}"]
    names.append(f"lapor-admin-{suffix}")
    passwords = {name: secrets.token_hex(12) for name in names}
    try:
        for name, password in passwords.items():
            _ctl("add_user", name, password)
            _ctl("set_permissions", "-p", vhost, name, ".*", ".*", ".*")
        yield Users(suffix, servers.amqp_url, passwords)
    finally:
        for name in names:
            _ctl("delete_user", name, check=False)


@pytest.fixture
def enforced(servers: Servers, db_name: str, users: Users) -> IntakeSettings:
    """The services' settings with LAPOR_SENDERS=enforce and this test's admin."""
    return make_settings(
        servers, db_name, senders="enforce", admin_users=frozenset({users.admin, "lapor-portal"})
    )


@pytest.fixture
async def running(
    enforced: IntakeSettings, amqp: AbstractConnection, store: Store
) -> AsyncIterator[None]:
    """Intake, verification and routing, enforcing senders."""
    await save_registry(store, read_registry(sample_registry_path()), NOW)
    async with (
        intake_app.create(enforced),
        verification_app.create(enforced),
        routing_app.create(enforced),
    ):
        yield


async def send(
    users: Users,
    user: str,
    exchange: str,
    key: str,
    body: Json,
    headers: dict[str, Any] | None = None,
) -> str:
    """Publish as ``user`` (its own connection, signed with its ``user_id``); the message ID."""
    message_id = str(body.get("message_id") or uuid.uuid4().hex)
    connection = await aio_pika.connect(users.url(user))
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        target = await channel.get_exchange(exchange, ensure=False)
        await target.publish(
            aio_pika.Message(
                json.dumps(body).encode(),
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                message_id=message_id,
                user_id=user,
                headers=headers or {},
            ),
            routing_key=key,
        )
    return message_id


async def refused_as(store: Store, message_id: str) -> str | None:
    """The reason a service recorded for refusing ``message_id`` (what ``lapor dlq list``
    shows beside the broker's), or None."""
    found = await store.db["refusals"].find_one({"message_id": message_id})
    return None if found is None else str(found["reason"])


def kept(case: Json | None) -> Json:
    """A stored case without the outbox's bookkeeping (the relay may clear it any time)."""
    assert case is not None
    return {k: v for k, v in case.items() if k not in SIGNED_OFF}


def report(channel: str) -> Json:
    return {
        "channel": channel,
        "external_id": f"x-{uuid.uuid4().hex[:10]}",
        "description": "Lampu jalan di Jl. Merdeka mati sejak seminggu, gelap sekali malam hari.",
        "reporter": {"name": "Rina Wulandari", "phone": "+6281311112222"},
        "location": {"region_code": "16.71"},
    }


async def test_forgeries_are_refused_and_change_nothing(
    running: None, users: Users, store: Store, protector: IdentityProtector, servers: Servers
) -> None:
    # A case agency A holds, from channel tg; a report held for the admin.
    held = factories.dispatched(
        factories.received(NOW - timedelta(hours=2), protector, channel=users.tg),
        NOW - timedelta(hours=1),
        users.agency_a,
    )
    waiting = factories.received(NOW - timedelta(hours=1), protector, channel=users.tg)
    waiting["status"] = "needs_review"  # held for the admin
    await store.complaints.insert_many([held, waiting])
    before = {c["_id"]: kept(c) async for c in store.complaints.find({})}
    tid = held["_id"]
    answer = {"tracking_id": tid, "action": "acknowledge", "liaison": "Penghubung"}
    reply = {
        "tracking_id": tid,
        "channel": users.tg,
        "reporter": {
            "name": "Budi Santoso",
            "phone": "+6281234567890",
            "email": "budi.santoso@contoh.id",
        },
        "action": "add_information",
        "message": "Lubangnya makin besar",
    }
    decide = {
        "tracking_id": waiting["_id"],
        "decision": "verify",
        "admin": "admin.pusat",
        "category": "jalan",
        "anonymous": False,
        "flags_confirmed": True,
    }
    dispose = {"tracking_id": tid, "agency": "pupr-palembang", "admin": "admin.pusat"}

    c = topology.COMMANDS
    forged = [
        # An agency user answering another agency's case (in either name).
        await send(users, f"opd-{users.agency_b}", c, "opd.respond",
                   answer | {"message_id": "f-1", "agency": users.agency_a}),
        await send(users, f"opd-{users.agency_b}", c, "opd.respond",
                   answer | {"message_id": "f-2", "agency": users.agency_b}),
        # A channel user sending the admin's commands.
        await send(users, f"channel-{users.tg}", c, "verification.decide",
                   decide | {"message_id": "f-3"}),
        await send(users, f"channel-{users.tg}", c, "routing.dispose",
                   dispose | {"message_id": "f-4"}),
        # The replay header from a non-admin: an answer that asks to count as a dispose.
        await send(users, f"opd-{users.agency_a}", c, "opd.respond",
                   dispose | {"message_id": "f-5"},
                   headers={ORIGINAL_ROUTING_KEY: "routing.dispose"}),
        # A reporter's reply from another channel.
        await send(users, f"channel-{users.sms}", c, "reporter.reply",
                   reply | {"message_id": "f-6"}),
    ]  # fmt: skip
    # A channel submitting as another channel: quarantined (sealed), never taken in.
    submitted_as_other = report(users.tg)
    await send(users, f"channel-{users.sms}", topology.INTAKE, f"channel.{users.tg}",
               submitted_as_other | {"message_id": "f-7"})  # fmt: skip

    async def all_refused() -> bool:
        return all([await refused_as(store, m) == "unauthorised" for m in forged])

    await eventually(all_refused)

    async def quarantined() -> Json | None:
        return await store.quarantine.find_one({"message_id": "f-7"})

    parked = await eventually(quarantined)
    assert parked["reason"] == "unauthorised"
    assert "Rina" not in json.dumps(parked, default=str)  # the body is kept sealed

    async def dead_letters() -> list[str]:
        letters = await list_dead_letters(servers.amqp_url, 100)
        return sorted(str(letter.message_id) for letter in letters)

    await eventually(lambda: _contains(dead_letters(), forged))

    # The reply from the other channel named the reporter: its dead letter holds no
    # plaintext contact, and says why it died.
    [sealed] = [m for m in await dead_letter_messages(servers.amqp_url) if m.message_id == "f-6"]
    body = sealed.body.decode()
    for contact in ("Budi", "Santoso", "6281234567890", "budi.santoso@contoh.id"):
        assert contact not in body
    assert json.loads(body)["tracking_id"] == tid
    [listed] = [m for m in await list_dead_letters(servers.amqp_url, 100) if m.message_id == "f-6"]
    assert (listed.queue, listed.reason) == (topology.SEALED_REFUSALS, "expired")
    assert await refused_as(store, "f-6") == "unauthorised"

    after = {c["_id"]: kept(c) async for c in store.complaints.find({})}
    assert after == before, "a refused message changed a case"
    assert (
        await store.complaints.count_documents({"external_id": submitted_as_other["external_id"]})
        == 0
    )

    # The same commands from the right users still work.
    await send(users, f"opd-{users.agency_a}", c, "opd.respond",
               answer | {"message_id": "ok-1", "agency": users.agency_a})  # fmt: skip
    await send(users, f"channel-{users.tg}", c, "reporter.reply", reply | {"message_id": "ok-2"})
    await send(users, users.admin, c, "verification.decide", decide | {"message_id": "ok-3"})
    legit = report(users.tg)
    await send(users, f"channel-{users.tg}", topology.INTAKE, f"channel.{users.tg}", legit)

    async def applied() -> bool:
        case = await store.complaints.find_one({"_id": tid})
        assert case is not None
        return {"ok-1", "ok-2"} <= set(case.get("applied", []))

    await eventually(applied)

    async def decided() -> bool:
        case = await store.complaints.find_one({"_id": waiting["_id"]})
        assert await refused_as(store, "ok-3") is None
        return case is not None and case["status"] != "needs_review"

    await eventually(decided)

    async def taken_in() -> bool:
        return await store.complaints.count_documents({"external_id": legit["external_id"]}) == 1

    await eventually(taken_in)
    for message_id in ("ok-1", "ok-2", "ok-3"):
        assert await refused_as(store, message_id) is None


async def dead_letter_messages(amqp_url: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """Every dead letter, bodies included, left in place."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(topology.DEAD_LETTERS)
        found = []
        while (message := await queue.get(no_ack=False, fail=False)) is not None:
            found.append(message)
        await channel.close()  # every one goes back
    return found


async def _contains(value: Any, wanted: list[str]) -> bool:
    found = await value
    return set(wanted) <= set(found)
