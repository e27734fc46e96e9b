"""``lapor dlq``: look at dead letters and replay them once the cause is fixed.

A message is dead-lettered when a service failed on it ``LAPOR_DELIVERY_LIMIT`` times or
refused it as unprocessable. It waits in ``lapor.dead-letters`` with RabbitMQ's
``x-death`` header naming the queue it died in and why. Replaying sends it back to that
queue (through the default exchange, the original routing key kept in a header, so no
other queue gets a second copy) and removes it from the dead letters only after the
broker confirmed the re-publish, so nothing is lost if the replay is interrupted.
Bodies are never printed: they may hold a reporter's identity.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from shared.runtime import ORIGINAL_ROUTING_KEY
from shared.settings import LaporSettings
from shared.topology import DEAD_LETTERS


@dataclass(frozen=True)
class DeadLetter:
    """What an operator needs to know of one dead letter."""

    queue: str | None
    reason: str | None
    routing_key: str | None
    message_id: str | None
    deaths: int
    size: int

    @classmethod
    def of(cls, message: AbstractIncomingMessage) -> DeadLetter:
        """Read the ``x-death`` header RabbitMQ adds."""
        deaths: Any = (message.headers or {}).get("x-death") or [{}]
        first = deaths[0]
        return cls(
            queue=_text(first.get("queue")),
            reason=_text(first.get("reason")),
            routing_key=message.routing_key,
            message_id=message.message_id,
            deaths=int(first.get("count", 1)),
            size=len(message.body),
        )


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


async def replay(amqp_url: str, only_queue: str | None, limit: int) -> tuple[int, int]:
    """Send dead letters back to their queues; (replayed, left) counts."""
    replayed = left = 0
    connection = await aio_pika.connect_robust(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        queue = await channel.get_queue(DEAD_LETTERS)
        held: list[AbstractIncomingMessage] = []
        while replayed < limit:
            message = await queue.get(no_ack=False, fail=False)
            if message is None:
                break
            letter = DeadLetter.of(message)
            if letter.queue is None or (only_queue and letter.queue != only_queue):
                held.append(message)
                left += 1
                continue
            headers = dict(message.headers or {})
            headers.pop("x-death", None)
            headers["x-lapor-replayed-from"] = DEAD_LETTERS
            if letter.routing_key:
                headers[ORIGINAL_ROUTING_KEY] = letter.routing_key
            await channel.default_exchange.publish(
                aio_pika.Message(
                    message.body,
                    headers=headers,
                    content_type=message.content_type,
                    message_id=message.message_id,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=letter.queue,
            )
            await message.ack()
            replayed += 1
        await channel.close()  # the held ones go back to the dead-letter queue
    return replayed, left


def _list(args: argparse.Namespace) -> int:
    url = LaporSettings().amqp_url.get_secret_value()
    letters = asyncio.run(list_dead_letters(url, args.limit))
    out = sys.stdout
    out.write(f"{len(letters)} dead letter(s) shown (at most {args.limit})\n")
    for letter in letters:
        out.write(
            f"  queue={letter.queue} reason={letter.reason} key={letter.routing_key} "
            f"message_id={letter.message_id} deaths={letter.deaths} bytes={letter.size}\n"
        )
    return 0


def _replay(args: argparse.Namespace) -> int:
    url = LaporSettings().amqp_url.get_secret_value()
    replayed, left = asyncio.run(replay(url, args.queue, args.limit))
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
