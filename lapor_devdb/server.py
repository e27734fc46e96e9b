"""The stand-in's listener: the MongoDB wire protocol on a TCP port, answered by the engine.

One asyncio loop in one thread serves every connection: it reads a whole message, has the
engine answer it and writes the reply. The engine is plain Python and holds the GIL while it
works, so threads per connection (mockupdb's way, with a lock around every request) bought
no parallelism and cost about half of the stand-in's time in locking, thread switches and
message objects.

Messages: ``OP_MSG`` (every command of a modern driver, including unacknowledged writes,
which get no reply) and ``OP_QUERY`` on ``<db>.$cmd`` (the first handshake, answered with
``OP_REPLY``). Anything else closes the connection, as a real server does with what it
cannot parse. Compression is never offered, so no ``OP_COMPRESSED`` arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import struct
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Self

import bson
from bson.errors import BSONError

from lapor_devdb.engine import Document, _Engine

log = logging.getLogger("lapor.devdb")

_HEADER = struct.Struct("<iiii")  # messageLength, requestID, responseTo, opCode
_OP_REPLY, _OP_QUERY, _OP_MSG = 1, 2004, 2013
_CHECKSUM_PRESENT, _MORE_TO_COME = 0x1, 0x2
_MAX_MESSAGE = 48_000_000 + 16 * 1024 * 1024


class _BadMessage(Exception):
    """A message this server cannot read: the connection is closed."""


def _cstring(data: bytes, start: int) -> tuple[str, int]:
    end = data.index(b"\x00", start)
    return data[start:end].decode(), end + 1


def _bson_at(data: bytes, start: int) -> tuple[Document, int]:
    (size,) = struct.unpack_from("<i", data, start)
    document: Document = bson.decode(data[start : start + size])
    return document, start + size


def parse_op_msg(body: bytes) -> tuple[Document, int]:
    """The command of an ``OP_MSG`` (document sequences folded in) and its flags."""
    (flags,) = struct.unpack_from("<I", body, 0)
    end = len(body) - (4 if flags & _CHECKSUM_PRESENT else 0)
    position = 4
    command: Document | None = None
    sequences: dict[str, list[Document]] = {}
    while position < end:
        kind = body[position]
        position += 1
        if kind == 0:
            command, position = _bson_at(body, position)
        elif kind == 1:
            (size,) = struct.unpack_from("<i", body, position)
            section_end = position + size
            identifier, position = _cstring(body, position + 4)
            documents = sequences.setdefault(identifier, [])
            while position < section_end:
                document, position = _bson_at(body, position)
                documents.append(document)
        else:
            raise _BadMessage(f"OP_MSG section kind {kind}")
    if command is None:
        raise _BadMessage("OP_MSG without a body")
    command.update(sequences)
    return command, flags


def parse_op_query(body: bytes) -> tuple[str, Document]:
    """(database, command) of an ``OP_QUERY`` on ``<db>.$cmd``."""
    namespace, position = _cstring(body, 4)
    database, _, collection = namespace.partition(".")
    if collection != "$cmd":
        raise _BadMessage(f"legacy OP_QUERY on {namespace}")
    query, _ = _bson_at(body, position + 8)  # after numberToSkip and numberToReturn
    if "$query" in query:  # a read preference wraps the command
        query = query["$query"]
    return database, query


def op_msg_reply(request_id: int, reply: Document) -> bytes:
    """An ``OP_MSG`` answering ``request_id``."""
    payload = b"\x00\x00\x00\x00\x00" + bson.encode(reply)  # no flags, one body section
    return _HEADER.pack(16 + len(payload), 0, request_id, _OP_MSG) + payload


def op_reply(request_id: int, reply: Document) -> bytes:
    """An ``OP_REPLY`` (to a legacy ``OP_QUERY``) answering ``request_id``."""
    payload = struct.pack("<iqii", 0, 0, 0, 1) + bson.encode(reply)
    return _HEADER.pack(16 + len(payload), 0, request_id, _OP_REPLY) + payload


class StandInMongoServer:
    """The in-memory development stand-in for a MongoDB server, listening on a TCP port."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._engine = _Engine()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._url: str | None = None

    @property
    def url(self) -> str:
        """The ``mongodb://host:port/`` URL to connect to."""
        if self._url is None:
            raise RuntimeError("the stand-in MongoDB server is not running")
        return self._url

    def start(self) -> str:
        """Listen (port 0: a free one) and answer clients from a thread; returns the URL."""
        if self._thread is not None:
            raise RuntimeError("the stand-in MongoDB server is already running")
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(self._serve, self._host, self._port)
                )
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="lapor-devdb", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = self._loop = None
            raise failure[0]
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        self._url = f"mongodb://{self._host}:{port}/"
        log.warning(
            "LAPOR development stand-in MongoDB listening on %s: in memory, for development "
            "and tests only, NEVER for production; all its data is lost when it exits",
            self._url,
        )
        return self._url

    def stop(self) -> None:
        """Close the listener and every client connection."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def close() -> None:
            if self._server is not None:
                self._server.close()
            for writer in list(self._writers):
                writer.close()
            # Each connection's handler ends before the loop stops: one left pending would
            # be collected after the loop closed, and complain.
            handlers = asyncio.all_tasks() - {asyncio.current_task()}
            for handler in handlers:
                handler.cancel()
            if handlers:
                await asyncio.wait(handlers, timeout=5)
            loop.stop()

        asyncio.run_coroutine_threadsafe(close(), loop)
        thread.join(timeout=10)
        self._loop = self._thread = self._server = None
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

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer one client connection until it closes."""
        self._writers.add(writer)
        try:
            while True:
                try:
                    header = await reader.readexactly(16)
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                length, request_id, _, op_code = _HEADER.unpack(header)
                if not 16 < length <= _MAX_MESSAGE:
                    log.warning("stand-in MongoDB: hanging up on a message of %d bytes", length)
                    return
                body = await reader.readexactly(length - 16)
                try:
                    reply = self._answer(request_id, op_code, body)
                except (_BadMessage, BSONError, ValueError, IndexError, struct.error) as exc:
                    log.warning("stand-in MongoDB: hanging up on a message it cannot read: %s", exc)
                    return
                if reply is not None:
                    writer.write(reply)
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            log.info("stand-in MongoDB: a client left before its reply was sent")
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _answer(self, request_id: int, op_code: int, body: bytes) -> bytes | None:
        """The reply to one message (None: the client reads none)."""
        if op_code == _OP_MSG:
            command, flags = parse_op_msg(body)
            database = command.pop("$db", "admin")
            reply = self._engine.execute(database, command)
            if flags & _MORE_TO_COME:
                return None  # an unacknowledged (w=0) write
            return op_msg_reply(request_id, reply)
        if op_code == _OP_QUERY:
            database, command = parse_op_query(body)
            return op_reply(request_id, self._engine.execute(database, command))
        # Legacy opcodes (OP_INSERT, ...): no modern driver sends them, and they cannot
        # carry an error reply the driver would read.
        raise _BadMessage(f"legacy opcode {op_code}")


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
