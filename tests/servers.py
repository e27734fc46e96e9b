"""Which RabbitMQ and MongoDB the tests use, chosen once per test session (ARCHITECTURE §7).

1. An explicit ``LAPOR_TEST_AMQP_URL`` / ``LAPOR_TEST_MONGO_URL`` wins.
2. Else testcontainers, when a Docker engine answers.
3. Else RabbitMQ on localhost (a fresh vhost for this session, made with rabbitmqctl)
   and LAPOR's MongoDB stand-in server, started once for the session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from lapor.rabbitmqctl import RabbitmqctlError, rabbitmqctl

LOCAL_AMQP = "amqp://guest:guest@127.0.0.1:5672/"


class ServerUnavailable(RuntimeError):
    """A server the tests need cannot be had."""


@dataclass
class Servers:
    """The chosen servers and how they were chosen."""

    amqp_url: str
    mongo_url: str
    amqp_source: str
    mongo_source: str
    namespace: str
    cleanups: ExitStack = field(default_factory=ExitStack)
    #: The MongoDB stand-in's process ID when the tests started one (the outage test
    #: pauses it); None for a server the tests did not start.
    mongo_pid: int | None = None

    def header(self) -> list[str]:
        """Lines for the pytest header."""
        return [
            f"lapor servers: RabbitMQ = {self.amqp_source}; MongoDB = {self.mongo_source}",
            f"lapor namespace: {self.namespace}",
        ]


def _docker_answers() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
    except Exception:
        return False
    return True


def _rabbitmqctl(*args: str) -> None:
    try:
        rabbitmqctl(*args)
    except RabbitmqctlError as exc:
        raise ServerUnavailable(str(exc)) from None


def _local_vhost(namespace: str, stack: ExitStack) -> str:
    if shutil.which("rabbitmqctl") is None:
        raise ServerUnavailable(
            "no LAPOR_TEST_AMQP_URL, no Docker engine, and no rabbitmqctl to make a test vhost "
            "on the local RabbitMQ: start RabbitMQ (`rabbitmq-server -detached`) or set "
            "LAPOR_TEST_AMQP_URL"
        )
    _rabbitmqctl("add_vhost", namespace)
    stack.callback(_rabbitmqctl, "delete_vhost", namespace)
    _rabbitmqctl("set_permissions", "-p", namespace, "guest", ".*", ".*", ".*")
    return f"{LOCAL_AMQP}{quote(namespace, safe='')}"


def _stand_in_process(stack: ExitStack) -> tuple[str, int]:
    """``lapor devdb`` as its own process (its CPU is not the tests' and services' GIL)."""
    log = stack.enter_context(tempfile.TemporaryFile())  # noqa: SIM115 - closed by the stack
    process = subprocess.Popen(
        [sys.executable, "-m", "lapor", "devdb", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )

    def stop() -> None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    stack.callback(stop)
    assert process.stdout is not None
    # It prints its URL once it answers, or exits (and the line is empty).
    url = process.stdout.readline().strip()
    if not url.startswith("mongodb://"):
        stop()
        log.seek(0)
        said = log.read().decode(errors="replace")[-2000:]
        raise ServerUnavailable(f"the MongoDB stand-in (lapor devdb) did not start: {said}")
    return url, process.pid


def _kinds() -> tuple[str, str]:
    """Which kind of RabbitMQ and of MongoDB to use: ``url``, ``docker`` or ``local``.

    An explicit URL wins; else testcontainers when a Docker engine answers (asked only
    when one of the two needs it); else the local RabbitMQ and the stand-in.
    """
    docker_ok: bool | None = None

    def kind(variable: str) -> str:
        nonlocal docker_ok
        if os.environ.get(variable):
            return "url"
        if docker_ok is None:
            docker_ok = _docker_answers()
        return "docker" if docker_ok else "local"

    return kind("LAPOR_TEST_AMQP_URL"), kind("LAPOR_TEST_MONGO_URL")


def describe() -> list[str]:
    """The header's lines under pytest-xdist, where each worker chooses (and starts) its own.

    The same choice as :func:`select`, made without starting anything.
    """
    amqp_kind, mongo_kind = _kinds()
    amqp = {
        "url": "LAPOR_TEST_AMQP_URL (shared by the workers)",
        "docker": "testcontainers rabbitmq:3.13, one per worker",
        "local": "local 127.0.0.1:5672, a fresh vhost per worker",
    }[amqp_kind]
    mongo = {
        "url": "LAPOR_TEST_MONGO_URL (shared by the workers)",
        "docker": "testcontainers mongo:7, one per worker",
        "local": "LAPOR stand-in server (lapor devdb), one process per worker",
    }[mongo_kind]
    return [
        f"lapor servers (each xdist worker chooses its own): RabbitMQ = {amqp}; MongoDB = {mongo}"
    ]


def select() -> Servers:
    """Choose the servers for this test session (and start what must be started)."""
    namespace = f"lapor-test-{uuid.uuid4().hex[:8]}"
    stack = ExitStack()
    amqp_kind, mongo_kind = _kinds()

    if amqp_kind == "url":
        amqp_url = os.environ["LAPOR_TEST_AMQP_URL"]
        amqp_source = "LAPOR_TEST_AMQP_URL"
    elif amqp_kind == "docker":
        from testcontainers.rabbitmq import RabbitMqContainer

        container: Any = stack.enter_context(RabbitMqContainer("rabbitmq:3.13-management"))
        params = container.get_connection_params()
        amqp_url = f"amqp://guest:guest@{params.host}:{params.port}/"
        amqp_source = "testcontainers rabbitmq:3.13"
    else:
        amqp_url = _local_vhost(namespace, stack)
        amqp_source = f"local 127.0.0.1:5672, vhost {namespace}"

    mongo_pid: int | None = None
    if mongo_kind == "url":
        mongo_url = os.environ["LAPOR_TEST_MONGO_URL"]
        mongo_source = "LAPOR_TEST_MONGO_URL"
    elif mongo_kind == "docker":
        from testcontainers.mongodb import MongoDbContainer

        mongo: Any = stack.enter_context(MongoDbContainer("mongo:7"))
        mongo_url = mongo.get_connection_url()
        mongo_source = "testcontainers mongo:7"
    else:
        mongo_url, mongo_pid = _stand_in_process(stack)
        mongo_source = f"LAPOR stand-in server (lapor devdb) at {mongo_url}"
    return Servers(amqp_url, mongo_url, amqp_source, mongo_source, namespace, stack, mongo_pid)
