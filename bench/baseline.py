"""The yardstick: raw aio-pika doing the same three hops LAPOR's pipeline does.

publish → q1 → relay → q2 → relays → q3 → relay → agency queue, every queue a durable
quorum queue, every message persistent, every publish confirmed, every ack after the
next publish — the same guarantees LAPOR gives, with no storage and no domain logic.

The relays run in a process of their own (``python -m bench.baseline URL MIDDLE PREFETCH``)
so that their CPU time can be read apart from the publisher's and the sink's, exactly as
LAPOR's services' CPU is read apart from the benchmark's.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue

QUORUM = {"x-queue-type": "quorum"}
NAMES = ["bench.hop1", "bench.hop2", "bench.hop3", "bench.agency"]
ROOT = Path(__file__).resolve().parent.parent


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

    def summary(self) -> dict[str, float | int | str]:
        """The figures of this run, for ``--json``."""
        return {
            "name": self.name,
            "reports": self.reports,
            "seconds": round(self.seconds, 3),
            "reports_per_s": round(self.reports / self.seconds, 2),
            "p50_ms": round(self.percentile(50), 1),
            "p95_ms": round(self.percentile(95), 1),
            "p99_ms": round(self.percentile(99), 1),
        }


HEADER = (
    f"{'pipeline':<34} {'reports':>7} {'reports/s':>10} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9}"
)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds process ``pid`` has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def paced(count: int, rate: float, send: Callable[[int], Awaitable[None]]) -> None:
    """Call ``send(n)`` for n in 0..count-1, at ``rate`` per second (0: as fast as possible).

    Open loop: the schedule does not wait for the system under test, so a slow pipeline
    shows up as growing latency, not as a lower offered load.
    """
    start = time.perf_counter()
    for n in range(count):
        if rate > 0:
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        await send(n)


async def relay(
    channel: AbstractChannel,
    source: AbstractQueue,
    target: str,
    prefetch: int,
    forwarded: Callable[[], None] | None = None,
) -> None:
    """The raw hop: consume from ``source``, publish to ``target`` with the channel's
    confirms, ack; ``forwarded`` is told after each message."""
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
        if forwarded is not None:
            forwarded()

    await source.consume(forward)


async def relays(amqp_url: str, middle_workers: int, prefetch: int) -> None:
    """Run the three hops' relays until SIGTERM (the relay process)."""
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    connection = await aio_pika.connect_robust(amqp_url)
    async with connection:
        setup = await connection.channel()
        queues = [await setup.get_queue(name) for name in NAMES]
        workers = [(queues[0], NAMES[1])]
        workers += [(queues[1], NAMES[2])] * middle_workers
        workers += [(queues[2], NAMES[3])]
        for source, target in workers:
            await relay(await connection.channel(publisher_confirms=True), source, target, prefetch)
        # The parent waits for this line: a quorum queue's declare-ok does not count consumers.
        print("consuming", flush=True)
        await stop.wait()


def local_broker_pid() -> int | None:
    """The local RabbitMQ node's Erlang VM (``beam.smp``), if one runs on this machine.

    Its CPU over a run is the broker's share of the cost: every vhost's, so it says
    something only on a broker nothing else uses meanwhile.
    """
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue  # gone, or not ours to read
        if argv[0].endswith(b"beam.smp") and any(b"rabbit" in arg for arg in argv):
            return int(cmdline.parent.name)
    return None


async def raw_three_hops(
    amqp_url: str,
    reports: int,
    middle_workers: int,
    prefetch: int,
    rate: float = 0,
    watched: dict[str, int] | None = None,
) -> tuple[Run, dict[str, float]]:
    """Send ``reports`` messages through three relays: the run, and the CPU seconds of the
    relays (``relays``) and of each ``watched`` process (name → pid) meanwhile."""
    connection = await aio_pika.connect_robust(amqp_url)
    async with connection:
        setup = await connection.channel()
        for name in NAMES:
            await setup.queue_delete(name)
        queues = [await setup.declare_queue(n, durable=True, arguments=QUORUM) for n in NAMES]
        # Started once per run, before any timing: a blocking spawn costs nothing measured.
        relay = subprocess.Popen(  # noqa: ASYNC220
            [sys.executable, "-m", "bench.baseline", amqp_url, str(middle_workers), str(prefetch)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
        )
        try:
            assert relay.stdout is not None
            line = await asyncio.wait_for(asyncio.to_thread(relay.stdout.readline), timeout=120)
            if line.strip() != b"consuming":
                raise SystemExit(f"the raw relays did not start: {line!r}")
            latencies: list[float] = []
            done = asyncio.Event()

            async def arrive(message: AbstractIncomingMessage) -> None:
                sent = json.loads(message.body)["sent"]
                latencies.append(time.perf_counter() - sent)
                await message.ack()
                if len(latencies) >= reports:
                    done.set()

            sink = await connection.channel()
            await sink.set_qos(prefetch_count=256)
            await (await sink.get_queue(NAMES[3])).consume(arrive)

            publisher = await connection.channel(publisher_confirms=True)

            async def send(n: int) -> None:
                body = json.dumps({"n": n, "sent": time.perf_counter(), "pad": "x" * 600})
                await publisher.default_exchange.publish(
                    aio_pika.Message(body.encode(), delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                    routing_key=NAMES[0],
                )

            pids = {"relays": relay.pid, **(watched or {})}
            cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            start = time.perf_counter()
            await paced(reports, rate, send)
            await asyncio.wait_for(done.wait(), timeout=600)
            seconds = time.perf_counter() - start
            cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
        finally:
            relay.terminate()
            relay.wait(timeout=30)
        for queue in queues:
            await queue.delete(if_unused=False, if_empty=False)
    return Run(f"raw aio-pika, 3 hops ({middle_workers} mid)", reports, seconds, latencies), cpu


if __name__ == "__main__":
    asyncio.run(relays(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
