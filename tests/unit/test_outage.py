"""A store outage is waited out, not turned into dead letters."""

from __future__ import annotations

import asyncio

import pytest
from pymongo.errors import AutoReconnect, OperationFailure, ServerSelectionTimeoutError

from shared.outage import StoppedWhileStoreDown, while_store_down

pytestmark = pytest.mark.unit


class Flaky:
    """A handler whose store is down for the first ``down`` calls."""

    def __init__(self, down: int, error: Exception) -> None:
        self.down, self.error, self.calls = down, error, 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.down:
            raise self.error
        return "stored"


async def test_the_handler_runs_again_with_growing_waits_until_the_store_answers() -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    handler = Flaky(down=8, error=ServerSelectionTimeoutError("no primary"))
    result = await while_store_down(handler, first_wait=0.5, longest_wait=4, sleep=sleep)
    assert result == "stored" and handler.calls == 9
    assert waits == [0.5, 1, 2, 4, 4, 4, 4, 4]  # 3 minutes of outage would be ~45 tries


async def test_other_errors_are_not_waited_out() -> None:
    handler = Flaky(down=1, error=OperationFailure("bad update"))
    with pytest.raises(OperationFailure):
        await while_store_down(handler, sleep=_no_wait)
    assert handler.calls == 1  # nacked at once: a poison message stays bounded


async def test_a_stopping_process_gives_the_message_back() -> None:
    stop = asyncio.Event()
    stop.set()
    handler = Flaky(down=5, error=AutoReconnect("connection reset"))
    with pytest.raises(StoppedWhileStoreDown):
        await while_store_down(handler, stop=stop, sleep=_no_wait)
    assert handler.calls == 1


async def _no_wait(_: float) -> None:
    return None
