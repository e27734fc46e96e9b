"""The example e-mail channel against the real broker, with intake running in-process.

The adapter is an outside system: it talks to LAPOR through RabbitMQ only, with the
contract's message shapes. A citizen's e-mail goes in; the case is stored and the
acknowledgement comes back as an e-mail with the tracking ID; the citizen's reply becomes
a ``reporter.reply`` command.
"""

from __future__ import annotations

import ast
import json
import shutil
import sys
from collections.abc import AsyncIterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import pytest

from examples.email_channel.adapter import DirectoryOutbox, EmailChannel
from lapor.commands.access import Rabbitmqctl, apply, channel_grant
from lapor.rabbitmqctl import RabbitmqctlError, rabbitmqctl
from services.intake import app as intake_app
from services.routing import app as routing_app
from shared import topology
from shared.pii import IdentityProtector
from shared.settings import IntakeSettings
from shared.storage import Store
from tests.conftest import make_settings
from tests.servers import Servers
from tests.support import Listener, eventually

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "email_channel"

REPORT = b"""\
From: "Siti Aminah" <siti.aminah@Contoh.ID>
To: lapor@sumselprov.go.id
Subject: Lampu jalan mati di Jl. Kapten Rivai
Date: Fri, 27 Nov 2026 19:40:00 +0700
Message-ID: <CAF8x2-lampu-jalan-001@mail.contoh.id>
MIME-Version: 1.0
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: 8bit

Selamat malam,

Sudah seminggu lampu penerangan jalan di depan SMA Negeri 3 Palembang
mati. Jalan jadi gelap dan rawan kecelakaan.

Terima kasih.
"""


def reply_email(tracking_id: str, text: str, message_id: str) -> bytes:
    """A reply as a mail client writes it: the tracking ID in the subject, the quote below."""
    return f"""\
From: Siti Aminah <siti.aminah@contoh.id>
To: lapor@sumselprov.go.id
Subject: Re: [LAPOR {tracking_id}] Laporan Anda telah selesai ditindaklanjuti
Message-ID: <{message_id}@mail.contoh.id>
In-Reply-To: <ack@lapor>
Content-Type: text/plain; charset="utf-8"

{text}

Pada 27 Nov 2026 20.00, LAPOR <lapor@example.go.id> menulis:
> Laporan {tracking_id} telah selesai ditindaklanjuti.
> Balas TERIMA jika Anda puas.
""".encode()


@pytest.fixture
async def intake(
    settings: IntakeSettings, amqp: aio_pika.abc.AbstractConnection
) -> AsyncIterator[None]:
    async with intake_app.create(settings):
        yield


class CountingOutbox(DirectoryOutbox):
    """The adapter's outbox, counting the e-mails handed to it: a test's barrier."""

    handed_over = 0

    def __call__(self, email: EmailMessage) -> None:
        super().__call__(email)
        CountingOutbox.handed_over += 1


@pytest.fixture
async def email_channel(
    settings: IntakeSettings, amqp: aio_pika.abc.AbstractConnection, tmp_path: Path
) -> AsyncIterator[tuple[EmailChannel, Path]]:
    outbox = tmp_path / "outbox"
    channel = EmailChannel(
        settings.amqp_url.get_secret_value(),
        CountingOutbox(outbox),
        sender="LAPOR Sumsel <lapor@sumselprov.go.id>",
    )
    async with channel:
        yield channel, outbox
    cleanup = await amqp.channel()
    await cleanup.queue_delete("channel.email")
    await cleanup.close()


def sent_emails(outbox: Path) -> list[EmailMessage]:
    emails = []
    for path in sorted(outbox.glob("*.eml")):
        parsed = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        emails.append(parsed)
    return emails


async def test_an_email_becomes_a_case_and_the_reporter_gets_the_tracking_id_by_email(
    intake: None,
    email_channel: tuple[EmailChannel, Path],
    store: Store,
    protector: IdentityProtector,
) -> None:
    channel, outbox = email_channel

    await channel.submit(REPORT)

    [acknowledgement] = await eventually(lambda: sent_emails(outbox), timeout=15)
    tracking_id = acknowledgement["X-LAPOR-Tracking-ID"]
    assert f"[LAPOR {tracking_id}]" in acknowledgement["Subject"]
    assert acknowledgement["To"].addresses[0].addr_spec == "siti.aminah@contoh.id"
    assert acknowledgement["In-Reply-To"] == "<CAF8x2-lampu-jalan-001@mail.contoh.id>"
    text = acknowledgement.get_content()
    assert text.startswith("Laporan Anda telah kami terima")
    assert tracking_id in text

    case = await store.complaints.find_one({"_id": tracking_id})
    assert case is not None
    assert case["status"] == "received"
    assert case["channel"] == "email"
    assert case["external_id"] == "CAF8x2-lampu-jalan-001@mail.contoh.id"
    assert case["title"] == "Lampu jalan mati di Jl. Kapten Rivai"
    assert case["description"].startswith("Selamat malam,")
    assert "rawan kecelakaan" in case["description"]
    reporter = protector.open_json(case["reporter"]["sealed"], tracking_id)
    assert reporter == {"name": "Siti Aminah", "email": "siti.aminah@contoh.id"}


async def test_the_same_email_twice_is_one_case_and_one_acknowledgement(
    amqp: aio_pika.abc.AbstractConnection,
    intake: None,
    email_channel: tuple[EmailChannel, Path],
    store: Store,
) -> None:
    channel, outbox = email_channel
    async with Listener(amqp, topology.OUTBOUND, "channel.email") as notices:
        before = CountingOutbox.handed_over
        await channel.submit(REPORT)
        await channel.submit(REPORT)  # the mail server delivered it again
        first, second = await notices.wait_for(lambda b: len(b) == 2)
        # The adapter handles its own copies of the notices on its own time: wait until it
        # has handed both to its outbox.
        await eventually(lambda: CountingOutbox.handed_over - before >= 2, timeout=15)
    assert first["tracking_id"] == second["tracking_id"]
    assert await store.complaints.count_documents({}) == 1
    # Both notices carry the same message_id: one e-mail in the outbox, not two.
    assert len(sent_emails(outbox)) == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("TERIMA", {"action": "accept"}, id="accept"),
        pytest.param("Terima.", {"action": "accept"}, id="accept-any-case"),
        pytest.param(
            "Terima kasih, tapi lampunya masih mati.",
            {"action": "add_information", "message": "Terima kasih, tapi lampunya masih mati."},
            id="thanks-is-not-acceptance",
        ),
        pytest.param(
            "BUKA lampunya mati lagi sejak kemarin",
            {"action": "reopen", "message": "lampunya mati lagi sejak kemarin"},
            id="reopen",
        ),
        pytest.param("4", {"action": "rate", "rating": 4}, id="rate"),
        pytest.param(
            "Lampu yang mati ada tiga, di depan gerbang sekolah.",
            {
                "action": "add_information",
                "message": "Lampu yang mati ada tiga, di depan gerbang sekolah.",
            },
            id="add-information",
        ),
    ],
)
async def test_a_reply_email_becomes_a_reporter_reply_command(
    amqp: aio_pika.abc.AbstractConnection,
    email_channel: tuple[EmailChannel, Path],
    text: str,
    expected: dict[str, Any],
) -> None:
    channel, _ = email_channel
    tracking_id = "7KQM-X3RT-9DHV"
    async with Listener(amqp, topology.COMMANDS, "reporter.reply") as commands:
        await channel.submit(reply_email(tracking_id.lower(), text, "reply-1"))
        [command] = await commands.wait_for(lambda b: len(b) >= 1)
        [message] = commands.messages
    assert command == {
        "message_id": "email-reply:reply-1@mail.contoh.id",
        "tracking_id": tracking_id,
        "channel": "email",
        "reporter": {"email": "siti.aminah@contoh.id", "name": "Siti Aminah"},
        **expected,
    }
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert message.content_type == "application/json"
    assert message.message_id == command["message_id"]
    assert message.user_id == channel.user_id  # its broker user, checked by RabbitMQ


async def test_a_notification_that_cannot_be_emailed_is_dead_lettered_not_lost(
    amqp: aio_pika.abc.AbstractConnection, email_channel: tuple[EmailChannel, Path]
) -> None:
    _, outbox = email_channel
    async with Listener(amqp, topology.DLX, "channel.email") as dead_letters:
        channel = await amqp.channel(publisher_confirms=True)
        outbound = await channel.get_exchange(topology.OUTBOUND)
        notice = {"message_id": "n-1", "tracking_id": "7KQM-X3RT-9DHV", "event": "received"}
        await outbound.publish(
            aio_pika.Message(json.dumps(notice).encode(), delivery_mode=2),
            routing_key="channel.email",
        )
        await channel.close()
        [dead] = await dead_letters.wait_for(lambda b: len(b) >= 1)
    assert dead == notice
    assert sent_emails(outbox) == []


def _ctl(*args: str) -> None:
    try:
        rabbitmqctl("--quiet", *args, timeout=120)
    except RabbitmqctlError as exc:
        if "did not answer" in str(exc):
            pytest.fail(str(exc))


@pytest.fixture
async def channel_email_url(servers: Servers, tmp_path: Path) -> AsyncIterator[str]:
    """The broker user ``channel-email`` with exactly the rights ``lapor access apply
    --channel email`` gives it (its queue declared by the admin, read-only to it)."""
    if shutil.which("rabbitmqctl") is None:
        pytest.fail("this test needs rabbitmqctl and the local RabbitMQ node to add a user")
    passwords = tmp_path / "broker-passwords.txt"
    try:
        await apply(
            Rabbitmqctl(),
            [channel_grant("email")],
            amqp_url=servers.amqp_url,
            delivery_limit=3,
            passwords_file=passwords,
        )
        [line] = [row for row in passwords.read_text().splitlines() if not row.startswith("#")]
        user, password = line.split("\t")
        parts = urlsplit(servers.amqp_url)
        host = parts.netloc.split("@")[-1]
        yield urlunsplit(parts._replace(netloc=f"{user}:{password}@{host}"))
    finally:
        _ctl("delete_user", "channel-email")


async def test_the_adapter_works_where_lapor_enforces_who_may_send(
    amqp: aio_pika.abc.AbstractConnection,
    servers: Servers,
    db_name: str,
    store: Store,
    channel_email_url: str,
    tmp_path: Path,
) -> None:
    """With ``LAPOR_SENDERS=enforce``, an e-mail from the adapter connected as
    ``channel-email`` (with only the rights ``lapor access apply`` gives) is taken in, not
    quarantined as ``unauthorised``, and the reporter's reply e-mail is applied to their
    case by routing."""
    enforced = make_settings(servers, db_name, senders="enforce")
    outbox = tmp_path / "outbox"
    adapter = EmailChannel(channel_email_url, CountingOutbox(outbox))
    assert adapter.user_id == "channel-email"
    try:
        async with (
            intake_app.create(enforced),
            routing_app.create(enforced),
            adapter,
        ):
            await adapter.submit(REPORT)
            [acknowledgement] = await eventually(lambda: sent_emails(outbox), timeout=15)
            tracking_id = acknowledgement["X-LAPOR-Tracking-ID"]
            more = "Lampu yang mati ada tiga, di depan gerbang sekolah."
            await adapter.submit(reply_email(tracking_id, more, "reply-enforced"))

            async def added() -> dict[str, Any] | None:
                case = await store.complaints.find_one({"_id": tracking_id})
                return case if case and case.get("additions") else None

            case = await eventually(added)
    finally:
        cleanup = await amqp.channel()
        await cleanup.queue_delete("channel.email")
        await cleanup.close()
    assert [a["text"] for a in case["additions"]] == [more]
    assert "email-reply:reply-enforced@mail.contoh.id" in case["applied"]
    assert await store.quarantine.count_documents({}) == 0
    assert await store.db["refusals"].count_documents({}) == 0


def test_the_example_codes_against_the_contract_only() -> None:
    # An outside system has no LAPOR code: aio-pika and the standard library only.
    allowed = {"aio_pika", "examples", "__future__"}
    for path in EXAMPLE.glob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                roots = {node.module.split(".")[0]}
            else:
                continue
            foreign = roots - allowed - sys.stdlib_module_names
            assert not foreign, f"{path.name} imports {foreign}"
