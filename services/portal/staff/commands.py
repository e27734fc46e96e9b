"""The desks' decisions as contract commands on ``lapor.commands``, sent as the portal.

The acting staff member is always the session's account, passed in by the route; no
form field can name who acts. Messages are persistent JSON with a ``message_id`` and the
AMQP ``user_id`` of the portal's broker user (RabbitMQ checks it against the connection),
published with confirms.
"""

from __future__ import annotations

import uuid
from typing import Protocol
from urllib.parse import unquote, urlsplit

import aio_pika
from aio_pika.abc import AbstractRobustConnection
from pydantic import BaseModel

from shared import topology
from shared.contract import (
    AgencyAction,
    Decision,
    OpdRespond,
    RoutingDispose,
    VerificationDecide,
)
from shared.lifecycle import ArchiveReason, Severity

VERIFICATION_DECIDE = "verification.decide"
ROUTING_DISPOSE = "routing.dispose"
OPD_RESPOND = "opd.respond"


class CommandSender(Protocol):
    """Something that delivers a command to ``lapor.commands``."""

    async def send(self, routing_key: str, command: BaseModel, message_id: str) -> None: ...


def new_message_id() -> str:
    """A fresh command ID."""
    return f"portal:{uuid.uuid4()}"


def broker_user(amqp_url: str) -> str:
    """The user name in an AMQP URL (``guest`` when none is given, as RabbitMQ defaults)."""
    return unquote(urlsplit(amqp_url).username or "guest")


class AmqpCommandSender:
    """Publishes commands over one robust connection with publisher confirms."""

    def __init__(self, amqp_url: str) -> None:
        self._url = amqp_url
        self._user = broker_user(amqp_url)
        self._connection: AbstractRobustConnection | None = None
        self._exchange: aio_pika.abc.AbstractExchange | None = None

    async def start(self) -> None:
        """Connect and find the commands exchange (declared by the topology step)."""
        self._connection = await aio_pika.connect_robust(self._url)
        channel = await self._connection.channel(publisher_confirms=True)
        self._exchange = await channel.get_exchange(topology.COMMANDS, ensure=False)

    async def stop(self) -> None:
        """Close the connection."""
        if self._connection is not None:
            await self._connection.close()

    async def send(self, routing_key: str, command: BaseModel, message_id: str) -> None:
        """Publish and wait for the broker's confirm."""
        if self._exchange is None:
            raise RuntimeError("the command sender is not started")
        await self._exchange.publish(
            aio_pika.Message(
                body=command.model_dump_json(exclude_none=True).encode(),
                content_type="application/json",
                content_encoding="utf-8",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                message_id=message_id,
                user_id=self._user,
                app_id="lapor-portal",
            ),
            routing_key=routing_key,
        )


def verify(
    tracking_id: str,
    admin: str,
    *,
    category: str | None,
    severity: Severity | None,
    anonymous: bool,
    confidential: bool,
    note: str | None = None,
) -> VerificationDecide:
    """Verify, with the anonim / rahasia flags as the admin confirmed them."""
    return VerificationDecide(
        message_id=new_message_id(),
        tracking_id=tracking_id,
        decision=Decision.VERIFY,
        admin=admin,
        category=category or None,
        severity=severity,
        anonymous=anonymous,
        confidential=confidential,
        flags_confirmed=True,
        note=note or None,
    )


def defer(tracking_id: str, admin: str, question: str) -> VerificationDecide:
    """Ask the reporter for more information."""
    return VerificationDecide(
        message_id=new_message_id(),
        tracking_id=tracking_id,
        decision=Decision.DEFER,
        admin=admin,
        question=question,
    )


def not_our_authority(
    tracking_id: str, admin: str, note: str, agency: str | None = None
) -> VerificationDecide:
    """Not for this deployment: hand it to another level (named in the note)."""
    return VerificationDecide(
        message_id=new_message_id(),
        tracking_id=tracking_id,
        decision=Decision.NOT_OUR_AUTHORITY,
        admin=admin,
        note=note,
        agency=agency or None,
    )


def archive(
    tracking_id: str, admin: str, reason: ArchiveReason, note: str | None = None
) -> VerificationDecide:
    """Archive with one of the fixed reasons."""
    return VerificationDecide(
        message_id=new_message_id(),
        tracking_id=tracking_id,
        decision=Decision.ARCHIVE,
        admin=admin,
        archive_reason=reason,
        note=note or None,
    )


def dispose(tracking_id: str, admin: str, agency: str, note: str | None = None) -> RoutingDispose:
    """Route a case to an agency by hand."""
    return RoutingDispose(
        message_id=new_message_id(),
        tracking_id=tracking_id,
        agency=agency,
        admin=admin,
        note=note or None,
    )


def respond(
    tracking_id: str,
    agency: str,
    liaison: str,
    action: AgencyAction,
    *,
    message: str | None = None,
    suggested_agency: str | None = None,
) -> OpdRespond:
    """An agency's answer about a case it holds, by the logged-in liaison."""
    return OpdRespond(
        message_id=new_message_id(),
        tracking_id=tracking_id,
        agency=agency,
        action=action,
        liaison=liaison,
        message=message or None,
        suggested_agency=suggested_agency or None,
    )
