"""Serving the portal with uvicorn: ``lapor run portal``, ``python -m services.portal``."""

from __future__ import annotations

from collections.abc import Callable

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


def run(name: str, create_app: Callable[[PortalSettings], FastAPI]) -> None:
    """Serve until SIGINT or SIGTERM."""
    settings = PortalSettings()
    configure_logging(name, settings.log_level)
    server(create_app(settings), settings).run()
