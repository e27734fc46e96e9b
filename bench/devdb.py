"""Benchmark: what the store commands of one report cost the MongoDB stand-in, by data size.

Starts ``lapor devdb`` as its own process (as the tests and bench/pipeline.py do), fills it
with N realistic stored cases (the indexes of ``Store.ensure_indexes``), then times, from
one ``AsyncMongoClient``, the commands one report costs, as the services send them:

- intake: the look-up by (channel, external_id), then ``insert_one`` of the case;
- verification: the guarded ``$set`` of terms and keys, the duplicate look-up by
  ``dedup_keys`` (sorted by ``received_at``, with a limit), the guarded status update;
- the outbox: its scan (``find_one_and_update`` sorted by ``outbox_due_at``, limit 1) and the
  two updates that take delivered messages off;
- escalation: its scan of ``escalation.next_at`` (sorted, limit 1) and a timer update.

Prints milliseconds per command (median) and per report, and the stand-in's CPU per report.

    .venv/bin/python bench/devdb.py --sizes 100 20000 --reports 200 [--json]

``LAPOR_MONGO_URL`` set: measure that server instead (e.g. a real MongoDB 7).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient, ReturnDocument

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared.storage import Store

OPEN = ["needs_review", "received", "verified", "dispatched", "forwarded", "followed_up"]
WORDS = [f"kata{i}" for i in range(400)]
NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def case(n: int, rng: random.Random, received_at: datetime) -> dict[str, Any]:
    """A stored case about as big as intake and verification make one."""
    terms = sorted(rng.sample(WORDS, 12))
    status = rng.choice(["dispatched", "closed", "resolved", "archived", *OPEN])
    doc: dict[str, Any] = {
        "_id": f"C{n:07d}",
        "tracking_id": f"C{n:07d}",
        "channel": "web",
        "external_id": f"ext-{n}",
        "kind": "pengaduan",
        "title": "Jalan berlubang",
        "description": " ".join(rng.sample(WORDS, 30)),
        "reporter": {"sealed": "x" * 120, "fingerprints": [f"fp-{n % 5000}"], "has_contact": True},
        "status": status,
        "received_at": received_at,
        "submitted_at": received_at,
        "updated_at": received_at,
        "deadlines": {"verification": received_at + timedelta(days=3)},
        "text_terms": terms,
        "dedup_keys": terms[:3],
        "timeline": [
            {"at": received_at, "step": "receive", "actor": "system", "to": "received"},
            {"at": received_at, "step": "verify", "actor": "system", "to": "verified"},
        ],
        "applied": [],
        "outbox": [],
    }
    if status in OPEN:
        # timers in the future: the scan finds nothing due, as on most of its rounds
        doc["escalation"] = {"next_at": NOW + timedelta(hours=rng.randrange(1, 2000)), "live": True}
    return doc


class Timings:
    """Seconds per command kind."""

    def __init__(self) -> None:
        self.seconds: dict[str, list[float]] = defaultdict(list)

    async def time(self, name: str, command: Callable[[], Awaitable[Any]]) -> Any:
        """Run ``command`` and note how long it took."""
        start = time.perf_counter()
        result = await command()
        self.seconds[name].append(time.perf_counter() - start)
        return result


async def one_report(store: Store, n: int, rng: random.Random, timings: Timings) -> None:
    """The store commands of one report through intake, verification, outbox and escalation."""
    complaints = store.complaints
    tracking_id = f"N{n:07d}"
    received_at = NOW - timedelta(seconds=n)
    fresh = case(n, rng, received_at) | {
        "_id": tracking_id,
        "tracking_id": tracking_id,
        "external_id": f"new-{n}",
        "status": "received",
        "outbox": [{"message_id": f"m-{n}", "body": {}}],
        "outbox_due_at": NOW + timedelta(seconds=5),
    }
    fresh.pop("escalation", None)
    await timings.time(
        "intake: find by channel+external_id",
        lambda: complaints.find_one(
            {"channel": "web", "external_id": fresh["external_id"]}, {"_id": 1, "reporter": 1}
        ),
    )
    await timings.time("intake: insert_one", lambda: complaints.insert_one(fresh))
    await timings.time(
        "outbox: $pull delivered + $unset due",
        lambda: _deliver(complaints, tracking_id, f"m-{n}"),
    )
    await timings.time(
        "verification: find_one by _id",
        lambda: complaints.find_one({"_id": tracking_id}, {"raw_sealed": 0, "outbox": 0}),
    )
    await timings.time(
        "verification: guarded $set keys",
        lambda: complaints.update_one(
            {"_id": tracking_id, "status": "received"},
            {"$set": {"text_terms": fresh["text_terms"], "dedup_keys": fresh["dedup_keys"]}},
        ),
    )
    window = {
        "_id": {"$ne": tracking_id},
        "status": {"$in": OPEN},
        "received_at": {"$gte": received_at - timedelta(days=30), "$lte": received_at},
    }
    await timings.time(
        "verification: duplicate look-up",
        lambda: complaints.find(
            {"dedup_keys": {"$in": fresh["dedup_keys"]}} | window,
            {"received_at": 1, "text_terms": 1},
            sort=[("received_at", -1)],
            limit=20,
        ).to_list(),
    )
    await timings.time(
        "verification: guarded status update",
        lambda: complaints.update_one(
            {"_id": tracking_id, "status": {"$in": ["received"]}, "applied": {"$ne": f"c-{n}"}},
            {
                "$set": {"status": "verified", "outbox_due_at": NOW + timedelta(seconds=5)},
                "$push": {
                    "applied": f"c-{n}",
                    "timeline": {"at": NOW, "step": "verify", "actor": "system"},
                    "outbox": {"message_id": f"v-{n}", "body": {}},
                },
            },
        ),
    )
    await timings.time(
        "outbox: $pull delivered + $unset due",
        lambda: _deliver(complaints, tracking_id, f"v-{n}"),
    )
    await timings.time(
        "outbox: scan (sorted, limit 1)",
        lambda: complaints.find_one_and_update(
            {"outbox_due_at": {"$lte": NOW}},
            {"$set": {"outbox_due_at": NOW + timedelta(seconds=5)}},
            sort=[("outbox_due_at", 1)],
            projection={"outbox": 1},
            return_document=ReturnDocument.AFTER,
        ),
    )
    await timings.time(
        "escalation: next_at scan (sorted, limit 1)",
        lambda: complaints.find_one_and_update(
            {"escalation.next_at": {"$lte": NOW}},
            {"$set": {"escalation.next_at": NOW + timedelta(minutes=5)}},
            sort=[("escalation.next_at", 1)],
            projection={"status": 1, "escalation": 1},
            return_document=ReturnDocument.AFTER,
        ),
    )
    await timings.time(
        "escalation: set timer",
        lambda: complaints.update_one(
            {"_id": tracking_id, "status": "verified"},
            {"$set": {"escalation": {"next_at": NOW + timedelta(days=3), "live": True}}},
        ),
    )


async def _deliver(complaints: Any, tracking_id: str, message_id: str) -> None:
    await complaints.update_one(
        {"_id": tracking_id}, {"$pull": {"outbox": {"message_id": {"$in": [message_id]}}}}
    )
    await complaints.update_one(
        {"_id": tracking_id, "outbox": {"$size": 0}}, {"$unset": {"outbox_due_at": ""}}
    )


async def measure(url: str, size: int, reports: int, pid: int | None) -> dict[str, Any]:
    """Fill a fresh database with ``size`` cases, then time ``reports`` reports' commands."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url, tz_aware=True)
    store = Store(client, f"bench_devdb_{uuid.uuid4().hex[:8]}")
    try:
        await store.ensure_indexes()
        rng = random.Random(size)
        start = time.perf_counter()
        for first in range(0, size, 1000):
            batch = [
                case(n, rng, NOW - timedelta(days=60) + timedelta(seconds=n * 7))
                for n in range(first, min(size, first + 1000))
            ]
            await store.complaints.insert_many(batch)
        fill = time.perf_counter() - start
        timings = Timings()
        for n in range(10):  # warm up (connections, caches)
            await one_report(store, size + 1_000_000 + n, rng, Timings())
        cpu_before = _cpu_seconds(pid) if pid else 0.0
        start = time.perf_counter()
        for n in range(reports):
            await one_report(store, size + n, rng, timings)
        wall = time.perf_counter() - start
        cpu = (_cpu_seconds(pid) - cpu_before) if pid else float("nan")
        await client.drop_database(store.db.name)
    finally:
        await client.close()
    return {
        "stored_cases": size,
        "reports": reports,
        "fill_seconds": round(fill, 2),
        "ms_per_report": round(wall / reports * 1000, 2),
        "stand_in_cpu_ms_per_report": round(cpu / reports * 1000, 2),
        "median_ms": {
            name: round(statistics.median(values) * 1000, 3)
            for name, values in timings.seconds.items()
        },
    }


def _start_stand_in() -> tuple[subprocess.Popen[str], str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "lapor", "devdb", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    if not url.startswith("mongodb://"):
        process.kill()
        raise SystemExit("the stand-in (lapor devdb) did not start")
    return process, url


async def main(sizes: list[int], reports: int, as_json: bool) -> None:
    results = []
    for size in sizes:
        url = os.environ.get("LAPOR_MONGO_URL")
        process = None
        if not url:
            process, url = _start_stand_in()  # a fresh one per size: nothing carried over
        try:
            results.append(await measure(url, size, reports, process.pid if process else None))
        finally:
            if process is not None:
                process.terminate()
                process.wait(timeout=10)
    if as_json:
        print(json.dumps(results, indent=2))
        return
    names = list(results[0]["median_ms"])
    print(f"{'median ms per command':<46}" + "".join(f"{r['stored_cases']:>12,}" for r in results))
    for name in names:
        print(f"{name:<46}" + "".join(f"{r['median_ms'][name]:>12.3f}" for r in results))
    print(
        f"{'wall ms per report (all commands)':<46}"
        + "".join(f"{r['ms_per_report']:>12.2f}" for r in results)
    )
    print(
        f"{'stand-in CPU ms per report':<46}"
        + "".join(f"{r['stand_in_cpu_ms_per_report']:>12.2f}" for r in results)
    )
    print(f"{'fill seconds':<46}" + "".join(f"{r['fill_seconds']:>12.1f}" for r in results))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 20_000])
    parser.add_argument("--reports", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.sizes, args.reports, args.json))
