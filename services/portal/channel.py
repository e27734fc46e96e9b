"""The portal as a channel: it publishes reports and commands, and keeps intake's notices.

Reports go to ``lapor.intake`` ``channel.web`` / ``channel.open311``; replies to
``lapor.commands`` ``reporter.reply``. Every publish is persistent, confirmed, and carries
the AMQP ``user_id`` of the portal's broker user (RabbitMQ checks it against the
connection; the services authorise on it). Notices arrive on the portal's own queues
(``portal.web``, ``portal.open311``) and are kept without their recipient.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from typing import Any
from urllib.parse import unquote, urlsplit

from faststream import AckPolicy
from faststream.rabbit import RabbitBroker
from pydantic import ValidationError

from services.portal.store import PortalStore
from shared import topology
from shared.contract import Notification
from shared.runtime import BrokerPublisher, raw_body, service_channel

log = logging.getLogger("lapor.portal.channel")


def broker_user(amqp_url: str) -> str | None:
    """The user name in an AMQP URL (``guest`` when it names none, as RabbitMQ assumes)."""
    parts = urlsplit(amqp_url)
    return unquote(parts.username) if parts.username else "guest"


class Publisher:
    """Publishes the portal's messages: persistent JSON, confirmed, with ``user_id``, through
    the services' own publisher (shared/runtime.py ``BrokerPublisher``)."""

    def __init__(self, broker: RabbitBroker, user_id: str | None) -> None:
        self._publisher = BrokerPublisher(broker, user_id)

    async def publish(
        self,
        exchange: str,
        routing_key: str,
        body: dict[str, Any],
        message_id: str,
        headers: dict[str, Any] | None = None,
    ) -> None:
        """Publish one message; raises if the broker does not take it (a nack, or a return
        because no queue and no alternate exchange took it): only a ``basic.ack`` counts,
        so the page says "not sent, send again" instead of "sent" for a message the broker
        dropped."""
        await self._publisher.publish_body(
            exchange,
            routing_key,
            json.dumps(body, ensure_ascii=False).encode(),
            message_id,
            headers,
        )


class NoticeBoard:
    """Intake's notices for the portal's channels, stored and awaited by external ID."""

    def __init__(self, store: PortalStore) -> None:
        self._store = store
        self._arrived: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)

    async def keep(self, body: bytes) -> None:
        """Store one notice (idempotent by message ID) and wake whoever waits for it."""
        try:
            notice = Notification.model_validate_json(body)
        except ValidationError as exc:
            # A notice the portal cannot read is a bug upstream: dead-letter it, with why.
            log.warning("unreadable notice", extra={"errors": exc.error_count()})
            raise
        await self._store.notices.update_one(
            {"_id": notice.message_id},
            {
                "$setOnInsert": {
                    "tracking_id": notice.tracking_id,
                    "channel": notice.channel,
                    "external_id": notice.in_reply_to,
                    "event": notice.event,
                    "status": str(notice.status),
                    "text": notice.text,
                    "occurred_at": notice.occurred_at,
                }
            },
            upsert=True,
        )
        if notice.in_reply_to is not None:
            self._arrived[notice.in_reply_to].set()

    async def tracking_id_for(self, channel: str, external_id: str) -> str | None:
        """The tracking ID intake gave a report, if it has answered (notice or case)."""
        notice = await self._store.notices.find_one(
            {"channel": channel, "external_id": external_id}, {"tracking_id": 1}
        )
        if notice is not None:
            return str(notice["tracking_id"])
        case = await self._store.complaints.find_one(
            {"channel": channel, "external_id": external_id}, {"_id": 1}
        )
        return None if case is None else str(case["_id"])

    async def wait_for_tracking_id(
        self, channel: str, external_id: str, timeout: float
    ) -> str | None:
        """The tracking ID of a report, waiting up to ``timeout`` seconds for intake."""
        event = self._arrived[external_id]
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while True:
                found = await self.tracking_id_for(channel, external_id)
                remaining = deadline - loop.time()
                if found is not None or remaining <= 0:
                    return found
                event.clear()
                # The notice wakes us; the re-check covers a notice taken by another replica.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), timeout=min(remaining, 0.5))
        finally:
            self._arrived.pop(external_id, None)


def make_broker(amqp_url: str, prefetch: int) -> RabbitBroker:
    """The portal's broker connection (publisher confirms on; a returned message raises)."""
    return RabbitBroker(
        amqp_url,
        default_channel=service_channel(prefetch),
        graceful_timeout=15.0,
        app_id="lapor-portal",
        logger=logging.getLogger("lapor.portal.broker"),
        log_level=logging.DEBUG,
    )


def subscribe_notices(broker: RabbitBroker, board: NoticeBoard) -> None:
    """Consume the portal's own ``lapor.outbound`` queues into ``board``."""
    for spec in (topology.PORTAL_WEB, topology.PORTAL_OPEN311):

        @broker.subscriber(
            topology.subscription(spec),
            ack_policy=AckPolicy.NACK_ON_ERROR,
            decoder=raw_body,
            no_reply=True,
            title=spec.name,
            description="Intake's notices to reporters on the portal's channels",
        )
        async def on_notice(body: bytes) -> None:
            await board.keep(body)
