"""Who may act: the sender of a message and what that sender may do — pure, no IO.

Every channel adapter, agency system and console connects to RabbitMQ as its own user,
and stamps each message with the AMQP ``user_id`` property; RabbitMQ refuses a publish
whose ``user_id`` is not the connection's user, so the property names the sender
reliably. The services authorise on it with this table:

=====================================  ==================================================
message                                accepted from
=====================================  ==================================================
report on ``channel.<name>``           ``channel-<name>``; the portal for ``web``/``open311``;
                                       an admin user resubmitting a quarantined report
                                       of that channel (:func:`may_resubmit`)
``verification.decide``                an admin user (``LAPOR_ADMIN_USERS``)
``routing.dispose``                    an admin user
``routing.extension``                  an admin user
``oversight.acknowledge``              an admin user (the portal, for oversight staff)
``opd.respond``                        ``opd-<code>`` for a case ``<code>`` holds; the portal
``reporter.reply``                     the case's own channel user; the portal for web cases
the replay header                      an admin user (``lapor dlq replay``)
=====================================  ==================================================

A replayed dead letter (``lapor dlq replay``) is published by an admin and carries the
original routing key and sender in headers (:func:`origin_of`); it is authorised as its
original sender, so replaying never turns a refused forgery into an admin's command.

``LAPOR_SENDERS=open`` (a laptop's ``lapor dev`` / ``lapor demo`` only) also accepts
messages from senders that are not one of LAPOR's users (no ``user_id``, or ``guest``)
as any role; a message that does name a LAPOR user is held to that user's role even
then. Everything else runs ``enforce``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

#: The reason a refused message is dead-lettered with (``lapor dlq list`` shows it).
UNAUTHORISED = "unauthorised"

#: Header a replayed dead letter carries: the routing key it was first published with.
ORIGINAL_ROUTING_KEY = "x-lapor-original-routing-key"
#: Header a replayed dead letter carries: the ``user_id`` it was first published with
#: (absent when it had none). Replaying makes the admin the message's ``user_id``, so the
#: services authorise a replay on this header instead: a replay never gains a right.
ORIGINAL_USER_ID = "x-lapor-original-user-id"

#: The ``message_id`` of a corrected quarantined report an admin resubmits:
#: ``resubmit:<quarantine id>`` (intake's quarantine IDs are ``q-<hex>``).
RESUBMIT_PREFIX = "resubmit:"
#: Header of a resubmission: the staff member who corrected it (from the portal's session).
RESUBMITTED_BY = "x-lapor-resubmitted-by"
_QUARANTINE_ID = re.compile(r"^q-[0-9a-f]{32}$")

CHANNEL_PREFIX = "channel-"
AGENCY_PREFIX = "opd-"
PORTAL_USER = "lapor-portal"
ADMIN_USER = "lapor-admin"
#: The services' own broker users (deploy/rabbitmq/definitions.json).
SERVICE_USERS = frozenset(
    {"lapor-intake", "lapor-verification", "lapor-routing", "lapor-escalation"}
)
#: Channels whose reports the portal submits on the citizens' behalf.
PORTAL_CHANNELS = frozenset({"web", "open311"})

DECIDE = "verification.decide"
DISPOSE = "routing.dispose"
#: The admin grants or refuses an agency's extension request (issue 12).
EXTENSION = "routing.extension"
RESPOND = "opd.respond"
REPLY = "reporter.reply"
#: An oversight office took note of an escalation notice (the portal sends it).
ACKNOWLEDGE = "oversight.acknowledge"
ADMIN_COMMANDS = frozenset({DECIDE, DISPOSE, EXTENSION, ACKNOWLEDGE})


class SendersMode(StrEnum):
    """``LAPOR_SENDERS``: whether unauthenticated senders are refused."""

    ENFORCE = "enforce"
    OPEN = "open"


class Role(StrEnum):
    """What a broker user is, read from its name."""

    CHANNEL = "channel"
    AGENCY = "agency"
    ADMIN = "admin"
    PORTAL = "portal"
    SERVICE = "service"
    #: No ``user_id``, or a user that is none of LAPOR's (``guest`` on a laptop).
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Sender:
    """The broker user a message came from, and what that user is."""

    user_id: str | None
    role: Role
    #: The channel name of a ``channel-<name>`` user, the agency code of ``opd-<code>``.
    name: str | None = None


@dataclass(frozen=True)
class SenderPolicy:
    """How strictly senders are checked, and who the admins are."""

    mode: SendersMode = SendersMode.ENFORCE
    admin_users: frozenset[str] = field(
        default_factory=lambda: frozenset({ADMIN_USER, PORTAL_USER})
    )
    portal_user: str = PORTAL_USER
    portal_channels: frozenset[str] = PORTAL_CHANNELS
    service_users: frozenset[str] = SERVICE_USERS

    @property
    def is_open(self) -> bool:
        """True when unauthenticated senders are accepted (laptop dev and demo only)."""
        return self.mode is SendersMode.OPEN

    def sender(self, user_id: str | bytes | None) -> Sender:
        """Who ``user_id`` (the AMQP property, as delivered) is."""
        if isinstance(user_id, bytes):
            user_id = user_id.decode("utf-8", "replace")
        if not user_id:
            return Sender(None, Role.UNKNOWN)
        if user_id == self.portal_user:
            return Sender(user_id, Role.PORTAL)
        if user_id in self.admin_users:
            return Sender(user_id, Role.ADMIN)
        if user_id in self.service_users:
            return Sender(user_id, Role.SERVICE)
        for prefix, role in ((CHANNEL_PREFIX, Role.CHANNEL), (AGENCY_PREFIX, Role.AGENCY)):
            if user_id.startswith(prefix) and len(user_id) > len(prefix):
                return Sender(user_id, role, user_id.removeprefix(prefix))
        return Sender(user_id, Role.UNKNOWN)


@dataclass(frozen=True)
class Verdict:
    """Whether a sender may do what its message asks; ``why`` is for the log, no identity."""

    allowed: bool
    why: str

    @property
    def reason(self) -> str | None:
        """The dead-letter reason of a refusal (``unauthorised``), None when allowed."""
        return None if self.allowed else UNAUTHORISED


def _allow(why: str) -> Verdict:
    return Verdict(True, why)


def _refuse(why: str) -> Verdict:
    return Verdict(False, why)


def _open_pass(policy: SenderPolicy, sender: Sender) -> Verdict | None:
    """In ``open`` mode a sender that is none of LAPOR's users may act as any role."""
    if policy.is_open and sender.role is Role.UNKNOWN:
        return _allow("LAPOR_SENDERS=open: unauthenticated sender accepted")
    return None


def may_submit(policy: SenderPolicy, user_id: str | bytes | None, channel: str | None) -> Verdict:
    """May this sender submit a report on ``channel.<channel>``?"""
    sender = policy.sender(user_id)
    if (passed := _open_pass(policy, sender)) is not None:
        return passed
    if channel is None:
        return _refuse("not a channel routing key")
    if sender.role is Role.CHANNEL and sender.name == channel:
        return _allow("the channel's own user")
    if sender.role is Role.PORTAL and channel in policy.portal_channels:
        return _allow("the portal for its own channels")
    return _refuse(f"{sender.role} user may not submit on channel {channel!r}")


def resubmitted_quarantine(message_id: str | None) -> str | None:
    """The quarantine ID a ``resubmit:<quarantine id>`` message names, or None."""
    if not message_id or not message_id.startswith(RESUBMIT_PREFIX):
        return None
    quarantine_id = message_id.removeprefix(RESUBMIT_PREFIX)
    return quarantine_id if _QUARANTINE_ID.match(quarantine_id) else None


def may_resubmit(policy: SenderPolicy, user_id: str | bytes | None) -> Verdict:
    """May this sender resubmit a corrected quarantined report on that report's channel?

    Only an admin user (the portal's admin desk, ``lapor-admin``): a channel's reporters'
    replies keep going through the channel, so the correction is submitted on its key, by
    the admin who corrected it; intake checks that such a quarantined report exists.
    """
    return _admin_only(
        policy,
        user_id,
        "an admin resubmitted a corrected quarantined report",
        "may not resubmit a quarantined report",
    )


def may_command_as_admin(policy: SenderPolicy, user_id: str | bytes | None) -> Verdict:
    """May this sender send ``verification.decide`` or ``routing.dispose``?"""
    return _admin_only(policy, user_id, "an admin user", "is not an admin")


def _admin_only(
    policy: SenderPolicy, user_id: str | bytes | None, allowed: str, refused: str
) -> Verdict:
    """Allowed for an admin user (or anyone under ``open``), refused as ``<role> user
    <refused>`` otherwise."""
    sender = policy.sender(user_id)
    if (passed := _open_pass(policy, sender)) is not None:
        return passed
    if sender.user_id is not None and sender.user_id in policy.admin_users:
        return _allow(allowed)
    return _refuse(f"{sender.role} user {refused}")


def may_respond(
    policy: SenderPolicy,
    user_id: str | bytes | None,
    claimed_agency: str,
    holding_agencies: Collection[str],
) -> Verdict:
    """May this sender answer as ``claimed_agency`` for a case ``holding_agencies`` hold?

    ``holding_agencies`` are the agencies the case is with now (usually one). An agency
    user answers only in its own name and only for a case it holds; the portal speaks for
    a logged-in liaison, whose agency the portal has already checked.
    """
    sender = policy.sender(user_id)
    if (passed := _open_pass(policy, sender)) is not None:
        return passed
    if sender.role is Role.PORTAL:
        return _allow("the portal for a logged-in liaison")
    if sender.role is not Role.AGENCY:
        return _refuse(f"{sender.role} user is not an agency")
    if sender.name != claimed_agency:
        return _refuse("an agency user may answer only in its own name")
    if sender.name not in holding_agencies:
        return _refuse("the case is not with this agency")
    return _allow("the agency that holds the case")


def may_reply(policy: SenderPolicy, user_id: str | bytes | None, case_channel: str) -> Verdict:
    """May this sender relay a reporter's reply (or rating) to a case from ``case_channel``?"""
    sender = policy.sender(user_id)
    if (passed := _open_pass(policy, sender)) is not None:
        return passed
    if sender.role is Role.CHANNEL and sender.name == case_channel:
        return _allow("the case's own channel")
    if sender.role is Role.PORTAL and case_channel in policy.portal_channels:
        return _allow("the portal for a web case")
    return _refuse(f"{sender.role} user is not the channel of this case")


def may_replay(policy: SenderPolicy, user_id: str | bytes | None) -> Verdict:
    """May this sender set the replay header (``x-lapor-original-routing-key``)?"""
    sender = policy.sender(user_id)
    if (passed := _open_pass(policy, sender)) is not None:
        return passed
    if sender.user_id is not None and sender.user_id in policy.admin_users:
        return _allow("an admin replayed a dead letter")
    return _refuse(f"{sender.role} user may not replay")


@dataclass(frozen=True)
class Origin:
    """Who a delivered message counts as coming from, and with which routing key."""

    routing_key: str
    #: The sender to authorise: the publisher, or for an admin's replay the original one.
    user_id: str | None
    replayed: bool
    #: Refused: a non-admin set the replay headers.
    verdict: Verdict


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) and value else None


def origin_of(
    policy: SenderPolicy,
    delivered_key: str,
    headers: Mapping[str, object] | None,
    user_id: str | bytes | None,
) -> Origin:
    """The key a message counts as published with and the sender to authorise.

    A replayed dead letter reaches its queue through the default exchange (delivered key:
    the queue's name) with the original key in :data:`ORIGINAL_ROUTING_KEY` and the
    original sender in :data:`ORIGINAL_USER_ID`. Only an admin may set those headers; from
    anyone else the message is refused (not silently read with its delivered key),
    because a forged header is an attempt to act as another command.
    """
    headers = headers or {}
    publisher = _text(user_id)
    original_key = _text(headers.get(ORIGINAL_ROUTING_KEY))
    if original_key is None:
        return Origin(delivered_key, publisher, False, _allow("no replay header"))
    verdict = may_replay(policy, publisher)
    if not verdict.allowed:
        return Origin(delivered_key, publisher, False, verdict)
    return Origin(original_key, _text(headers.get(ORIGINAL_USER_ID)), True, verdict)


def routing_key_of(
    policy: SenderPolicy,
    delivered_key: str,
    headers: Mapping[str, object] | None,
    user_id: str | bytes | None,
) -> tuple[str, Verdict]:
    """The key a message counts as published with, and whether the sender may claim it."""
    origin = origin_of(policy, delivered_key, headers, user_id)
    return origin.routing_key, origin.verdict


def announce_mode(policy: SenderPolicy, service: str, log: logging.Logger) -> None:
    """Say at start, loudly, when this process accepts unauthenticated senders."""
    if policy.is_open:
        log.warning(
            "LAPOR_SENDERS=open: messages without a LAPOR broker user are accepted AS ANY "
            "ROLE (admin, agency, channel). For a laptop's `lapor dev` / `lapor demo` only; "
            "NEVER in a deployment",
            extra={"service": service, "senders": str(policy.mode)},
        )
    else:
        log.info("senders are authorised", extra={"service": service, "senders": "enforce"})
