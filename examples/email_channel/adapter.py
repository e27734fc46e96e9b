"""The e-mail channel's connection to LAPOR: plain aio-pika, as any outside system has.

- :meth:`EmailChannel.submit` publishes an incoming e-mail as a report
  (``lapor.intake`` ``channel.email``) or as a reporter's reply (``lapor.commands``
  ``reporter.reply``): persistent JSON, waiting for the broker's publisher confirm, and
  signed with the AMQP ``user_id`` of the broker user it connects as. RabbitMQ refuses a
  ``user_id`` that is not the connection's user, and LAPOR (``LAPOR_SENDERS=enforce``)
  accepts reports on ``channel.email`` and replies to e-mail cases only from the user
  ``channel-email`` (``lapor access apply --channel email`` creates it).
- :meth:`EmailChannel.start` declares the channel's own durable quorum queue
  ``channel.email``, bound to ``lapor.outbound`` with ``channel.email``, and turns every
  notification on it into an e-mail handed to the outbox; a message is acknowledged only
  once the outbox has it, so none is lost if the adapter stops half-way.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)

from examples.email_channel.mail import (
    CHANNEL,
    ROUTING_KEY,
    Incoming,
    UnusableEmail,
    notification_email,
    parse,
)

log = logging.getLogger("lapor.example.email")

INTAKE = "lapor.intake"
COMMANDS = "lapor.commands"
OUTBOUND = "lapor.outbound"
DEAD_LETTERS = "lapor.dlx"
REPLY_ROUTING_KEY = "reporter.reply"

#: Something that sends an e-mail: a function or coroutine taking the message.
Mailer = Callable[[EmailMessage], Awaitable[None] | None]


class DirectoryOutbox:
    """Writes each outgoing e-mail as an ``.eml`` file (a mail server or a person picks
    them up). The name comes from the Message-ID, so a redelivered notification rewrites
    the same file instead of sending the e-mail twice."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def __call__(self, email: EmailMessage) -> None:
        """Store one e-mail, atomically."""
        name = str(email["Message-ID"]).strip("<>").split("@")[0]
        target = self.directory / f"{name}.eml"
        partial = target.with_suffix(".part")
        partial.write_bytes(email.as_bytes())
        partial.replace(target)


class EmailChannel:
    """The e-mail channel adapter: e-mails in, reports and replies out, notices back."""

    def __init__(
        self,
        amqp_url: str,
        mailer: Mailer,
        sender: str = "LAPOR <lapor@example.go.id>",
        delivery_limit: int = 5,
    ) -> None:
        self._amqp_url = amqp_url
        #: Who the messages say sent them: the broker user of ``amqp_url`` (``channel-email``
        #: in a deployment), which RabbitMQ checks against the connection.
        self.user_id = unquote(urlsplit(amqp_url).username or "guest")
        self._mailer = mailer
        self._sender = sender
        self._delivery_limit = delivery_limit
        self._connection: AbstractRobustConnection | None = None
        self._publishing: AbstractChannel | None = None
        self._consumer_tag: str | None = None
        self._queue: AbstractQueue | None = None

    async def __aenter__(self) -> EmailChannel:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Connect, find (or, on a laptop, declare) the channel's own queue and start
        sending notices."""
        self._connection = await aio_pika.connect_robust(self._amqp_url)
        self._publishing = await self._connection.channel(publisher_confirms=True)
        self._queue = await self._own_queue(self._connection)
        self._consumer_tag = await self._queue.consume(self._on_notification)
        log.info("e-mail channel started")

    async def _own_queue(self, connection: AbstractRobustConnection) -> AbstractQueue:
        """The queue ``channel.email``. In a deployment ``lapor access apply`` declared
        and bound it, and the channel's user may only read it: a passive declare. Where
        it does not exist yet (a laptop, broad rights), it is declared and bound here."""
        consuming = await connection.channel()
        await consuming.set_qos(prefetch_count=8)
        try:
            return await consuming.declare_queue(ROUTING_KEY, passive=True)
        except aio_pika.exceptions.ChannelNotFoundEntity:
            pass  # the failed passive declare closed that channel
        consuming = await connection.channel()
        await consuming.set_qos(prefetch_count=8)
        # Like every LAPOR queue: durable, quorum, bounded redelivery, then lapor.dlx.
        queue = await consuming.declare_queue(
            ROUTING_KEY,
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-delivery-limit": self._delivery_limit,
                "x-dead-letter-exchange": DEAD_LETTERS,
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
            },
        )
        await queue.bind(OUTBOUND, routing_key=ROUTING_KEY)
        return queue

    async def stop(self) -> None:
        """Stop consuming (the notice in hand finishes) and disconnect."""
        if self._queue is not None and self._consumer_tag is not None:
            await self._queue.cancel(self._consumer_tag)
        if self._connection is not None:
            await self._connection.close()
        self._connection = self._publishing = self._queue = self._consumer_tag = None

    # --- e-mail in ----------------------------------------------------------------------

    async def submit(self, raw: bytes) -> Incoming:
        """Publish an incoming e-mail as a report or a reply; returns what was published."""
        incoming = parse(raw)
        if incoming.kind == "report":
            await self._publish(INTAKE, ROUTING_KEY, incoming)
        else:
            await self._publish(COMMANDS, REPLY_ROUTING_KEY, incoming)
        log.info("e-mail published", extra={"kind": incoming.kind})
        return incoming

    async def _publish(self, exchange_name: str, routing_key: str, incoming: Incoming) -> None:
        if self._publishing is None:
            raise RuntimeError("the e-mail channel is not started")
        exchange: AbstractExchange = await self._publishing.get_exchange(exchange_name)
        # With publisher confirms on, this returns only once the broker has the message.
        await exchange.publish(
            aio_pika.Message(
                json.dumps(incoming.body, ensure_ascii=False).encode(),
                content_type="application/json",
                content_encoding="utf-8",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                message_id=incoming.message_id,
                app_id=f"lapor-channel-{CHANNEL}",
                user_id=self.user_id,
            ),
            routing_key=routing_key,
        )

    # --- notices out --------------------------------------------------------------------

    async def _on_notification(self, message: AbstractIncomingMessage) -> None:
        try:
            notification: dict[str, Any] = json.loads(message.body)
            email = notification_email(notification, self._sender)
        except (ValueError, KeyError, TypeError, UnusableEmail) as exc:
            # It can never be sent: to lapor.dead-letters at once, for an operator.
            log.warning("notification refused", extra={"error": type(exc).__name__})
            await message.reject(requeue=False)
            return
        try:
            sent = self._mailer(email)
            if inspect.isawaitable(sent):
                await sent
        except Exception:
            # Maybe the mail server is down: try again, up to the queue's delivery limit.
            log.exception("e-mail not handed over; the notification will be redelivered")
            await message.nack(requeue=True)
            return
        await message.ack()


async def serve(channel: EmailChannel, stop: asyncio.Event) -> None:
    """Run ``channel`` until ``stop`` is set."""
    async with channel:
        await stop.wait()
