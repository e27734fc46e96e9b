"""The stand-in's listener: the MongoDB wire protocol on a TCP port, answered by the engine."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any, Self

import mockupdb
from pymongo import MongoClient

from lapor_devdb.engine import Document, _Engine

log = logging.getLogger("lapor.devdb")


class _QuietOpMsgReply(mockupdb.OpMsgReply):  # type: ignore[misc]
    """An OP_MSG reply whose repr does not render its documents.

    mockupdb formats every reply for its verbose log before looking whether that log is on;
    rendering the documents took an eighth of the stand-in's time.
    """

    def __repr__(self) -> str:
        return f"{type(self).__name__}(...)"


class StandInMongoServer:
    """The in-memory development stand-in for a MongoDB server, listening on a TCP port."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._engine = _Engine()
        self._server: Any = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        """The ``mongodb://host:port/`` URL to connect to."""
        if self._url is None:
            raise RuntimeError("the stand-in MongoDB server is not running")
        return self._url

    def start(self) -> str:
        """Listen (port 0: a free one) and answer clients from threads; returns the URL."""
        if self._server is not None:
            raise RuntimeError("the stand-in MongoDB server is already running")
        server = mockupdb.MockupDB(port=self._port)
        # mockupdb always binds "localhost"; the address is the only way to choose another.
        server._address = (self._host, self._port)
        server.autoresponds(self._respond)
        port = server.run()
        self._server = server
        # Return only once a client has been answered: a stop() right after start() would
        # otherwise close the socket under mockupdb's accept loop before it has begun.
        probe: MongoClient[Document] = MongoClient(
            f"mongodb://{self._host}:{port}/", serverSelectionTimeoutMS=10_000
        )
        with probe:
            probe.admin.command("ping")
        self._url = f"mongodb://{self._host}:{port}/"
        log.warning(
            "LAPOR development stand-in MongoDB listening on %s: in memory, for development "
            "and tests only, NEVER for production; all its data is lost when it exits",
            self._url,
        )
        return self._url

    def stop(self) -> None:
        """Close the listener and every client connection."""
        if self._server is not None:
            self._server.stop()
        self._server = None
        self._url = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _respond(self, request: Any) -> bool:
        """Answer one request (mockupdb calls this from the connection's thread)."""
        if not isinstance(request, mockupdb.CommandBase):
            # Legacy opcodes (OP_QUERY on a collection, OP_INSERT, ...): no modern driver
            # sends them and they cannot carry an error reply the driver would read.
            log.warning("stand-in MongoDB: hanging up on a legacy %s", type(request).__name__)
            return bool(request.hangup())
        reply = self._engine.execute(request.namespace, dict(request.doc))
        if (
            isinstance(request, mockupdb.OpMsg)
            and request.flags & mockupdb.OP_MSG_FLAGS["moreToCome"]
        ):
            return True  # an unacknowledged (w=0) write: the client reads no reply
        if isinstance(request, mockupdb.OpMsg):
            reply = _QuietOpMsgReply(reply)
        try:
            request.replies(reply)
        except OSError:
            log.info("stand-in MongoDB: a client left before its reply was sent")
        return True


def serve_forever(host: str, port: int, ready: Callable[[str], None] | None = None) -> None:
    """Run a stand-in server on ``host:port`` until SIGINT or SIGTERM; ``ready`` gets its
    URL once it answers (port 0: a free port, so the URL is the way to learn it)."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with StandInMongoServer(host, port) as server:
            log.info("stand-in MongoDB serving on %s; stop it with Ctrl+C", server.url)
            if ready is not None:
                ready(server.url)
            stop.wait()
    finally:
        for sig, handler in previous.items():
            if handler is not None:
                signal.signal(sig, handler)
