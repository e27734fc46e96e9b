"""Benchmark: reports through intake → verification → routing → an agency queue.

All four services run as separate processes (``lapor run …``, each wrapped by
``bench.probe`` to count the MongoDB commands it sends) against the real broker,
persistent messages and publisher confirms on; escalation and intake's status relay
take every event too. In the same run, on the same broker and at the same offered load,
raw aio-pika does the same three hops (bench/baseline.py), so the ratio between the two
means something on a noisy machine. Latency is from the publish on ``lapor.intake`` to
the Disposition's arrival on ``opd.<code>``, in this process (one clock).

    nice -n 10 .venv/bin/python bench/pipeline.py --reports 1000 --rate 20 --json

What it reports: throughput and p50/p95/p99 latency for both; CPU seconds per process
and CPU ms per report (services, stand-in, raw relays, and the local broker and this
process: their sum sets the most reports/s the machine can take); MongoDB commands per
report, by service and command; and, every ``--checkpoint`` arrivals, the services' CPU
per report over that stretch (flat, or growing with the stored cases?). CPU time, not wall time, is
the figure that survives a busy machine.

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
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.baseline import (
    HEADER,
    ROOT,
    Run,
    cpu_seconds,
    local_broker_pid,
    paced,
    raw_three_hops,
)

AGENCY = "pupr-palembang"
#: Processes whose CPU is sampled beside the services' and is not theirs: the stand-in,
#: the local broker and this benchmark's own process (publisher and sink).
NOT_SERVICES = frozenset({"devdb", "broker", "bench"})
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
WARM_UP = "BENCH-WARMUP"  # 12 characters, as the reports' markers
SERVICE_QUEUES = (
    "intake.reports",
    "intake.status-relay",
    "verification.received",
    "routing.verified",
    "escalation.events",
)
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


def log(text: str) -> None:
    """Progress on stderr, at once (a long run in the background shows how far it got)."""
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


class PipelineIncomplete(RuntimeError):
    """Not every report reached the agency queue in time."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _rabbitmqctl(*args: str) -> str:
    executable = shutil.which("rabbitmqctl")
    if executable is None:
        raise SystemExit("rabbitmqctl not found: set LAPOR_BENCH_AMQP_URL")
    done = subprocess.run([executable, *args], check=True, capture_output=True, timeout=60)
    return done.stdout.decode()


@dataclass
class Process:
    """One process of the run."""

    name: str
    popen: subprocess.Popen[bytes]
    counts: Path | None  # where bench.probe writes its command counts

    @property
    def service(self) -> bool:
        """A LAPOR service (not the stand-in)."""
        return self.counts is not None


class Processes:
    """The processes of one run; stopped with SIGTERM at the end."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env = env
        self.workdir = workdir
        self.running: list[Process] = []
        #: Processes not started here whose CPU is sampled too: name → pid.
        self.watched: dict[str, int] = {}

    def start(self, name: str, *args: str, probe: bool = True) -> Process:
        """Start ``lapor ARGS`` (through bench.probe if ``probe``), output to a log file."""
        counts = self.workdir / f"{name}.counts.json" if probe else None
        command = [
            sys.executable,
            "-m",
            *(["bench.probe", str(counts)] if counts else ["lapor.cli"]),
        ]
        with (self.workdir / f"{name}.log").open("wb") as out:
            popen = subprocess.Popen(
                [*command, *args], env=self.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
            )
        process = Process(name, popen, counts)
        self.running.append(process)
        return process

    def cpu(self) -> dict[str, float]:
        """CPU seconds each process has used so far."""
        return {p.name: cpu_seconds(p.popen.pid) for p in self.running} | {
            name: cpu_seconds(pid) for name, pid in self.watched.items()
        }

    @property
    def services(self) -> list[Process]:
        """The service processes."""
        return [p for p in self.running if p.service]

    async def mark_ready(self) -> None:
        """Have every service snapshot its command counts (start-up left out); wait for it."""
        for process in self.services:
            process.popen.send_signal(signal.SIGUSR1)
        for _ in range(300):
            if all(self._ready(p).exists() for p in self.services):
                return
            await asyncio.sleep(0.1)
        raise SystemExit("services did not write their command counts on SIGUSR1")

    @staticmethod
    def _ready(process: Process) -> Path:
        assert process.counts is not None
        return process.counts.with_name(process.counts.name + ".ready")

    def commands(self) -> dict[str, dict[str, int]]:
        """Per service, the MongoDB commands sent between ``mark_ready`` and the exit."""
        result = {}
        for process in self.services:
            assert process.counts is not None
            final = Counter(json.loads(process.counts.read_text()))
            final.subtract(json.loads(self._ready(process).read_text()))
            result[process.name] = {k: v for k, v in sorted(final.items()) if v}
        return result

    def stop(self) -> None:
        """SIGTERM to every process (services first, the stand-in last), then wait."""
        for process in sorted(self.running, key=lambda p: not p.service):
            with suppress(ProcessLookupError):
                process.popen.send_signal(signal.SIGTERM)
            try:
                process.popen.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.popen.kill()


async def _list_queues(vhost: str, column: str) -> dict[str, int] | None:
    """``column`` of every queue in ``vhost``, or None if rabbitmqctl does not answer.

    rabbitmqctl, because a quorum queue's declare-ok reports no consumers and its message
    count leaves out unacknowledged ones; but the CLI can fail on a busy machine (every
    CLI call is an Erlang node, and their distribution ports run out), so nothing here
    depends on it alone.
    """
    try:
        listing = await asyncio.to_thread(
            _rabbitmqctl,
            "list_queues", "-p", vhost, "name", column, "--quiet", "--no-table-headers",
        )  # fmt: skip
    except (subprocess.SubprocessError, SystemExit):
        return None
    rows = (line.split() for line in listing.splitlines() if line.strip())
    return {row[0]: int(row[1]) for row in rows if len(row) == 2}


async def _wait_for_port(port: int) -> None:
    for _ in range(300):
        with suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        await asyncio.sleep(0.1)
    raise SystemExit(f"the stand-in did not listen on port {port}")


async def _ready_messages(amqp_url: str) -> dict[str, int]:
    """Messages ready (not those in a consumer's hands) in each service queue, over AMQP."""
    connection = await aio_pika.connect_robust(amqp_url)
    async with connection:
        channel = await connection.channel()
        counts = {}
        for name in SERVICE_QUEUES:
            queue = await channel.declare_queue(name, passive=True)
            counts[name] = queue.declaration_result.message_count or 0
        return counts


async def _purge(amqp_url: str) -> None:
    """Empty the service queues and the agency queue of a reused benchmark vhost."""
    connection = await aio_pika.connect_robust(amqp_url)
    async with connection:
        channel = await connection.channel()
        for name in (*SERVICE_QUEUES, f"opd.{AGENCY}"):
            queue = await channel.declare_queue(name, passive=True)
            await queue.purge()


async def _drained(vhost: str | None, amqp_url: str, timeout: float) -> str:
    """Wait until no service queue holds a message; how that was known ('' if it was not).

    The barrier after the last arrival: escalation and intake's status relay may still be
    working through events, and their CPU belongs to the reports. rabbitmqctl counts
    unacknowledged messages too; without it, three empty readings in a row over AMQP.
    """
    deadline = time.monotonic() + timeout
    empty_readings = 0
    while time.monotonic() < deadline:
        left = await _list_queues(vhost, "messages") if vhost else None
        if left is not None:
            if all(left.get(name, 1) == 0 for name in SERVICE_QUEUES):
                return "rabbitmqctl: no message ready or unacknowledged"
        else:
            ready = await _ready_messages(amqp_url)
            empty_readings = empty_readings + 1 if not any(ready.values()) else 0
            if empty_readings >= 3:
                return "AMQP: no message ready, three readings 1 s apart"
        await asyncio.sleep(1)
    return ""


@dataclass
class Checkpoint:
    """CPU seconds of every process when ``arrived`` reports had reached the agency queue."""

    arrived: int
    elapsed: float
    cpu: dict[str, float]


@dataclass
class LaporRun:
    """What the LAPOR side of a run measured."""

    run: Run
    checkpoints: list[Checkpoint] = field(default_factory=list)


async def lapor_pipeline(
    amqp_url: str,
    reports: int,
    rate: float,
    workers: int,
    processes: Processes,
    checkpoint_every: int,
    timeout: float,
    in_flight: int,
    prepare: Callable[[], Awaitable[None]],
) -> LaporRun:
    """Publish ``reports`` reports on lapor.intake at ``rate``; time their Dispositions."""
    rng = random.Random(7)
    sent: dict[str, float] = {}
    latencies: list[float] = []
    done = asyncio.Event()
    # --in-flight: at most this many reports published and not yet arrived, so that the
    # checkpoints' CPU belongs to the reports that arrived in between (no backlog ahead).
    window = asyncio.Semaphore(in_flight) if in_flight else None
    result = LaporRun(Run(f"LAPOR ({workers} verification)", reports, 0.0, latencies))
    connection = await aio_pika.connect_robust(amqp_url)
    async with connection:
        sink = await connection.channel()
        await sink.set_qos(prefetch_count=256)
        queue = await sink.get_queue(f"opd.{AGENCY}")
        start = time.perf_counter()

        def sample(arrived: int) -> None:
            point = Checkpoint(arrived, time.perf_counter() - start, processes.cpu())
            if result.checkpoints:
                last = result.checkpoints[-1]
                stretch = arrived - last.arrived
                per = {
                    name: (point.cpu[name] - last.cpu[name]) / stretch * 1000 for name in point.cpu
                }
                services = _services(per)
                log(
                    f"{arrived}/{reports} arrived, {point.elapsed:.0f} s; CPU ms/report over the "
                    f"last {stretch}: services {services:.1f}, "
                    + ", ".join(f"{k} {v:.1f}" for k, v in per.items())
                )
            result.checkpoints.append(point)

        async def arrive(message: AbstractIncomingMessage) -> None:
            marker = json.loads(message.body)["description"].split("Kode ")[1][:12]
            if marker == WARM_UP:
                warm.set()
            elif marker in sent:
                latencies.append(time.perf_counter() - sent.pop(marker))
                if window:
                    window.release()
                if len(latencies) % checkpoint_every == 0 and len(latencies) < reports:
                    sample(len(latencies))
            await message.ack()
            if len(latencies) >= reports:
                done.set()

        await queue.consume(arrive)
        publisher = await connection.channel(publisher_confirms=True)
        intake = await publisher.get_exchange("lapor.intake")

        async def send(n: int) -> None:
            if window:
                await window.acquire()
            body = json.dumps(report(n, rng)).encode()
            sent[f"BENCH-{n:06d}"] = time.perf_counter()
            await intake.publish(
                aio_pika.Message(
                    body,
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key="channel.bench",
            )

        # The barrier before timing: one report through intake, verification and routing
        # proves all three consume (and pays their one-time costs: lazy imports, the
        # holiday tables) before anything is measured.
        warm = asyncio.Event()
        warm_up = report(0, random.Random(0)) | {"external_id": "bench-warm-up"}
        warm_up["description"] = str(warm_up["description"]).split("Kode ")[0] + (
            f"Kode {WARM_UP}."
        )
        await intake.publish(
            aio_pika.Message(json.dumps(warm_up).encode(), content_type="application/json"),
            routing_key="channel.bench",
        )
        await asyncio.wait_for(warm.wait(), timeout=300)
        await prepare()
        sample(0)
        start = time.perf_counter()
        result.checkpoints[0].elapsed = 0.0
        await paced(reports, rate, send)
        log(f"all {reports} published in {time.perf_counter() - start:.0f} s")
        try:
            await asyncio.wait_for(done.wait(), timeout=timeout)
        except TimeoutError:
            raise PipelineIncomplete(
                f"only {len(latencies)} of {reports} reports reached opd.{AGENCY} in "
                f"{time.perf_counter() - start:.0f} s"
            ) from None
        result.run.seconds = time.perf_counter() - start
        sample(reports)
    return result


def _services(cpu: dict[str, float]) -> float:
    """The services' share of per-process CPU figures."""
    return sum(v for k, v in cpu.items() if k not in NOT_SERVICES)


def _per_report(cpu: dict[str, float], reports: int) -> dict[str, float]:
    return {name: round(seconds / reports * 1000, 2) for name, seconds in cpu.items()}


def summarise(
    lapor: LaporRun,
    raw: Run,
    raw_cpu: dict[str, float],
    cpu: dict[str, float],
    commands: dict[str, dict[str, int]],
    context: dict[str, Any],
) -> dict[str, Any]:
    """Everything the run measured, as one JSON-able document."""
    reports = lapor.run.reports
    service_ms = _services(cpu) / reports * 1000
    raw_ms = raw_cpu["relays"] / raw.reports * 1000
    # Every process sampled (services, stand-in, broker, this one): 1000 ms x cores over
    # this is the most reports per second the machine could take at this cost.
    whole = {
        "lapor": round(sum(cpu.values()) / reports * 1000, 2),
        "raw": round(sum(raw_cpu.values()) / raw.reports * 1000, 2),
    }
    flatness = []
    for before, after in zip(lapor.checkpoints, lapor.checkpoints[1:], strict=False):
        stretch = after.arrived - before.arrived
        delta = {k: after.cpu[k] - before.cpu[k] for k in after.cpu}
        flatness.append(
            {
                "arrivals": [before.arrived, after.arrived],
                "services_cpu_ms_per_report": round(_services(delta) / stretch * 1000, 2),
                "cpu_ms_per_report": _per_report(delta, stretch),
            }
        )
    total_commands = sum(sum(c.values()) for c in commands.values())
    return context | {
        "lapor": lapor.run.summary(),
        "raw": raw.summary(),
        "cpu_seconds": {k: round(v, 2) for k, v in cpu.items()},
        "cpu_ms_per_report": _per_report(cpu, reports),
        "services_cpu_ms_per_report": round(service_ms, 2),
        "raw_cpu_ms_per_report": round(raw_ms, 3),
        "services_over_raw_cpu": round(service_ms / raw_ms, 1) if raw_ms else None,
        "raw_cpu_ms_per_report_by_process": _per_report(raw_cpu, raw.reports),
        "every_process_cpu_ms_per_report": whole,
        "ceiling_reports_per_s": {
            k: round(1000 * (os.cpu_count() or 1) / v, 1) if v else None for k, v in whole.items()
        },
        "store_commands": commands,
        "store_commands_per_report": {
            "total": round(total_commands / reports, 2),
            **{s: round(sum(c.values()) / reports, 2) for s, c in commands.items()},
        },
        "flatness": flatness,
    }


def print_table(result: dict[str, Any], lapor: Run, raw: Run) -> None:
    """The human-readable summary."""
    print(
        f"machine: {os.cpu_count()} cores; MongoDB: {result['mongo']}; "
        f"offered load: {result['rate'] or 'as fast as confirms allow'} reports/s"
    )
    print(HEADER)
    print(lapor.row())
    print(raw.row())
    print(
        "CPU ms per report:",
        ", ".join(f"{k} {v}" for k, v in result["cpu_ms_per_report"].items()),
        f"| services {result['services_cpu_ms_per_report']}, raw aio-pika relays "
        f"{result['raw_cpu_ms_per_report']} (x{result['services_over_raw_cpu']})",
    )
    whole, ceiling = result["every_process_cpu_ms_per_report"], result["ceiling_reports_per_s"]
    print(
        "every process's CPU ms per report (services, stand-in, broker, benchmark): "
        f"LAPOR {whole['lapor']}, raw {whole['raw']} (raw by process: "
        + ", ".join(f"{k} {v}" for k, v in result["raw_cpu_ms_per_report_by_process"].items())
        + f"); at that cost {os.cpu_count()} cores take at most {ceiling['lapor']} reports/s "
        f"(raw {ceiling['raw']})"
    )
    if result["idle_cpu_ms_per_s"]:
        print(
            "idle CPU ms per second:",
            ", ".join(f"{k} {v}" for k, v in result["idle_cpu_ms_per_s"].items()),
        )
    per = result["store_commands_per_report"]
    print(
        f"store commands per report: {per['total']} (",
        ", ".join(
            f"{s} {per[s]}: " + " ".join(f"{c}={n / lapor.reports:.2f}" for c, n in cmds.items())
            for s, cmds in result["store_commands"].items()
        ),
        ")",
    )
    for row in result["flatness"]:
        print(
            f"arrivals {row['arrivals'][0]:>6}–{row['arrivals'][1]:<6} services CPU ms/report "
            f"{row['services_cpu_ms_per_report']:>7}  "
            + " ".join(f"{k}={v}" for k, v in row["cpu_ms_per_report"].items())
        )
    print(
        f"LAPOR / raw: throughput {lapor.reports / lapor.seconds / (raw.reports / raw.seconds):.3f}, "
        f"p50 latency x{lapor.percentile(50) / raw.percentile(50):.1f}"
    )


class Profilers:
    """py-spy recording every process of the run (``--profile DIR``)."""

    def __init__(self, directory: Path | None, rate: int) -> None:
        self.directory = directory
        self.rate = rate
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self, processes: Processes) -> None:
        """Attach one ``py-spy record`` to each process (non-blocking: it does not pause them)."""
        if self.directory is None:
            return
        py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        self.directory.mkdir(parents=True, exist_ok=True)
        for process in processes.running:
            self.running.append(
                subprocess.Popen(
                    [py_spy, "record", "--nonblocking", "--rate", str(self.rate), "--format", "raw",
                     "--pid", str(process.popen.pid), "-o", str(self.directory / f"{process.name}.txt")],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )  # fmt: skip

    def stop(self) -> None:
        """SIGINT makes py-spy write its profile."""
        for profiler in self.running:
            profiler.send_signal(signal.SIGINT)
        for profiler in self.running:
            profiler.wait(timeout=60)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    """One benchmark run: raw aio-pika, then LAPOR, on the same broker at the same load."""
    from services.routing.registry import (
        declare_agency_queues,
        read_registry,
        sample_registry_path,
        save_registry,
    )
    from shared.clock import SystemClock
    from shared.settings import LaporSettings
    from shared.storage import Store

    created = False
    amqp_url = os.environ.get("LAPOR_BENCH_AMQP_URL", "")
    # rabbitmqctl counts consumers and unacknowledged messages; it needs the vhost's name.
    vhost = unquote(urlsplit(amqp_url).path[1:]) or "/"
    if not amqp_url:
        created = True
        vhost = f"lapor-bench-{uuid.uuid4().hex[:8]}"
        try:
            _rabbitmqctl("add_vhost", vhost)
            _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        except subprocess.SubprocessError as exc:
            raise SystemExit(
                f"rabbitmqctl could not create a vhost ({exc}); create one and set "
                "LAPOR_BENCH_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/<vhost>"
            ) from None
        amqp_url = f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    workdir = Path(tempfile.mkdtemp(prefix="lapor-bench-"))
    log(f"work directory (service logs, command counts): {workdir}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAPOR_")}
    env |= {
        "LAPOR_AMQP_URL": amqp_url,
        "LAPOR_MONGO_DB": f"lapor_bench_{uuid.uuid4().hex[:8]}",
        "LAPOR_PII_KEY": base64.b64encode(os.urandom(32)).decode(),
        "LAPOR_LOG_LEVEL": args.log_level,
        "LAPOR_SENDERS": "open",  # the benchmark publishes as guest, not as channel-bench
        # One benchmark channel carries a whole province's load: past the default 600 a
        # minute every further report would be quarantined as rate_limited and never arrive.
        "LAPOR_RATE_LIMIT_PER_CHANNEL_MINUTE": "1000000",
    }
    processes = Processes(env, workdir)
    processes.watched["bench"] = os.getpid()
    broker = local_broker_pid() if urlsplit(amqp_url).hostname in _LOCAL_HOSTS else None
    if broker is not None:
        processes.watched["broker"] = broker
    else:
        log("no local RabbitMQ process to read: the broker's CPU is left out")
    profilers = Profilers(args.profile, args.profile_rate)
    try:
        log(f"raw aio-pika: {args.reports} messages, 3 hops, at {args.rate or 'max'}/s")
        raw, raw_cpu = await raw_three_hops(
            amqp_url,
            args.reports,
            args.verification_workers,
            prefetch=16,
            rate=args.rate,
            watched=processes.watched,
        )
        log(
            f"raw: {raw.row().strip()}; relays' CPU "
            f"{raw_cpu['relays'] / raw.reports * 1000:.2f} ms/report"
        )

        mongo = "LAPOR_MONGO_URL"
        if os.environ.get("LAPOR_MONGO_URL"):
            env["LAPOR_MONGO_URL"] = os.environ["LAPOR_MONGO_URL"]
        else:
            port = _free_port()
            processes.start("devdb", "devdb", "--port", str(port), probe=False)
            env["LAPOR_MONGO_URL"] = f"mongodb://127.0.0.1:{port}/"
            mongo = "lapor devdb stand-in (separate process)"
            await _wait_for_port(port)
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
        if not created and vhost.startswith("lapor-bench-"):
            await _purge(amqp_url)  # a benchmark vhost left by an earlier run: start empty
        processes.start("intake", "run", "intake")
        processes.start("routing", "run", "routing")
        processes.start("escalation", "run", "escalation")
        for n in range(args.verification_workers):
            processes.start(f"verification{n + 1}", "run", "verification")
        idle: dict[str, float] = {}

        async def prepare() -> None:
            """After the warm-up: counts from here, idle CPU, profilers."""
            await processes.mark_ready()
            if args.idle_seconds > 0:
                # What the processes burn with nothing to do (outbox and escalation scans,
                # driver monitors, heartbeats): a cost per second, so per report it grows
                # as throughput falls.
                log(f"measuring idle CPU for {args.idle_seconds:.0f} s")
                before = processes.cpu()
                await asyncio.sleep(args.idle_seconds)
                after = processes.cpu()
                idle.update(
                    {k: round((after[k] - before[k]) / args.idle_seconds * 1000, 1) for k in after}
                )
                log("idle CPU ms per second: " + ", ".join(f"{k} {v}" for k, v in idle.items()))
            profilers.start(processes)

        log(f"LAPOR: {args.reports} reports at {args.rate or 'max'}/s")
        try:
            lapor = await lapor_pipeline(
                amqp_url,
                args.reports,
                args.rate,
                args.verification_workers,
                processes,
                args.checkpoint,
                args.timeout,
                args.in_flight,
                prepare,
            )
        except PipelineIncomplete as incomplete:
            log(f"{incomplete}; the checkpoints above are what this run measured")
            raise SystemExit(2) from None
        # rabbitmqctl speaks to the local default node: only for the vhost made there.
        drained = await _drained(vhost if created else None, amqp_url, timeout=300)
        log(f"service queues drained ({drained})" if drained else "queues NOT drained in time")
        cpu_end = processes.cpu()
        cpu = {k: cpu_end[k] - lapor.checkpoints[0].cpu[k] for k in cpu_end}
        profilers.stop()
        processes.stop()
        commands = processes.commands()
    finally:
        with suppress(Exception):
            profilers.stop()
        processes.stop()
        if created:
            try:
                _rabbitmqctl("delete_vhost", vhost)
            except subprocess.SubprocessError:
                log(f"could not delete vhost {vhost}: delete it with rabbitmqctl delete_vhost")

    result = summarise(
        lapor,
        raw,
        raw_cpu,
        cpu,
        commands,
        {
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "cores": os.cpu_count(),
            "mongo": mongo,
            "rate": args.rate,
            "in_flight": args.in_flight,
            "verification_workers": args.verification_workers,
            "drained": drained,
            "idle_cpu_ms_per_s": idle,
        },
    )
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result, lapor.run, raw)
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=1000)
    parser.add_argument(
        "--rate", type=float, default=20.0, help="offered load, reports/s (0: as fast as possible)"
    )
    parser.add_argument("--verification-workers", type=int, default=1)
    parser.add_argument(
        "--in-flight",
        type=int,
        default=0,
        help="at most N reports published and not yet arrived (0: open loop, the default)",
    )
    parser.add_argument(
        "--checkpoint", type=int, default=1000, help="sample CPU every N arrivals (flatness)"
    )
    parser.add_argument(
        "--timeout", type=float, default=3600, help="seconds after the last publish to give up"
    )
    parser.add_argument(
        "--idle-seconds", type=float, default=10, help="measure idle CPU this long first"
    )
    parser.add_argument("--log-level", default="WARNING", help="the services' LAPOR_LOG_LEVEL")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--profile", type=Path, help="record each process with py-spy into this directory"
    )
    parser.add_argument("--profile-rate", type=int, default=50, help="py-spy samples per second")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
