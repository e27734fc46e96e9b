"""``lapor access apply`` on the real local broker: each user can do what the table says
and nothing more.

RabbitMQ users are global to the node, so this test names its users after a random
suffix (``channel-t1a2b3``, ``opd-t1a2b3-a``, ``lapor-portal-t1a2b3``), works in a
temporary vhost, and deletes both afterwards. It uses ``rabbitmqctl`` (the local node has
no management plugin); the management API path imports the very same document.
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aio_pika
import aiormq
import pytest

from lapor.commands.access import (
    AccessError,
    Rabbitmqctl,
    access_table,
    apply,
    choose_admin,
    definitions,
    password_hash,
    vhost_of,
)
from shared import topology

pytestmark = pytest.mark.integration

# The node rabbitmqctl manages (RABBITMQ_NODENAME); its AMQP port from the test URL.
HOST = urlsplit(os.environ.get("LAPOR_TEST_AMQP_URL") or "amqp://localhost:5672/").netloc.split(
    "@"
)[-1]


def _ctl(*args: str, check: bool = True) -> None:
    try:
        subprocess.run(
            ["rabbitmqctl", "--quiet", *args], check=check, capture_output=True, timeout=120
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"rabbitmqctl {args[0]} did not answer in 120 s: is the local node healthy?")


@dataclass
class Broker:
    vhost: str
    suffix: str
    admin_url: str

    def url(self, user: str, password: str) -> str:
        return f"amqp://{user}:{password}@{HOST}/{self.vhost}"


@pytest.fixture
def broker() -> Iterator[Broker]:
    if shutil.which("rabbitmqctl") is None:
        pytest.fail("this test needs rabbitmqctl and the local RabbitMQ node")
    suffix = "t" + secrets.token_hex(3)
    vhost = f"lapor-access-{suffix}"
    _ctl("add_vhost", vhost)
    _ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    yield Broker(vhost, suffix, f"amqp://guest:guest@{HOST}/{vhost}")
    _ctl("delete_vhost", vhost)
    for user in (
        f"channel-{suffix}",
        f"opd-{suffix}-a",
        f"opd-{suffix}-b",
        f"lapor-portal-{suffix}",
    ):
        _ctl("delete_user", user, check=False)


@pytest.fixture
async def declared(broker: Broker) -> AsyncIterator[Broker]:
    await topology.declare_at(broker.admin_url, 3)
    yield broker


def _passwords(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if not line.startswith("#")]
    return dict(line.split("\t") for line in lines)


async def can_publish(url: str, exchange: str, key: str, **properties: str) -> bool:
    """Whether the broker confirms a publish (False: refused)."""
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        target = (
            channel.default_exchange
            if exchange == ""
            else await channel.get_exchange(exchange, ensure=False)
        )
        await target.publish(aio_pika.Message(b"{}", **properties), routing_key=key)  # type: ignore[arg-type]
        return True
    except (aiormq.exceptions.ChannelAccessRefused, aiormq.exceptions.ChannelPreconditionFailed):
        return False
    finally:
        await connection.close()


async def can_consume(url: str, queue: str) -> bool:
    """Whether the user may take a message from ``queue`` (basic.get needs read)."""
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        await (await channel.get_queue(queue, ensure=False)).get(fail=False)
        await channel.close()  # anything taken goes back
        return True
    except aiormq.exceptions.ChannelAccessRefused:
        return False
    finally:
        await connection.close()


async def can_declare(url: str, queue: str) -> bool:
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        await channel.declare_queue(queue, durable=True, arguments={"x-queue-type": "quorum"})
        return True
    except aiormq.exceptions.ChannelAccessRefused:
        return False
    finally:
        await connection.close()


async def test_each_user_can_do_what_the_table_says_and_nothing_more(
    declared: Broker, tmp_path: Path
) -> None:
    broker, sfx = declared, declared.suffix
    channel, agency_a, agency_b = sfx, f"{sfx}-a", f"{sfx}-b"
    portal = f"lapor-portal-{sfx}"
    table = access_table([channel, "web"], [agency_a, agency_b], portal_user=portal)
    passwords_file = tmp_path / "passwords"

    report = await apply(
        Rabbitmqctl(),
        table,
        amqp_url=broker.admin_url,
        delivery_limit=3,
        passwords_file=passwords_file,
    )
    assert sorted(report.created) == sorted(
        [f"channel-{sfx}", f"opd-{agency_a}", f"opd-{agency_b}", portal]
    )
    assert stat.S_IMODE(os.stat(passwords_file).st_mode) == 0o600
    passwords = _passwords(passwords_file)
    as_channel = broker.url(f"channel-{sfx}", passwords[f"channel-{sfx}"])
    as_agency = broker.url(f"opd-{agency_a}", passwords[f"opd-{agency_a}"])
    as_portal = broker.url(portal, passwords[portal])

    # A channel: its own reports and reporter replies, its own notices; nothing else.
    assert await can_publish(as_channel, topology.INTAKE, f"channel.{channel}")
    assert not await can_publish(as_channel, topology.INTAKE, "channel.sms")
    assert await can_publish(as_channel, topology.COMMANDS, "reporter.reply")
    for key in ("verification.decide", "routing.dispose", "opd.respond"):
        assert not await can_publish(as_channel, topology.COMMANDS, key), key
    for exchange in (topology.EVENTS, topology.OPD, topology.OUTBOUND, topology.OVERSIGHT):
        assert not await can_publish(as_channel, exchange, "complaint.verified"), exchange
    assert not await can_publish(as_channel, topology.DLX, "routing.dispose")
    assert not await can_publish(as_channel, "", topology.DEAD_LETTERS)  # default exchange
    assert await can_consume(as_channel, f"channel.{channel}")
    for queue in ("channel.web", f"opd.{agency_a}", "intake.reports", topology.DEAD_LETTERS):
        assert not await can_consume(as_channel, queue), queue
    assert not await can_declare(as_channel, f"channel.{channel}")
    # RabbitMQ checks user_id: a channel cannot sign as the admin.
    assert not await can_publish(
        as_channel, topology.COMMANDS, "reporter.reply", user_id="lapor-admin"
    )
    assert await can_publish(
        as_channel, topology.COMMANDS, "reporter.reply", user_id=f"channel-{sfx}"
    )

    # An agency: reads its own queue, answers with opd.respond; nothing else.
    assert await can_consume(as_agency, f"opd.{agency_a}")
    assert not await can_consume(as_agency, f"opd.{agency_b}")
    assert await can_publish(as_agency, topology.COMMANDS, "opd.respond")
    assert not await can_publish(as_agency, topology.COMMANDS, "routing.dispose")
    assert not await can_publish(as_agency, topology.INTAKE, f"channel.{channel}")
    assert not await can_publish(as_agency, topology.OPD, f"opd.{agency_b}")
    assert not await can_declare(as_agency, f"opd.{agency_a}")

    # The portal: web and open311 reports, every command, its channels' notices.
    assert await can_publish(as_portal, topology.INTAKE, "channel.web")
    assert await can_publish(as_portal, topology.INTAKE, "channel.open311")
    assert not await can_publish(as_portal, topology.INTAKE, f"channel.{channel}")
    for key in ("verification.decide", "routing.dispose", "opd.respond", "reporter.reply"):
        assert await can_publish(as_portal, topology.COMMANDS, key), key
    assert await can_consume(as_portal, "channel.web")
    assert not await can_consume(as_portal, f"channel.{channel}")
    assert not await can_consume(as_portal, f"opd.{agency_a}")
    assert not await can_publish(as_portal, topology.EVENTS, "complaint.verified")

    # What was allowed arrived where it should: the channel's report is on intake.reports.
    connection = await aio_pika.connect(broker.admin_url)
    admin = await connection.channel()
    reports = await admin.get_queue(topology.INTAKE_REPORTS.name)
    keys = []
    while (message := await reports.get(no_ack=True, fail=False)) is not None:
        keys.append(message.routing_key)
    assert sorted(keys) == sorted([f"channel.{channel}", "channel.web", "channel.open311"])
    await connection.close()

    # Again: nothing new, no password written or changed.
    before = passwords_file.read_text()
    again = await apply(
        Rabbitmqctl(),
        table,
        amqp_url=broker.admin_url,
        delivery_limit=3,
        passwords_file=passwords_file,
    )
    assert again.created == [] and len(again.updated) == 4
    assert passwords_file.read_text() == before
    assert await can_consume(as_channel, f"channel.{channel}")  # the old password still works


async def test_new_users_without_a_password_file_are_refused_before_anything_is_created(
    declared: Broker,
) -> None:
    table = access_table([declared.suffix], [], portal_user=None)
    with pytest.raises(AccessError, match="--passwords"):
        await apply(
            Rabbitmqctl(),
            table,
            amqp_url=declared.admin_url,
            delivery_limit=3,
            passwords_file=None,
        )
    assert f"channel-{declared.suffix}" not in Rabbitmqctl().users()


@pytest.mark.unit
def test_names_that_could_widen_a_pattern_are_refused() -> None:
    for bad in ("sms.*", "a|b", "Web", "", "x" * 65):
        with pytest.raises(ValueError, match="lower-case"):
            access_table([bad], [])
    assert vhost_of("amqp://u:p@h:5672/lapor") == "lapor"
    assert vhost_of("amqp://u:p@h:5672/") == "/"
    assert vhost_of("amqp://u:p@h:5672/a%2Fb") == "a/b"


@pytest.mark.unit
def test_the_management_api_gets_the_same_document_with_the_admins_credentials() -> None:
    """The HTTP path (compose), against a stand-in for the management API's two calls."""
    import base64
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    seen: list[tuple[str, str, str | None, Any]] = []

    class Api(BaseHTTPRequestHandler):
        def _reply(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            seen.append(("GET", self.path, self.headers.get("authorization"), None))
            self._reply(200, [{"name": "lapor-admin"}, {"name": "opd-dinkes"}])

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = json.loads(self.rfile.read(length))
            seen.append(("POST", self.path, self.headers.get("authorization"), body))
            self._reply(201, {})

        def log_message(self, *_: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        admin = choose_admin(
            "amqp://lapor-admin:s3cret@rabbitmq:5672/lapor",
            f"http://127.0.0.1:{server.server_port}",
            "auto",
        )
        assert admin.users() == {"lapor-admin", "opd-dinkes"}
        table = access_table(["sms"], ["dinkes"], portal_user=None)
        admin.import_definitions(definitions(table, "lapor", {"channel-sms": "pw"}))
    finally:
        server.shutdown()
    token = "Basic " + base64.b64encode(b"lapor-admin:s3cret").decode()
    assert [(m, p, a) for m, p, a, _ in seen] == [
        ("GET", "/api/users", token),
        ("POST", "/api/definitions", token),
    ]
    document = seen[1][3]
    assert [u["name"] for u in document["users"]] == ["channel-sms"]
    assert "pw" not in json.dumps(document)  # only the salted hash travels
    assert {p["user"] for p in document["permissions"]} == {"channel-sms", "opd-dinkes"}


@pytest.mark.unit
def test_a_password_hash_is_rabbitmqs_salted_sha256() -> None:
    import base64
    import hashlib

    encoded = password_hash("rahasia", salt=b"\x01\x02\x03\x04")
    raw = base64.b64decode(encoded)
    assert raw[:4] == b"\x01\x02\x03\x04"
    assert raw[4:] == hashlib.sha256(b"\x01\x02\x03\x04rahasia").digest()
