"""What every service process has: broker, store, clock, identity protector, outbox.

One composition root per service (its ``app.py``) calls :func:`build_service` with a
function that registers its subscribers; this module owns start-up and shutdown order:
indexes and topology first, then consuming; on SIGTERM, consuming stops, the message in
hand finishes, then the outbox relay and the database close.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import signal
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast
from urllib.parse import unquote, urlsplit

from aio_pika import DeliveryMode, RobustExchange
from aiormq.exceptions import ChannelInvalidStateError
from faststream import AckPolicy, FastStream
from faststream.message import StreamMessage
from faststream.rabbit import RabbitBroker, RabbitQueue
from faststream.rabbit.message import RabbitMessage
from faststream.rabbit.schemas import Channel
from faststream.rabbit.subscriber import RabbitSubscriber
from pamqp.commands import Basic

from shared import refusals, topology
from shared.calendar import WorkingCalendar
from shared.clock import Clock, SystemClock
from shared.failpoints import Failpoints
from shared.logs import configure_logging
from shared.outage import while_store_down
from shared.outbox import Outbox, OutboxMessage
from shared.pii import IdentityProtector
from shared.refusals import Refusal
from shared.sealed_letters import carries_identity, sealed_body
from shared.sender_check import SenderCheck, queue_of
from shared.senders import ORIGINAL_USER_ID, announce_mode
from shared.settings import LaporSettings
from shared.storage import Store
from shared.unit_of_work import CaseStore, Sender
from shared.vocabulary import Reason

log = logging.getLogger("lapor.runtime")


async def raw_body(message: StreamMessage[Any]) -> bytes:
    """A FastStream decoder that hands the handler the undecoded bytes.

    Services parse bodies themselves with the contract models, so that a malformed
    message is refused with a clear reason (and dead-lettered) instead of crashing
    inside the framework's decoding.
    """
    body: bytes = message.body
    return body


async def _the_message(message: StreamMessage[Any]) -> StreamMessage[Any]:
    """A FastStream decoder that hands the handler the message itself (body undecoded)."""
    return message


#: A service's message handler: the raw body (parsed by the service itself, so that a
#: malformed message is refused with a clear reason) and the message it came in.
Handler = Callable[[bytes, RabbitMessage], Awaitable[None]]
#: A handler that needs the body only.
BodyHandler = Callable[[bytes], Awaitable[None]]
H = TypeVar("H", Handler, BodyHandler)


def service_broker(name: str, settings: LaporSettings) -> RabbitBroker:
    """The broker connection of service ``name``; its subscribers are made by
    :func:`subscribe`, which applies LAPOR's delivery rules (:class:`DeliveryRules`).

    ``apply_types=False``: handlers get the body and the message straight from
    :func:`subscribe`, not through FastDepends, which would validate the arguments and
    resolve the ``message`` parameter in a worker thread (a thread hop per message;
    together 0.4 ms of CPU per delivery, more than the rest of FastStream's work:
    ``python -m bench.framework``). No broker middlewares either: FastStream builds each
    one anew for every delivery and every publish (see :class:`DeliveryRules`).
    """
    return RabbitBroker(
        settings.amqp_url.get_secret_value(),
        default_channel=service_channel(settings.prefetch),
        graceful_timeout=30.0,
        app_id=f"lapor-{name}",
        logger=logging.getLogger(f"lapor.{name}.broker"),
        log_level=logging.DEBUG,
        apply_types=False,
    )


@dataclass(frozen=True, slots=True)
class DeliveryRules:
    """What every delivery of a service passes, around and before its handler.

    A store outage is waited out around everything (the refusal record included:
    :func:`shared.outage.while_store_down`); replays and admin commands from the wrong
    sender never reach a handler (:class:`shared.sender_check.SenderCheck`).

    These run inside :func:`subscribe`'s wrapper rather than as FastStream broker
    middlewares, which FastStream builds anew for every delivery and every publish, each
    adding an async context manager and a call layer: the same checks, in the same order,
    inside the same acknowledgement (``RejectMessage`` / ``AckMessage`` work as before).
    """

    senders: SenderCheck
    #: Set when the service stops: a handler waiting out an outage then gives its message
    #: back instead of waiting on.
    stop: asyncio.Event | None = None


def subscribe(
    broker: RabbitBroker,
    queue: RabbitQueue,
    handler: Handler | BodyHandler,
    rules: DeliveryRules,
    **options: Any,
) -> RabbitSubscriber:
    """Consume ``queue`` into ``handler`` under ``rules``: acked when it returns, nacked
    (redelivered, so the queue's delivery limit dead-letters a poison message) when it
    raises; no reply is ever sent. ``handler`` takes the body and the message, or the body
    only."""
    admit = rules.senders.admit
    stop = rules.stop
    checked: Callable[[RabbitMessage], Awaitable[None]]
    if len(inspect.signature(handler).parameters) == 1:
        body_only = cast(BodyHandler, handler)

        async def checked(message: RabbitMessage) -> None:
            await admit(message)
            await body_only(message.body)

    else:
        with_message = cast(Handler, handler)

        async def checked(message: RabbitMessage) -> None:
            await admit(message)
            await with_message(message.body, message)

    async def deliver(message: RabbitMessage) -> None:
        await while_store_down(functools.partial(checked, message), stop=stop)

    subscriber = broker.subscriber(
        queue,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=_the_message,
        no_reply=True,
        **options,
    )
    subscriber(deliver)
    return subscriber


#: Header a replayed dead letter carries: the routing key it was first published with.
ORIGINAL_ROUTING_KEY = "x-lapor-original-routing-key"


def routing_key_of(message: RabbitMessage) -> str:
    """The key a message was published with, also when it was replayed from dead letters."""
    original = (message.headers or {}).get(ORIGINAL_ROUTING_KEY)
    if isinstance(original, str | bytes) and original:
        return original.decode() if isinstance(original, bytes) else original
    return message.raw_message.routing_key or ""


def sender_of(message: RabbitMessage) -> Sender:
    """Who sent ``message``: the ``user_id`` RabbitMQ checked against the connection.

    A replayed dead letter counts as sent by its original sender (the header ``lapor dlq
    replay`` keeps it in), so a replay never gains a right; the sender check has
    already refused the replay header from anyone but an admin.
    """
    raw = message.raw_message
    if (message.headers or {}).get(ORIGINAL_ROUTING_KEY):
        original = (message.headers or {}).get(ORIGINAL_USER_ID)
        if isinstance(original, bytes):
            original = original.decode("utf-8", "replace")
        return Sender(user_id=original if isinstance(original, str) and original else None)
    user_id = raw.user_id
    return Sender(user_id=str(user_id) if user_id else None)


def broker_user(amqp_url: str) -> str:
    """The broker user a service connects as (RabbitMQ's default when the URL names none)."""
    return unquote(urlsplit(amqp_url).username or "guest")


async def refuse(message: RabbitMessage, reason: Reason | str, **details: object) -> None:
    """Dead-letter a message that can never be processed (no redelivery), with a log."""
    log.warning("message refused", extra={"reason": str(reason), **details})
    await message.reject(requeue=False)


class NotDelivered(RuntimeError):
    """The broker did not take a message: it returned it (no queue, no alternate exchange)
    or refused it (``basic.nack``). The outbox keeps it pending and publishes it again."""


def service_channel(prefetch: int) -> Channel:
    """The channel a service consumes and publishes on: publisher confirms on, and a
    message the broker returns (``basic.return``) raises instead of counting as sent."""
    return Channel(prefetch_count=prefetch, publisher_confirms=True, on_return_raises=True)


class BrokerPublisher:
    """Publishes persistent JSON messages, signed with the service's user, and waits for
    the broker's confirm.

    ``user_id`` is the connection's user, which RabbitMQ verifies, so a consumer knows a
    service sent it. Every exchange has an alternate exchange (``lapor.unroutable``), so a
    message no queue is bound for is kept in ``lapor.unrouted`` instead of being confirmed
    and dropped (``lapor dlq unrouted``).

    A second net, for an exchange that lacks its alternate exchange (declared by hand, or
    by an older LAPOR): messages are ``mandatory``, so RabbitMQ returns an unroutable one
    (``basic.return``, then ``basic.ack``). aio-pika reports a return as the publish's
    *result* unless the channel raises on returns, and FastStream's channels do not by
    default: so only a ``basic.ack`` counts as delivered here, whatever the channel.

    It publishes on the broker's own channel (the one FastStream's ``broker.publish`` uses,
    with its publisher confirms and return handling), straight to the channel with the
    properties ``broker.publish`` would set (``correlation_id``, ``timestamp``, the
    broker's ``app_id``), not through ``broker.publish``: that builds a publish command,
    a middleware object per broker middleware and an aio-pika ``Message`` (whose every
    attribute goes through a checking ``__setattr__``) for each message, about as much
    CPU as the publish itself (``python -m bench.framework``).
    """

    def __init__(self, broker: RabbitBroker, user_id: str | None) -> None:
        self._broker = broker
        self._user_id = user_id
        self._app_id: str | None = broker.config.app_id
        #: The aio-pika exchanges of the broker's channel, by name, as FastStream's own
        #: publish looks them up (a passive declaration the first time).
        self._exchanges: dict[str, RobustExchange] = {}

    async def publish(self, message: OutboxMessage) -> None:
        """Publish one message (raises if the broker does not confirm it)."""
        await self.publish_body(
            message.exchange, message.routing_key, message.payload(), message.message_id
        )

    async def publish_body(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        message_id: str | None,
        headers: dict[str, Any] | None = None,
    ) -> None:
        """Publish ``body`` as it is (raises if the broker does not confirm it)."""
        target = self._exchanges.get(exchange)
        if target is None or target.channel.is_closed:
            # First use, or the broker reconnected since (stop and start: a new channel).
            target = await self._broker.declare_exchange(topology.exchange(exchange))
            self._exchanges[exchange] = target
            if target.channel.is_closed:  # as aio-pika's Exchange.publish refuses
                raise ChannelInvalidStateError(f"{target.channel!r} closed")
        channel = await target.channel.get_underlay_channel()
        confirmed = await channel.basic_publish(
            body,
            exchange=target.name,
            routing_key=routing_key,
            properties=Basic.Properties(
                content_type="application/json",
                delivery_mode=DeliveryMode.PERSISTENT,
                message_id=message_id,
                correlation_id=str(uuid.uuid4()),
                timestamp=datetime.now(UTC),
                user_id=self._user_id,
                app_id=self._app_id,
                # As aio-pika's Message sends them (broker.publish's): an empty table and
                # priority 0 rather than absent properties.
                headers=headers or {},
                priority=0,
            ),
            # The alternate exchange takes what no queue is bound for; mandatory stays as
            # a second net (a return would mean the alternate exchange itself is missing).
            mandatory=True,
        )
        if not isinstance(confirmed, Basic.Ack):
            # A return (the message comes back) or a nack: the broker does not have it.
            raise NotDelivered(
                f"{exchange} {routing_key}: not taken by the broker ({type(confirmed).__name__})"
            )


@dataclass
class ServiceContext:
    """The dependencies a service's handlers use."""

    name: str
    settings: LaporSettings
    broker: RabbitBroker
    store: Store
    clock: Clock
    #: The identity keyring; None in a service that never reads identity (no LAPOR_PII_KEY).
    identity_key: IdentityProtector | None
    outbox: Outbox
    failpoints: Failpoints
    calendar: WorkingCalendar
    cases: CaseStore
    #: What every delivery passes around and before its handler (see :func:`subscribe`).
    rules: DeliveryRules
    background: list[Callable[[asyncio.Event], Coroutine[Any, Any, None]]] = field(
        default_factory=list
    )
    #: Publishes as the service's own broker user (sealed refusals; the outbox has its own).
    publisher: BrokerPublisher | None = None

    def consume(self, spec: topology.QueueSpec, description: str) -> Callable[[H], H]:
        """A decorator that makes a handler consume ``spec`` (see :func:`subscribe`)."""

        def register(handler: H) -> H:
            subscribe(
                self.broker,
                topology.subscription(spec),
                handler,
                self.rules,
                title=spec.name,
                description=description,
            )
            return handler

        return register

    @property
    def protector(self) -> IdentityProtector:
        """The identity protector (only intake and routing have a key to build one with)."""
        if self.identity_key is None:
            raise RuntimeError(f"the {self.name} service has no identity key and reads none")
        return self.identity_key

    async def refuse(self, message: RabbitMessage, reason: Reason | str, **details: object) -> None:
        """Dead-letter ``message`` for good and record why, for ``lapor dlq list``.

        One that names a reporter is dead-lettered sealed (shared/sealed_letters.py).
        """
        if await self.refuse_sealed(message, routing_key_of(message), reason):
            log.warning("message refused", extra={"reason": str(reason), **details})
            return
        raw = message.raw_message
        queue = queue_of(raw.exchange, raw.routing_key or "")
        await self.record_refusal(self._refusal(queue, message, reason), message.body)
        await refuse(message, reason, **details)

    async def refuse_sealed(
        self, message: StreamMessage[Any], routing_key: str, reason: Reason | str
    ) -> bool:
        """Dead-letter a refused message that names a reporter with its body sealed, and
        acknowledge the original; False (nothing done) for any other message, or in a
        service without the identity key."""
        if not carries_identity(routing_key) or self.identity_key is None or not self.publisher:
            return False
        sealed = sealed_body(self.identity_key, message.body, message.message_id)
        await self.record_refusal(self._refusal(topology.SEALED_REFUSALS, message, reason), sealed)
        await self.publisher.publish_body(topology.REFUSED, routing_key, sealed, message.message_id)
        await message.ack()
        return True

    def _refusal(self, queue: str, message: StreamMessage[Any], reason: Reason | str) -> Refusal:
        """Why ``message`` was refused from ``queue``, by whom (its broker-checked user), when."""
        user_id = getattr(message.raw_message, "user_id", None)
        return Refusal(
            queue, message.message_id, str(reason), str(user_id) if user_id else None,
            self.clock.now(),
        )  # fmt: skip

    async def record_refusal(self, refusal: Refusal, body: bytes) -> None:
        """Keep why a message was refused as long as its dead letter is kept."""
        keep = timedelta(hours=self.settings.dead_letter_limits().ttl_hours)
        await refusals.record(self.store.db, refusal, body, keep)

    @property
    def grace(self) -> timedelta:
        """How long a pending outbox entry waits before the relay takes it."""
        return timedelta(seconds=self.settings.outbox_grace_seconds)


@dataclass
class Service:
    """A runnable service: its FastStream app and its context."""

    app: FastStream
    context: ServiceContext

    async def __aenter__(self) -> Service:
        await self.app.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.app.stop()


#: The services that open reporter identity; only they get ``LAPOR_PII_KEY`` (compose).
IDENTITY_READERS = frozenset({"intake", "routing"})


def identity_protector(name: str, settings: LaporSettings) -> IdentityProtector | None:
    """The keyring a service seals and opens identity with (every ``LAPOR_PII_OLD_KEYS``
    key opens, the ``LAPOR_PII_KEY_ID`` one seals); None for a service that reads none.

    A reader without a key refuses to start; another service takes a key it is given
    (``lapor dev`` gives one to all) so that its outbox is sealed too.
    """
    if settings.pii_key is None and name not in IDENTITY_READERS:
        return None
    return IdentityProtector.from_keyring(settings.pii_keyring(), settings.pii_key_id)


def build_service(
    name: str,
    settings: LaporSettings,
    register: Callable[[ServiceContext], None],
    clock: Clock | None = None,
) -> Service:
    """Wire one service: ``register`` adds its subscribers and background loops."""
    policy = settings.sender_policy()
    context_ref: list[ServiceContext] = []
    stop = asyncio.Event()

    async def on_refusal(refusal: Refusal, body: bytes) -> None:
        await context_ref[0].record_refusal(refusal, body)

    async def seal_refused(message: StreamMessage[Any], routing_key: str) -> bool:
        return await context_ref[0].refuse_sealed(message, routing_key, Reason.UNAUTHORISED)

    broker = service_broker(name, settings)
    rules = DeliveryRules(SenderCheck(policy, on_refusal, seal_refused), stop)
    clock = clock or SystemClock()
    store = Store.from_settings(settings, app_name=f"lapor-{name}")
    identity = identity_protector(name, settings)
    publisher = BrokerPublisher(broker, broker_user(settings.amqp_url.get_secret_value()))
    outbox = Outbox(
        store.complaints,
        publisher,
        grace=timedelta(seconds=settings.outbox_grace_seconds),
        protector=identity,
        settle_seconds=min(settings.outbox_settle_seconds, settings.outbox_grace_seconds / 2),
    )
    failpoints = Failpoints(settings.failpoints)
    grace = timedelta(seconds=settings.outbox_grace_seconds)
    context = ServiceContext(
        name=name,
        settings=settings,
        broker=broker,
        store=store,
        clock=clock,
        identity_key=identity,
        outbox=outbox,
        failpoints=failpoints,
        calendar=settings.working_calendar(),
        cases=CaseStore(store.complaints, outbox, failpoints, name, grace),
        rules=rules,
        publisher=publisher,
    )
    context.cases.caps = settings.case_caps()
    context.cases.timers = (settings.sla, context.calendar)
    context_ref.append(context)
    context.background.append(lambda stop: outbox.run(stop, settings.outbox_scan_seconds))
    register(context)

    tasks: list[asyncio.Task[None]] = []

    async def prepare() -> None:
        announce_mode(policy, name, log)
        await store.ensure_indexes()
        await refusals.ensure_indexes(store.db)
        if settings.declare_topology:
            await topology.declare_at(settings.amqp_url.get_secret_value(), settings.delivery_limit)

    async def start_background() -> None:
        stop.clear()
        tasks.extend(asyncio.create_task(loop(stop)) for loop in context.background)
        log.info("service started", extra={"service": name})

    async def stop_background() -> None:
        stop.set()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=30)
        tasks.clear()

    async def close_store() -> None:
        await store.close()
        log.info("service stopped", extra={"service": name})

    app = FastStream(
        broker,
        logger=logging.getLogger(f"lapor.{name}"),
        on_startup=[prepare],
        after_startup=[start_background],
        on_shutdown=[stop_background],
        after_shutdown=[close_store],
    )
    return Service(app, context)


def run(name: str, create: Callable[[], Service]) -> None:
    """Run a service until SIGINT or SIGTERM (the ``python -m services.X`` entry)."""
    settings = LaporSettings()
    configure_logging(name, settings.log_level)
    service = create()
    run_event_loop(serve_until_signalled(service))


def run_event_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` to completion on uvloop where it is installed, else on asyncio's loop.

    uvloop runs the event loop in C (libuv): PyMongo's async client spends about half the
    CPU per command on it, and each AMQP hop a little less (``python -m bench.unit_costs``,
    ``python -m bench.framework``; docs/performance.md). Same asyncio API, so nothing else
    changes; without it (Windows, a trimmed install) the services run as before.
    """
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


async def serve_until_signalled(service: Service) -> None:
    """Start ``service``, wait for SIGINT or SIGTERM, stop it gracefully.

    Waits on an event the signal sets, not through ``FastStream.run``, whose loop wakes ten
    times a second to look for the signal: about 2 ms of CPU a second per idle service,
    half of what a service burns while nothing happens (``/proc/<pid>/stat`` over 30 s).
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with service:
        await stop.wait()
