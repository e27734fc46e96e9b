"""The services' event loop: uvloop where it is installed (it is a dependency on Linux)."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from shared.runtime import run_event_loop

pytestmark = pytest.mark.unit


def test_a_service_runs_on_uvloop() -> None:
    loops: list[str] = []

    async def main() -> None:
        loops.append(type(asyncio.get_running_loop()).__module__.split(".")[0])

    run_event_loop(main())
    assert loops == ["uvloop"]


def test_a_signal_handler_works_on_the_services_loop() -> None:
    """What ``serve_until_signalled`` relies on: SIGTERM sets the event it waits for."""

    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(stop.wait(), timeout=10)
        asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)

    run_event_loop(main())
