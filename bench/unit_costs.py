"""Unit costs behind the pipeline's CPU per report, measured in this process.

    nice -n 10 .venv/bin/python -m bench.unit_costs [--loop asyncio|uvloop|both]

- the client CPU of one PyMongo command (``find_one`` / ``update_one`` by ``_id``, and an
  update that matches nothing) against a ``lapor devdb`` stand-in process (or
  ``LAPOR_MONGO_URL``);
- the CPU of one ``anyio.to_thread.run_sync`` of a trivial call: what FastStream spends
  per message to resolve a handler's ``message`` parameter (a ``Context`` field);

on asyncio's own event loop, on uvloop (the services' loop, ``shared.runtime``), or both.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio.to_thread
import uvloop
from pymongo import AsyncMongoClient

ROUNDS = 1000


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _per_call(call: Callable[[], Awaitable[Any]]) -> tuple[float, float]:
    """CPU and wall milliseconds per call, after a warm-up."""
    for _ in range(50):
        await call()
    cpu, wall = _cpu(), time.perf_counter()
    for _ in range(ROUNDS):
        await call()
    return (_cpu() - cpu) / ROUNDS * 1000, (time.perf_counter() - wall) / ROUNDS * 1000


async def command_costs(url: str) -> None:
    """Print the client CPU of a few single-document commands."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url, tz_aware=True)
    complaints = client["lapor_unit_costs"]["complaints"]
    await complaints.delete_many({})
    await complaints.insert_one({"_id": "X", "status": "received", "n": 0, "outbox": []})
    shapes: dict[str, Callable[[], Awaitable[Any]]] = {
        "find_one by _id": lambda: complaints.find_one({"_id": "X"}, {"status": 1}),
        "update_one by _id": lambda: complaints.update_one({"_id": "X"}, {"$inc": {"n": 1}}),
        "update_one matching nothing": lambda: complaints.update_one(
            {"_id": None}, {"$pull": {"outbox": {"message_id": {"$in": ["a"]}}}}
        ),
    }
    for label, call in shapes.items():
        cpu, wall = await _per_call(call)
        print(f"{label}: client CPU {cpu:.3f} ms per command (wall {wall:.2f} ms)")
    await client.drop_database("lapor_unit_costs")
    await client.close()


async def thread_hop_cost() -> None:
    """Print the CPU of one trip to an anyio worker thread and back."""

    def use(**kwargs: Any) -> dict[str, Any]:
        return kwargs

    cpu, _ = await _per_call(lambda: anyio.to_thread.run_sync(use))
    print(f"anyio.to_thread.run_sync of a trivial call: {cpu * 1000:.0f} µs CPU per call")


async def main() -> None:
    """Measure against LAPOR_MONGO_URL, or a stand-in started for the purpose."""
    url = os.environ.get("LAPOR_MONGO_URL")
    stand_in = None
    if not url:
        port = _free_port()
        stand_in = subprocess.Popen(  # noqa: ASYNC220 - once, before anything is timed
            [sys.executable, "-m", "lapor.cli", "devdb", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"mongodb://127.0.0.1:{port}/"
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                await asyncio.sleep(0.1)
    try:
        await command_costs(url)
        await thread_hop_cost()
    finally:
        if stand_in is not None:
            stand_in.terminate()
            stand_in.wait(timeout=30)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loop", choices=["asyncio", "uvloop", "both"], default="both")
    loops = ["asyncio", "uvloop"] if (chosen := parser.parse_args().loop) == "both" else [chosen]
    for loop in loops:
        print(f"--- {loop}")
        if loop == "uvloop":
            uvloop.run(main())
        else:
            asyncio.run(main())
