"""Micro-benchmark: the per-message CPU of one hop, raw aio-pika against FastStream.

    nice -n 5 .venv/bin/python -m bench.framework --messages 3000

One hop is what every LAPOR delivery does at the least: consume a persistent message
from a quorum queue, publish one persistent message with a publisher confirm, ack. The
source queue is filled first (not measured); then this process's CPU (user + system,
every thread) is read from the consumer's start until the last message reached the sink.
Variants:

- ``aio-pika``: the raw client, as the pipeline benchmark's yardstick relays do it;
- ``faststream-di``: FastStream as LAPOR's services used it before: FastDepends resolves
  the handler's ``body`` and its ``message: RabbitMessage`` context parameter (a thread hop
  per message), LAPOR's store-outage wait and sender check around the handler's work, the
  handler publishing through ``broker.publish``;
- ``lapor``: the services' consumer as :mod:`shared.runtime` builds it now (its broker,
  middlewares and :meth:`ServiceContext.consume`'s subscriber), the handler publishing
  through :class:`shared.runtime.BrokerPublisher` as the services' outbox does (persistent,
  mandatory, confirmed, with ``message_id`` and the verified ``user_id``).

RabbitMQ: a throwaway vhost on the local broker (via rabbitmqctl), or
``LAPOR_BENCH_AMQP_URL``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aio_pika

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.baseline import QUORUM, relay
from bench.pipeline import _rabbitmqctl

SOURCE = "bench.framework.source"
SINK = "bench.framework.sink"
BODY = json.dumps({"tracking_id": "LPR-ABCD-EFGH", "event": "received", "pad": "x" * 600})


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _fill(amqp_url: str, messages: int) -> None:
    """Empty queues, then ``messages`` persistent messages on the source queue."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        for name in (SOURCE, SINK):
            await channel.queue_delete(name)
            await channel.declare_queue(name, durable=True, arguments=QUORUM)
        body = BODY.encode()
        for start in range(0, messages, 200):
            await asyncio.gather(
                *(
                    channel.default_exchange.publish(
                        aio_pika.Message(
                            body,
                            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                            message_id=f"m{n}",
                            content_type="application/json",
                        ),
                        routing_key=SOURCE,
                    )
                    for n in range(start, min(start + 200, messages))
                )
            )


class Done:
    """Counts handled messages; set when all arrived."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.count = 0
        self.event = asyncio.Event()

    def one(self) -> None:
        self.count += 1
        if self.count >= self.expected:
            self.event.set()


async def raw_hop(amqp_url: str, done: Done, prefetch: int) -> Callable[[], Awaitable[None]]:
    """The raw relay: consume, publish with confirm, ack."""
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel(publisher_confirms=True)
    queue = await channel.get_queue(SOURCE)
    await relay(channel, queue, SINK, prefetch, done.one)
    return connection.close


def _broker_kwargs(prefetch: int) -> dict[str, Any]:
    from faststream.rabbit.schemas import Channel

    return {
        "default_channel": Channel(prefetch_count=prefetch, publisher_confirms=True),
        "logger": logging.getLogger("bench.framework.broker"),
        "log_level": logging.DEBUG,
    }


async def faststream_di_hop(
    amqp_url: str, done: Done, prefetch: int
) -> Callable[[], Awaitable[None]]:
    """FastStream with FastDepends resolving ``body`` and a ``message`` context parameter."""
    from faststream import AckPolicy
    from faststream.rabbit import RabbitBroker, RabbitQueue
    from faststream.rabbit.annotations import RabbitMessage

    from shared.outage import while_store_down
    from shared.runtime import raw_body
    from shared.sender_check import SenderCheck
    from shared.senders import SenderPolicy, SendersMode

    broker = RabbitBroker(amqp_url, **_broker_kwargs(prefetch))
    senders = SenderCheck(SenderPolicy(SendersMode.OPEN))
    stop = asyncio.Event()

    @broker.subscriber(
        RabbitQueue(SOURCE, declare=False),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=raw_body,
        no_reply=True,
    )
    async def forward(body: bytes, message: RabbitMessage) -> None:
        async def checked() -> None:
            await senders.admit(message)
            await broker.publish(
                body, routing_key=SINK, persist=True, content_type="application/json"
            )

        await while_store_down(checked, stop=stop)
        done.one()

    await broker.start()
    return broker.stop


async def lapor_hop(amqp_url: str, done: Done, prefetch: int) -> Callable[[], Awaitable[None]]:
    """The services' consumer as shared.runtime builds it."""
    from faststream.rabbit import RabbitQueue
    from faststream.rabbit.message import RabbitMessage

    from shared.runtime import (
        BrokerPublisher,
        DeliveryRules,
        broker_user,
        service_broker,
        subscribe,
    )
    from shared.sender_check import SenderCheck
    from shared.settings import LaporSettings

    settings = LaporSettings(amqp_url=amqp_url, prefetch=prefetch, senders="open")
    broker = service_broker("bench", settings)
    rules = DeliveryRules(SenderCheck(settings.sender_policy()), asyncio.Event())
    publisher = BrokerPublisher(broker, broker_user(amqp_url))

    async def forward(body: bytes, message: RabbitMessage) -> None:
        await publisher.publish_body("", SINK, body, message.message_id)
        done.one()

    subscribe(broker, RabbitQueue(SOURCE, declare=False), forward, rules)
    await broker.start()
    return broker.stop


VARIANTS: dict[str, Callable[[str, Done, int], Awaitable[Callable[[], Awaitable[None]]]]] = {
    "aio-pika": raw_hop,
    "faststream-di": faststream_di_hop,
    "lapor": lapor_hop,
}


async def measure(amqp_url: str, variant: str, messages: int, prefetch: int) -> float:
    """CPU milliseconds per message of one variant."""
    await _fill(amqp_url, messages)
    done = Done(messages)
    cpu = _cpu()
    stop = await VARIANTS[variant](amqp_url, done, prefetch)
    await asyncio.wait_for(done.event.wait(), timeout=600)
    spent = _cpu() - cpu
    await stop()
    return spent / messages * 1000


async def main(args: argparse.Namespace) -> dict[str, Any]:
    """Every variant, ``--rounds`` times in turn (interleaved, so drift hits all alike)."""
    logging.basicConfig(level=logging.WARNING)
    # The variants import FastStream and LAPOR's modules; import them before any CPU is
    # read, or the first round of each pays for the imports.
    import faststream.rabbit  # noqa: F401

    import shared.runtime  # noqa: F401

    amqp_url = os.environ.get("LAPOR_BENCH_AMQP_URL", "")
    vhost = None
    if not amqp_url:
        vhost = f"lapor-bench-{uuid.uuid4().hex[:8]}"
        _rabbitmqctl("add_vhost", vhost)
        _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        amqp_url = f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    results: dict[str, list[float]] = {v: [] for v in args.variants}
    try:
        for _ in range(args.rounds):
            for variant in args.variants:
                ms = await measure(amqp_url, variant, args.messages, args.prefetch)
                results[variant].append(round(ms, 3))
                print(f"{variant:<14} {ms:.3f} ms CPU per message", file=sys.stderr, flush=True)
    finally:
        if vhost is not None:
            try:
                _rabbitmqctl("delete_vhost", vhost)
            except subprocess.SubprocessError:
                print(f"could not delete vhost {vhost}", file=sys.stderr)
    summary = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "messages": args.messages,
        "prefetch": args.prefetch,
        "cpu_ms_per_message": results,
        "median_ms": {v: sorted(r)[len(r) // 2] for v, r in results.items()},
    }
    print(json.dumps(summary, indent=2))
    return summary


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--prefetch", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
