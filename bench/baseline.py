"""The yardstick: raw aio-pika doing the same three hops LAPOR's pipeline does.

publish → q1 → worker → q2 → workers → q3 → worker → agency queue, every queue a durable
quorum queue, every message persistent, every publish confirmed, every ack after the
next publish — the same guarantees LAPOR gives, with no storage and no domain logic.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue

QUORUM = {"x-queue-type": "quorum"}


@dataclass
class Run:
    """What one benchmark run measured."""

    name: str
    reports: int
    seconds: float
    latencies: list[float]

    def percentile(self, p: float) -> float:
        """The p-th percentile latency in milliseconds (nearest rank)."""
        ordered = sorted(self.latencies)
        rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
        return ordered[rank] * 1000

    def row(self) -> str:
        """One line of the results table."""
        return (
            f"{self.name:<34} {self.reports:>7} {self.reports / self.seconds:>10.1f} "
            f"{self.percentile(50):>9.1f} {self.percentile(95):>9.1f} {self.percentile(99):>9.1f}"
        )


HEADER = (
    f"{'pipeline':<34} {'reports':>7} {'reports/s':>10} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9}"
)


async def _relay(
    channel: AbstractChannel, source: AbstractQueue, target: str, prefetch: int
) -> None:
    await channel.set_qos(prefetch_count=prefetch)
    exchange = channel.default_exchange

    async def forward(message: AbstractIncomingMessage) -> None:
        await exchange.publish(
            aio_pika.Message(
                message.body,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                content_type="application/json",
            ),
            routing_key=target,
        )
        await message.ack()

    await source.consume(forward)


async def raw_three_hops(amqp_url: str, reports: int, middle_workers: int, prefetch: int) -> Run:
    """Send ``reports`` messages through three relays; latency from publish to arrival."""
    connection = await aio_pika.connect_robust(amqp_url)
    async with connection:
        setup = await connection.channel()
        names = ["bench.hop1", "bench.hop2", "bench.hop3", "bench.agency"]
        for name in names:
            await setup.queue_delete(name)
        queues = [await setup.declare_queue(n, durable=True, arguments=QUORUM) for n in names]
        workers = [(queues[0], names[1])]
        workers += [(queues[1], names[2])] * middle_workers
        workers += [(queues[2], names[3])]
        for source, target in workers:
            await _relay(
                await connection.channel(publisher_confirms=True), source, target, prefetch
            )

        latencies: list[float] = []
        done = asyncio.Event()

        async def arrive(message: AbstractIncomingMessage) -> None:
            sent = json.loads(message.body)["sent"]
            latencies.append(time.perf_counter() - sent)
            await message.ack()
            if len(latencies) >= reports:
                done.set()

        sink = await connection.channel()
        await sink.set_qos(prefetch_count=prefetch)
        await queues[3].consume(arrive)

        publisher = await connection.channel(publisher_confirms=True)
        start = time.perf_counter()
        for n in range(reports):
            body = json.dumps({"n": n, "sent": time.perf_counter(), "pad": "x" * 600})
            await publisher.default_exchange.publish(
                aio_pika.Message(body.encode(), delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                routing_key=names[0],
            )
        await asyncio.wait_for(done.wait(), timeout=600)
        seconds = time.perf_counter() - start
        for name in names:
            await setup.queue_delete(name)
    return Run(f"raw aio-pika, 3 hops ({middle_workers} mid)", reports, seconds, latencies)
