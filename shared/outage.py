"""Riding out a store outage without burning a message's deliveries.

A quorum queue counts every delivery; after ``LAPOR_DELIVERY_LIMIT`` of them the message
is dead-lettered. If a handler nacked each message while MongoDB was down, a long enough
outage would turn every message in flight into a dead letter. Instead the consumer keeps
the message and runs the (idempotent) handler again, waiting longer each time, until the
store answers: :func:`while_store_down`, which :func:`shared.runtime.subscribe` runs around
every handler (and the sender check before it). Only errors that mean "the store is
unreachable" are waited out; any other error still nacks, so a poison message is still
bounded.

RabbitMQ closes a channel whose message stays unacknowledged longer than its
``consumer_timeout`` (30 minutes by default); an outage longer than that is redelivered
once per timeout, not once per retry.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from pymongo.errors import ConnectionFailure

log = logging.getLogger("lapor.outage")

T = TypeVar("T")
#: What "the store is unreachable" looks like to PyMongo: no server selected, the network
#: failed, no primary. (Subclasses: AutoReconnect, NetworkTimeout, NotPrimaryError,
#: ServerSelectionTimeoutError, WaitQueueTimeoutError.)
STORE_UNREACHABLE: tuple[type[BaseException], ...] = (ConnectionFailure,)


class StoppedWhileStoreDown(Exception):
    """The process is stopping and the store is still unreachable: give the message back."""


async def while_store_down(
    action: Callable[[], Awaitable[T]],
    *,
    stop: asyncio.Event | None = None,
    first_wait: float = 0.5,
    longest_wait: float = 30.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """``await action()``, again and again with growing waits while the store is down."""
    wait = first_wait
    attempt = 0
    while True:
        try:
            return await action()
        except STORE_UNREACHABLE as exc:
            attempt += 1
            if stop is not None and stop.is_set():
                raise StoppedWhileStoreDown(type(exc).__name__) from None
            log.warning(
                "store unreachable; message kept, trying again",
                extra={"attempt": attempt, "retry_in": wait, "error": type(exc).__name__},
            )
            await sleep(wait)
            wait = min(wait * 2, longest_wait)
