"""Test session wiring: servers chosen once (printed in the header), a namespace each run."""

from __future__ import annotations

import asyncio
import base64
import itertools
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from pymongo import AsyncMongoClient

from shared import storage, topology
from shared.pii import IdentityProtector
from shared.settings import IntakeSettings
from shared.storage import Store
from tests import query_shapes
from tests import servers as server_selection

_servers: server_selection.Servers | None = None
_selection_error: str | None = None
_db_counter = itertools.count(1)
PII_KEY = base64.b64encode(os.urandom(32)).decode()


def _needs_servers(config: pytest.Config) -> bool:
    """Servers are started unless every path asked for lies under tests/unit."""
    paths = [str(a).replace("\\", "/") for a in config.args] or ["tests"]
    return not all("tests/unit" in path for path in paths)


def _xdist_controller(config: pytest.Config) -> bool:
    """The pytest-xdist process that only hands tests to its workers (it runs none)."""
    return bool(config.pluginmanager.hasplugin("xdist") and config.getoption("numprocesses"))


def _own_namespace_per_worker() -> bool:
    """Each worker gets its own vhost and MongoDB, unless an explicit URL is shared by all."""
    return not os.environ.get("LAPOR_TEST_AMQP_URL") and not os.environ.get("LAPOR_TEST_MONGO_URL")


def pytest_configure(config: pytest.Config) -> None:
    global _servers, _selection_error
    if not _needs_servers(config) or (
        _xdist_controller(config) and not hasattr(config, "workerinput")
    ):
        return
    # every client the services make records the shapes of its queries and updates
    storage.command_listeners.append(query_shapes.RECORDER)
    try:
        _servers = server_selection.select()
    except Exception as exc:  # reported in the header and by every test that needs a server
        _selection_error = f"{type(exc).__name__}: {exc}"


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under ``-n 2 --dist loadgroup`` (the default) a test marked ``own_worker`` runs on
    a worker of its own beside the rest, which keep their order on the other.

    The store-outage test waits three minutes with next to nothing to do; beside the rest
    it costs no wall time. Every other test keeps running one after another, as they
    assume (the broker users some of them create are the broker's, not the vhost's).
    Each worker has its own vhost and MongoDB; with an explicit, shared URL everything
    stays on one worker.
    """
    apart = _own_namespace_per_worker()
    for item in items:
        own = apart and item.get_closest_marker("own_worker") is not None
        item.add_marker(pytest.mark.xdist_group(item.nodeid if own else "the-rest"))


def pytest_unconfigure(config: pytest.Config) -> None:
    if _servers is not None:
        _servers.cleanups.close()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Write the query shapes the services sent (and merge them where asked to)."""
    if not query_shapes.RECORDER.shapes:
        return
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is not None:
        query_shapes.RECORDER.save(factory.getbasetemp() / "query-shapes.json")
    target = os.environ.get("LAPOR_RECORD_QUERY_SHAPES")
    if target:
        query_shapes.RECORDER.save(Path(target), merge=True)


def pytest_report_header(config: pytest.Config) -> list[str]:
    if _xdist_controller(config) and _needs_servers(config):
        return server_selection.describe()
    if _servers is not None:
        return _servers.header()
    if _selection_error is not None:
        return [f"lapor servers: UNAVAILABLE — {_selection_error}"]
    return ["lapor servers: none needed (unit tests only)"]


@pytest.fixture(scope="session")
def servers() -> server_selection.Servers:
    """The session's RabbitMQ and MongoDB; a clear failure if there are none."""
    if _servers is None:
        pytest.fail(f"no test servers: {_selection_error or 'selection did not run'}")
    return _servers


@pytest.fixture
def db_name(servers: server_selection.Servers) -> str:
    """A fresh database name for one test."""
    return f"{servers.namespace.replace('-', '_')}_{next(_db_counter)}"


@pytest.fixture
def settings(servers: server_selection.Servers, db_name: str) -> IntakeSettings:
    """Settings pointing at the session's servers and this test's database."""
    return make_settings(servers, db_name)


def make_settings(
    servers: server_selection.Servers, db_name: str, **overrides: Any
) -> IntakeSettings:
    """Settings for a service under test (short outbox grace so relays act quickly)."""
    values: dict[str, Any] = {
        "amqp_url": servers.amqp_url,
        "mongo_url": servers.mongo_url,
        "mongo_db": db_name,
        "pii_key": PII_KEY,
        "outbox_grace_seconds": 3.0,
        "outbox_scan_seconds": 0.2,
        "delivery_limit": 3,
        # Every test connection is guest: the services' own sender checks are tested on
        # their own (tests/integration/test_senders.py) with LAPOR_SENDERS=enforce.
        "senders": "open",
        # Load tests send thousands of reports from one channel and one reporter; the rate
        # limits are tested on their own (test_intake.py) with a low limit.
        "rate_limit_per_channel_minute": 1_000_000,
        "rate_limit_per_reporter_hour": 1_000_000,
    }
    return IntakeSettings(**(values | overrides))


def service_env(settings: IntakeSettings, **extra: str) -> dict[str, str]:
    """The environment a service subprocess needs to use the same servers and data."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAPOR_")}
    env |= {
        "LAPOR_AMQP_URL": settings.amqp_url.get_secret_value(),
        "LAPOR_MONGO_URL": settings.mongo_url.get_secret_value(),
        "LAPOR_MONGO_DB": settings.mongo_db,
        "LAPOR_PII_KEY": PII_KEY,
        "LAPOR_OUTBOX_GRACE_SECONDS": str(settings.outbox_grace_seconds),
        "LAPOR_OUTBOX_SCAN_SECONDS": str(settings.outbox_scan_seconds),
        "LAPOR_OUTBOX_SETTLE_SECONDS": str(settings.outbox_settle_seconds),
        "LAPOR_DELIVERY_LIMIT": str(settings.delivery_limit),
        "LAPOR_SENDERS": str(settings.senders),
        "LAPOR_RATE_LIMIT_PER_CHANNEL_MINUTE": str(settings.rate_limit_per_channel_minute),
        "LAPOR_RATE_LIMIT_PER_REPORTER_HOUR": str(settings.rate_limit_per_reporter_hour),
    }
    return env | extra


def start_service(name: str, settings: IntakeSettings, **env: str) -> subprocess.Popen[bytes]:
    """``python -m services.<name>`` as its own process, on the test's servers and data."""
    return subprocess.Popen(
        [sys.executable, "-m", f"services.{name}"],
        env=service_env(settings, **env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def wait_exit(process: subprocess.Popen[bytes], timeout: float = 60) -> int:
    """The exit code of ``process``; fails the test if it does not exit in ``timeout``."""
    for _ in range(int(timeout * 10)):
        if process.poll() is not None:
            return process.returncode
        await asyncio.sleep(0.1)
    process.kill()
    raise AssertionError("the service process did not exit")


@pytest.fixture
def protector() -> IdentityProtector:
    """The identity protector with the tests' key."""
    return IdentityProtector(base64.b64decode(PII_KEY))


@pytest.fixture
async def amqp(servers: server_selection.Servers) -> AsyncIterator[aio_pika.abc.AbstractConnection]:
    """A plain aio-pika connection, as an outside system has; the topology is declared
    and every service queue is empty when the test starts."""
    connection = await aio_pika.connect_robust(servers.amqp_url)
    channel = await connection.channel()
    await topology.declare(channel, delivery_limit=3)
    for spec in topology.QUEUES:
        await (await channel.get_queue(spec.name)).purge()
    await channel.close()
    yield connection
    await connection.close()


@pytest.fixture
async def store(settings: IntakeSettings) -> AsyncIterator[Store]:
    """The test's database, through the real async driver."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongo_url.get_secret_value(), tz_aware=True
    )
    the_store = Store(client, settings.mongo_db)
    yield the_store
    await client.drop_database(settings.mongo_db)
    await client.close()


@pytest.fixture(autouse=True)
def _mark_needs_marker(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test says what kind it is: unit, integration or e2e."""
    kinds = {"unit", "integration", "e2e"} & {m.name for m in request.node.iter_markers()}
    if not kinds:
        pytest.fail("test has no unit / integration / e2e marker")
    yield
