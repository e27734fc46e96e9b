"""``lapor dlq``: look at dead letters and replay them once the cause is fixed.

A message is dead-lettered when a service failed on it ``LAPOR_DELIVERY_LIMIT`` times or
refused it as unprocessable. It waits in ``lapor.dead-letters`` with RabbitMQ's
``x-death`` header naming the queue it died in and why. Replaying sends it back to that
queue (through the default exchange, the original routing key kept in a header, so no
other queue gets a second copy) and removes it from the dead letters only after the
broker confirmed the re-publish, so nothing is lost if the replay is interrupted.
Bodies are never printed: they may hold a reporter's identity.

**Only dead letters the broker produced are replayed.** A replay is published by the
admin, so it must not become a way to slip in a message nobody was allowed to send:

- ``lapor.dlx`` is an *internal* exchange (shared/topology.py): RabbitMQ dead-letters into
  it, but refuses every client's publish to it, the admin's included. Replay checks this
  first (it re-declares the exchange as internal; the broker refuses if it is not).
- ``lapor.dead-letters`` is written by nobody but the admin (``lapor access apply``): a
  client could otherwise put a message straight into it through the default exchange.
- Whatever exchange a message reached ``lapor.dead-letters`` through, the broker tells the
  consumer (``basic.get-ok`` ``exchange``); a client cannot set it. Only a message that
  came through ``lapor.dlx`` is replayed: one published into the queue through the default
  exchange (possible where permissions are loose) is kept.
- RabbitMQ *adds* its ``x-death`` entry in front of whatever ``x-death`` a client sent
  (or, when a client's entry has the same queue and reason, moves it to the front and
  counts it), and sets ``x-first-death-queue`` only when absent: so only the queue and
  reason of the first entry are the broker's. They must name a LAPOR queue that
  dead-letters and a reason RabbitMQ gives. The routing key is the delivery's own.
- The ``user_id`` property cannot be forged (RabbitMQ checks it against the publisher's
  connection) and survives dead-lettering. The replay keeps it as
  ``x-lapor-original-user-id``, and the services authorise a replay as that original
  sender (shared/senders.py), so a refused forgery is refused again. Messages that only
  services publish (events, dispositions, notices) are replayed only when their
  ``user_id`` is a service user (or, with ``LAPOR_SENDERS=open``, absent).

The replayed message's own ``user_id`` is the admin's (the user of ``LAPOR_AMQP_URL``).

A refused message that named a reporter died in ``lapor.sealed-refusals`` (reason
``expired``) with its body sealed (shared/sealed_letters.py); it is listed with the
refusing service's reason and never replayed: a refusal is final.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, ExchangeType

from shared import refusals, topology
from shared.refusals import refusal_key
from shared.senders import ORIGINAL_ROUTING_KEY, ORIGINAL_USER_ID, SenderPolicy
from shared.settings import LaporSettings
from shared.topology import DEAD_LETTERS, DLX

#: The reasons RabbitMQ itself writes into ``x-death``.
BROKER_REASONS = frozenset({"rejected", "expired", "maxlen", "delivery_limit"})
#: Queues whose consumers authorise each message's sender themselves (reports, commands).
SENDER_CHECKED_QUEUES = frozenset(
    spec.name
    for spec in (
        topology.INTAKE_REPORTS,
        topology.VERIFICATION_DECISIONS,
        topology.ROUTING_COMMANDS,
    )
)
#: The service queues that dead-letter to lapor.dlx (named in the broker's x-death).
_SERVICE_QUEUES = frozenset(spec.name for spec in topology.QUEUES if spec.dead_letter)


@dataclass(frozen=True)
class DeadLetter:
    """What an operator needs to know of one dead letter."""

    queue: str | None
    reason: str | None
    routing_key: str | None
    message_id: str | None
    deaths: int
    size: int
    #: The broker-verified publisher of the original message (``user_id``), if any.
    user_id: str | None = None
    #: The exchange the broker delivered it to this queue through (not client-settable).
    exchange: str | None = DLX
    #: Where the refusing service recorded its reason (shared/refusals.py).
    refusal_key: str | None = None

    @classmethod
    def of(cls, message: AbstractIncomingMessage) -> DeadLetter:
        """Read the newest ``x-death`` entry: the one RabbitMQ put in front."""
        deaths: Any = (message.headers or {}).get("x-death")
        latest = deaths[0] if isinstance(deaths, list) and deaths else {}
        if not isinstance(latest, dict):
            latest = {}
        return cls(
            queue=_text(latest.get("queue")),
            reason=_text(latest.get("reason")),
            # The delivery's key, set by the broker: x-death's routing-keys may be a
            # client's, when its forged entry had the same queue and reason as the real one.
            routing_key=message.routing_key,
            message_id=message.message_id,
            deaths=int(latest.get("count", 1) or 1),
            size=len(message.body),
            user_id=message.user_id or None,
            exchange=message.exchange,
            refusal_key=refusal_key(queue, message.message_id, message.body)
            if (queue := _text(latest.get("queue")))
            else None,
        )


def is_lapor_queue(name: str) -> bool:
    """A queue LAPOR declares with ``lapor.dlx`` as its dead-letter exchange."""
    prefix, _, rest = name.partition(".")
    return name in _SERVICE_QUEUES or (prefix in ("opd", "channel") and bool(rest))


def distrust(letter: DeadLetter, policy: SenderPolicy) -> str | None:
    """Why ``letter`` must not be replayed, or None when it may be (see the module doc)."""
    if letter.exchange != DLX:
        return (
            f"not dead-lettered by the broker: it came through {letter.exchange or '(default)'!r}"
        )
    if letter.queue is None or not is_lapor_queue(letter.queue):
        return "x-death names no LAPOR queue"
    if letter.reason not in BROKER_REASONS:
        return "x-death gives a reason RabbitMQ never gives"
    if not letter.routing_key:
        return "no routing key"
    if letter.queue == topology.SEALED_REFUSALS:
        return "a refused message, dead-lettered sealed: a refusal is final (kept for the record)"
    if letter.queue in SENDER_CHECKED_QUEUES:
        return None  # the consumer authorises the original sender again
    if letter.user_id in policy.service_users:
        return None
    if letter.user_id is None and policy.is_open:
        return None
    return "only a service publishes to this queue, and the sender is not one"


def admin_user(amqp_url: str) -> str:
    """The broker user of ``amqp_url`` (the replay's ``user_id``; RabbitMQ checks it)."""
    return unquote(urlsplit(amqp_url).username or "guest")


class DeadLetterExchangeNotInternal(RuntimeError):
    """``lapor.dlx`` accepts clients' publishes, so a dead letter may be forged."""


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        return value.decode()
    return None if value is None else str(value)


async def list_dead_letters(amqp_url: str, limit: int) -> list[DeadLetter]:
    """Up to ``limit`` dead letters, left in place."""
    connection = await aio_pika.connect_robust(amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(DEAD_LETTERS)
        seen: list[AbstractIncomingMessage] = []
        while len(seen) < limit:
            message = await queue.get(no_ack=False, fail=False)
            if message is None:
                break
            seen.append(message)
        letters = [DeadLetter.of(m) for m in seen]
        # Closing the channel returns every unacknowledged message to the queue, in order.
        await channel.close()
    return letters


async def _require_internal_dlx(connection: aio_pika.abc.AbstractConnection) -> None:
    channel = await connection.channel()
    try:
        # Re-declaring with other flags fails: this proves lapor.dlx is internal.
        await channel.declare_exchange(DLX, ExchangeType.TOPIC, durable=True, internal=True)
    except aio_pika.exceptions.ChannelPreconditionFailed:
        raise DeadLetterExchangeNotInternal(
            f"{DLX} is not an internal exchange, so clients may publish forged dead letters "
            "to it; delete it and run `lapor topology declare` (see deploy/README.md)"
        ) from None
    await channel.close()


async def replay(
    amqp_url: str,
    only_queue: str | None,
    limit: int,
    policy: SenderPolicy | None = None,
) -> tuple[int, int]:
    """Send trusted dead letters back to their queues; (replayed, left) counts."""
    policy = policy or SenderPolicy()
    replayed = left = 0
    me = admin_user(amqp_url)
    connection = await aio_pika.connect_robust(amqp_url)
    async with connection:
        await _require_internal_dlx(connection)
        channel = await connection.channel(publisher_confirms=True)
        queue = await channel.get_queue(DEAD_LETTERS)
        held: list[AbstractIncomingMessage] = []
        while replayed < limit:
            message = await queue.get(no_ack=False, fail=False)
            if message is None:
                break
            letter = DeadLetter.of(message)
            if only_queue and letter.queue != only_queue:
                held.append(message)
                left += 1
                continue
            if (why := distrust(letter, policy)) is not None:
                sys.stderr.write(f"kept message_id={letter.message_id}: {why}\n")
                held.append(message)
                left += 1
                continue
            assert letter.queue is not None and letter.routing_key is not None  # by distrust
            headers = {
                k: v
                for k, v in (message.headers or {}).items()
                if not k.startswith(("x-death", "x-first-death", "x-last-death"))
                and k not in (ORIGINAL_ROUTING_KEY, ORIGINAL_USER_ID)
            }
            headers["x-lapor-replayed-from"] = DEAD_LETTERS
            headers[ORIGINAL_ROUTING_KEY] = letter.routing_key
            if letter.user_id is not None:
                headers[ORIGINAL_USER_ID] = letter.user_id
            await channel.default_exchange.publish(
                aio_pika.Message(
                    message.body,
                    headers=headers,
                    content_type=message.content_type,
                    content_encoding=message.content_encoding,
                    message_id=message.message_id,
                    correlation_id=message.correlation_id,
                    timestamp=message.timestamp,
                    user_id=me,
                    app_id=message.app_id,
                    type=message.type,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=letter.queue,
            )
            await message.ack()
            replayed += 1
        await channel.close()  # the held ones go back to the dead-letter queue
    return replayed, left


async def refusal_reasons(settings: LaporSettings, letters: list[DeadLetter]) -> dict[str, str]:
    """The reasons the refusing services recorded for ``letters`` (by refusal key)."""
    from pymongo import AsyncMongoClient

    from shared.storage import resolve_mongo_url

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        resolve_mongo_url(settings.mongo_url.get_secret_value()),
        serverSelectionTimeoutMS=3000,
        appname="lapor-dlq",
    )
    try:
        keys = [letter.refusal_key for letter in letters if letter.refusal_key]
        return await refusals.reasons(client[settings.mongo_db], keys)
    finally:
        await client.close()


@dataclass(frozen=True)
class Unrouted:
    """A message kept because no queue was bound for it (a deleted agency queue, ...)."""

    exchange: str
    routing_key: str
    message_id: str | None
    user_id: str | None
    size: int


#: Exchanges whose unroutable messages RabbitMQ hands to lapor.unroutable.
_PUBLIC_EXCHANGES = frozenset(topology.EXCHANGES) - topology.INTERNAL_EXCHANGES


async def republish_unrouted(amqp_url: str, limit: int, send: bool) -> tuple[list[Unrouted], int]:
    """List (and with ``send``, publish again where they were published) up to ``limit``
    unrouted messages; (what was seen, how many were sent).

    One that is still unroutable comes straight back to ``lapor.unrouted`` (the same
    alternate exchange), so nothing is lost. Only messages RabbitMQ routed there are sent:
    the delivery names the exchange they were published to, which no client can fake
    (one put straight into the queue shows the default exchange and stays). They keep
    their original sender for the services to authorise (``x-lapor-original-user-id``).
    """
    seen: list[Unrouted] = []
    sent = 0
    me = admin_user(amqp_url)
    connection = await aio_pika.connect_robust(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        queue = await channel.get_queue(topology.UNROUTED)
        ids: set[str] = set()
        while len(seen) < limit:
            message = await queue.get(no_ack=False, fail=False)
            if message is None or (message.message_id and message.message_id in ids):
                break  # empty, or round the queue once: what was sent came back
            if message.message_id:
                ids.add(message.message_id)
            item = Unrouted(
                message.exchange or "",
                message.routing_key or "",
                message.message_id,
                message.user_id or None,
                len(message.body),
            )
            seen.append(item)
            if not send or item.exchange not in _PUBLIC_EXCHANGES:
                continue
            headers = dict(message.headers or {})
            headers.pop("x-delivery-count", None)
            headers[ORIGINAL_ROUTING_KEY] = item.routing_key
            if item.user_id is not None:
                headers[ORIGINAL_USER_ID] = item.user_id
            else:
                headers.pop(ORIGINAL_USER_ID, None)
            exchange = await channel.get_exchange(item.exchange, ensure=False)
            await exchange.publish(
                aio_pika.Message(
                    message.body,
                    headers=headers,
                    content_type=message.content_type,
                    content_encoding=message.content_encoding,
                    message_id=message.message_id,
                    correlation_id=message.correlation_id,
                    timestamp=message.timestamp,
                    user_id=me,
                    app_id=message.app_id,
                    type=message.type,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=item.routing_key,
            )
            await message.ack()  # only after the broker confirmed the new copy
            sent += 1
        await channel.close()  # whatever was not sent goes back, unacknowledged
    return seen, sent


def _unrouted(args: argparse.Namespace) -> int:
    url = LaporSettings().amqp_url.get_secret_value()
    seen, sent = asyncio.run(republish_unrouted(url, args.limit, args.republish))
    out = sys.stdout
    out.write(f"{len(seen)} unrouted message(s) seen, {sent} published again\n")
    for item in seen:
        out.write(
            f"  exchange={item.exchange or '(default)'} key={item.routing_key} "
            f"message_id={item.message_id} sender={item.user_id or '-'} bytes={item.size}\n"
        )
    return 0


def _list(args: argparse.Namespace) -> int:
    settings = LaporSettings()
    url = settings.amqp_url.get_secret_value()
    letters = asyncio.run(list_dead_letters(url, args.limit))
    out = sys.stdout
    try:
        why = asyncio.run(refusal_reasons(settings, letters))
    except Exception as exc:  # the broker's view is still worth showing without MongoDB
        why = {}
        out.write(f"(the services' refusal reasons are unavailable: {type(exc).__name__})\n")
    out.write(f"{len(letters)} dead letter(s) shown (at most {args.limit})\n")
    for letter in letters:
        refused = why.get(letter.refusal_key or "")
        out.write(
            f"  queue={letter.queue} reason={letter.reason} key={letter.routing_key} "
            f"message_id={letter.message_id} deaths={letter.deaths} bytes={letter.size} "
            f"sender={letter.user_id or '-'}" + (f" refused={refused}" if refused else "") + "\n"
        )
    return 0


def _replay(args: argparse.Namespace) -> int:
    settings = LaporSettings()
    url = settings.amqp_url.get_secret_value()
    try:
        replayed, left = asyncio.run(replay(url, args.queue, args.limit, settings.sender_policy()))
    except DeadLetterExchangeNotInternal as exc:
        sys.stderr.write(f"not replaying: {exc}\n")
        return 1
    sys.stdout.write(f"replayed {replayed}; left in {DEAD_LETTERS}: {left} examined and kept\n")
    return 0


def register(subparsers: Any) -> None:
    """Add ``dlq list`` and ``dlq replay``."""
    parser = subparsers.add_parser(
        "dlq",
        help="list or replay dead-lettered messages",
        description="Inspect lapor.dead-letters (queue, reason, routing key, message ID — never "
        "the body) and replay messages to the queue they died in once the cause is fixed.",
    )
    actions = parser.add_subparsers(dest="dlq_action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="show dead letters without removing them")
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(handler=_list)
    again = actions.add_parser("replay", help="send dead letters back to their original queue")
    again.add_argument("--queue", help="only those that died in this queue, e.g. intake.reports")
    again.add_argument("--limit", type=int, default=1000)
    again.set_defaults(handler=_replay)
    unrouted = actions.add_parser(
        "unrouted",
        help="show (or publish again) messages no queue was bound for (lapor.unrouted)",
        description="A message published where no queue was bound for it (a Disposition "
        "for a deleted agency queue, a notice for a channel without a queue) is kept in "
        "lapor.unrouted. Show them; with --republish, publish each again on its exchange "
        "and key (once its queue exists it is delivered; else it comes back).",
    )
    unrouted.add_argument("--republish", action="store_true")
    unrouted.add_argument("--limit", type=int, default=1000)
    unrouted.set_defaults(handler=_unrouted)
