"""Serving the portal with uvicorn: ``lapor run portal``, ``python -m services.portal``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Iterator

import uvicorn
from fastapi import FastAPI

from services.portal.settings import PortalSettings
from shared.logs import configure_logging


def server(app: FastAPI, settings: PortalSettings) -> uvicorn.Server:
    """A uvicorn server for ``app`` on the configured address.

    Uvicorn's access log is off: it records client addresses and query strings, which may
    identify a reporter; the portal logs what it needs itself.
    """
    config = uvicorn.Config(
        app,
        host=settings.portal_host,
        port=settings.portal_port,
        access_log=False,
        log_config=None,
        server_header=False,
        proxy_headers=True,
        timeout_graceful_shutdown=15,
    )
    return uvicorn.Server(config)


class EmbeddedServer(uvicorn.Server):
    """A uvicorn server inside a process that owns its signals (``lapor dev``, tests)."""

    task: asyncio.Task[None] | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Leave SIGINT/SIGTERM to the host process; it stops the server by ``should_exit``."""
        yield

    async def serve_here(self) -> None:
        """Serve; uvicorn exits the process when it cannot start, here the host decides."""
        try:
            await self.serve()
        except SystemExit:
            logging.getLogger("lapor.portal").error("the portal could not start")


async def start_embedded(
    app: FastAPI, settings: PortalSettings, timeout: float = 30.0
) -> EmbeddedServer:
    """Start serving ``app`` in this event loop; ``RuntimeError`` if it does not start
    (the port is taken, the broker or database does not answer)."""
    embedded = EmbeddedServer(server(app, settings).config)
    embedded.task = asyncio.create_task(embedded.serve_here())
    for _ in range(int(timeout / 0.05)):
        if embedded.started or embedded.task.done():
            break
        await asyncio.sleep(0.05)
    if not embedded.started:
        await stop_embedded(embedded)
        raise RuntimeError(
            f"the portal did not start on {settings.portal_host}:{settings.portal_port}"
        )
    return embedded


async def stop_embedded(embedded: EmbeddedServer) -> None:
    """Stop a server started by :func:`start_embedded` and wait until it has."""
    embedded.should_exit = True
    if embedded.task is not None:
        await embedded.task


async def _serve_until_signal(app: FastAPI, settings: PortalSettings) -> None:
    embedded = EmbeddedServer(server(app, settings).config)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        # A first signal finishes the requests in hand; a second one cuts them short.
        loop.add_signal_handler(sig, embedded.handle_exit, sig, None)
    await embedded.serve()


def run(name: str, create_app: Callable[[PortalSettings], FastAPI]) -> None:
    """Serve until SIGINT or SIGTERM, then exit 0 like the other services."""
    settings = PortalSettings()
    configure_logging(name, settings.log_level)
    asyncio.run(_serve_until_signal(create_app(settings), settings))
