"""Benchmark: reports through intake → verification → routing → an agency queue.

Runs the real services as separate processes (``lapor run …``) against the real broker,
persistent messages and publisher confirms on, with any number of verification workers,
and — in the same run, on the same broker — raw aio-pika doing the same three hops
(bench/baseline.py), so the ratio between the two means something on a noisy machine.
Latency is measured from the publish on ``lapor.intake`` to the Disposition's arrival on
``opd.<code>``, in this process (one clock).

    .venv/bin/python bench/pipeline.py --reports 1000 --verification-workers 2

MongoDB: ``LAPOR_MONGO_URL`` if set; otherwise a ``lapor devdb`` stand-in process (whose
speed, not LAPOR's, then dominates: see docs/performance.md). RabbitMQ: a throwaway vhost
on the local broker (via rabbitmqctl), or ``LAPOR_BENCH_AMQP_URL``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from contextlib import suppress
from pathlib import Path

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.baseline import HEADER, Run, raw_three_hops

AGENCY = "pupr-palembang"
STREETS = ["Mayor Zen", "Kolonel Atmo", "Sudirman", "Demang Lebar Daun", "Veteran", "Basuki Rahmat",
           "Angkatan 45", "Sukabangun", "Kapten A. Rivai", "Merdeka", "R. Soekamto", "Residen"]  # fmt: skip
WORDS = ["genangan", "retak", "licin", "gelap", "motor", "mobil", "hujan", "malam", "pagi",
         "simpang", "tikungan", "selokan", "parit", "kerikil", "pinggir", "tengah", "dalam", "lebar",
         "becek", "debu", "tanjakan", "turunan", "gang", "lorong", "rumah", "kebun"]  # fmt: skip


def report(n: int, rng: random.Random) -> dict[str, object]:
    """A distinct, routable road report (no two are near-duplicates)."""
    words = " ".join(rng.sample(WORDS, 8))
    return {
        "channel": "bench",
        "external_id": f"bench-{n:06d}",
        "description": f"Jalan berlubang di Jl. {rng.choice(STREETS)} No. {n} RT {n % 40}: "
        f"{words}. Kode BENCH-{n:06d}-{rng.randrange(10**9)}.",
        "location": {"region_code": "16.71"},
        "reporter": {"email": f"warga{n}@example.id"},
    }


class PipelineIncomplete(RuntimeError):
    """Not every report reached the agency queue in time."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _rabbitmqctl(*args: str) -> None:
    executable = shutil.which("rabbitmqctl")
    if executable is None:
        raise SystemExit("rabbitmqctl not found: set LAPOR_BENCH_AMQP_URL")
    subprocess.run([executable, *args], check=True, capture_output=True, timeout=60)


class Processes:
    """The service processes of one run; stopped with SIGTERM at the end."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str) -> None:
        self.running.append(
            subprocess.Popen(
                [sys.executable, "-m", "lapor.cli", *args],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )

    def cpu_seconds(self) -> list[tuple[str, float]]:
        """CPU time each process has used so far (Linux /proc), to see where time goes."""
        ticks = os.sysconf("SC_CLK_TCK")
        usage = []
        for process in self.running:
            try:
                fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            args = process.args if isinstance(process.args, list) else [str(process.args)]
            name = " ".join(str(a) for a in args[3:5])
            usage.append((name, (int(fields[11]) + int(fields[12])) / ticks))
        return usage

    def stop(self) -> None:
        for process in self.running:
            with suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        for process in self.running:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


async def _wait_for_consumers(amqp_url: str, wanted: dict[str, int]) -> None:
    connection = await aio_pika.connect_robust(amqp_url)
    async with connection:
        for _ in range(300):
            channel = await connection.channel()
            ready = True
            for name, count in wanted.items():
                try:
                    queue = await channel.declare_queue(name, passive=True)
                except aio_pika.exceptions.ChannelClosed:
                    channel = await connection.channel()
                    ready = False
                    continue
                ready = ready and queue.declaration_result.consumer_count >= count
            await channel.close()
            if ready:
                return
            await asyncio.sleep(0.2)
    raise SystemExit(f"services did not start consuming: {wanted}")


async def lapor_pipeline(amqp_url: str, reports: int, workers: int) -> Run:
    """Publish ``reports`` reports on lapor.intake; time their Dispositions' arrival."""
    rng = random.Random(7)
    sent: dict[str, float] = {}
    latencies: list[float] = []
    done = asyncio.Event()
    connection = await aio_pika.connect_robust(amqp_url)
    async with connection:
        sink = await connection.channel()
        await sink.set_qos(prefetch_count=256)
        queue = await sink.get_queue(f"opd.{AGENCY}")

        async def arrive(message: AbstractIncomingMessage) -> None:
            marker = json.loads(message.body)["description"].split("Kode ")[1][:12]
            if marker in sent:
                latencies.append(time.perf_counter() - sent.pop(marker))
            await message.ack()
            if len(latencies) >= reports:
                done.set()

        await queue.consume(arrive)
        publisher = await connection.channel(publisher_confirms=True)
        intake = await publisher.get_exchange("lapor.intake")
        start = time.perf_counter()
        for n in range(reports):
            body = report(n, rng)
            sent[f"BENCH-{n:06d}"] = time.perf_counter()
            await intake.publish(
                aio_pika.Message(
                    json.dumps(body).encode(),
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key="channel.bench",
            )
        try:
            await asyncio.wait_for(done.wait(), timeout=max(120, reports))
        except TimeoutError:
            raise PipelineIncomplete(
                f"only {len(latencies)} of {reports} reports reached opd.{AGENCY}; "
                f"missing: {sorted(sent)[:10]}"
            ) from None
        seconds = time.perf_counter() - start
    return Run(f"LAPOR ({workers} verification)", reports, seconds, latencies)


async def main(reports: int, workers: int) -> None:
    """One benchmark run: LAPOR, then the raw baseline, on the same broker."""
    from services.routing.registry import (
        declare_agency_queues,
        read_registry,
        sample_registry_path,
        save_registry,
    )
    from shared.clock import SystemClock
    from shared.settings import LaporSettings
    from shared.storage import Store

    vhost = None
    amqp_url = os.environ.get("LAPOR_BENCH_AMQP_URL")
    if not amqp_url:
        vhost = f"lapor-bench-{uuid.uuid4().hex[:8]}"
        _rabbitmqctl("add_vhost", vhost)
        _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        amqp_url = f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAPOR_")}
    env |= {
        "LAPOR_AMQP_URL": amqp_url,
        "LAPOR_MONGO_DB": f"lapor_bench_{uuid.uuid4().hex[:8]}",
        "LAPOR_PII_KEY": base64.b64encode(os.urandom(32)).decode(),
        "LAPOR_LOG_LEVEL": "WARNING",
    }
    processes = Processes(env)
    mongo_source = "LAPOR_MONGO_URL"
    if os.environ.get("LAPOR_MONGO_URL"):
        env["LAPOR_MONGO_URL"] = os.environ["LAPOR_MONGO_URL"]
    else:
        port = _free_port()
        processes.start("devdb", "--port", str(port))
        env["LAPOR_MONGO_URL"] = f"mongodb://127.0.0.1:{port}/"
        mongo_source = "lapor devdb stand-in (separate process)"
        await asyncio.sleep(1.5)
    try:
        settings = LaporSettings(
            amqp_url=amqp_url, mongo_url=env["LAPOR_MONGO_URL"], mongo_db=env["LAPOR_MONGO_DB"]
        )
        store = Store.from_settings(settings, "lapor-bench")
        registry = read_registry(sample_registry_path())
        await save_registry(store, registry, SystemClock().now())
        await store.close()
        await declare_agency_queues(
            amqp_url, settings.delivery_limit, [a.code for a in registry.agencies]
        )
        processes.start("run", "intake")
        processes.start("run", "routing")
        for _ in range(workers):
            processes.start("run", "verification")
        await _wait_for_consumers(
            amqp_url, {"intake.reports": 1, "verification.received": workers, "routing.verified": 1}
        )
        try:
            lapor = await lapor_pipeline(amqp_url, reports, workers)
        except PipelineIncomplete as incomplete:
            store = Store.from_settings(settings, "lapor-bench")
            statuses = await store.complaints.aggregate(
                [{"$group": {"_id": "$status", "n": {"$sum": 1}}}]
            )
            print(incomplete, "statuses:", [doc async for doc in statuses])
            async for doc in store.complaints.find(
                {"status": {"$ne": "dispatched"}},
                {"status": 1, "checks": 1, "agency": 1, "external_id": 1, "timeline": 1},
            ):
                print(doc)
            await store.close()
            raise
        cpu = processes.cpu_seconds()
        raw = await raw_three_hops(amqp_url, reports, workers, prefetch=16)
    finally:
        processes.stop()
        if vhost:
            with suppress(subprocess.SubprocessError):
                _rabbitmqctl("delete_vhost", vhost)

    print(
        f"machine: {os.cpu_count()} cores; MongoDB: {mongo_source}; RabbitMQ: {amqp_url.split('@')[-1]}"
    )
    print(HEADER)
    print(lapor.row())
    print(raw.row())
    print(
        "CPU seconds per process during the LAPOR run:",
        ", ".join(f"{name} {seconds:.1f}" for name, seconds in cpu),
    )
    print(
        f"LAPOR / raw: throughput {lapor.reports / lapor.seconds / (raw.reports / raw.seconds):.3f}, "
        f"p50 latency x{lapor.percentile(50) / raw.percentile(50):.1f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=1000)
    parser.add_argument("--verification-workers", type=int, default=2)
    args = parser.parse_args()
    asyncio.run(main(args.reports, args.verification_workers))
