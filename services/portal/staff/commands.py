"""The desks' decisions as contract commands on ``lapor.commands``, sent as the portal.

The acting staff member is always the session's account, passed in by the route; no
form field can name who acts. The portal's publisher sends them (persistent, confirmed,
with the AMQP ``user_id`` of the portal's broker user).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from shared.contract import (
    AgencyAction,
    Decision,
    OpdRespond,
    OversightAcknowledge,
    RoutingDispose,
    VerificationDecide,
)
from shared.lifecycle import ArchiveReason, EscalationTarget, Severity

VERIFICATION_DECIDE = "verification.decide"
ROUTING_DISPOSE = "routing.dispose"
OPD_RESPOND = "opd.respond"
OVERSIGHT_ACKNOWLEDGE = "oversight.acknowledge"


def new_message_id() -> str:
    """A fresh command ID."""
    return f"portal:{uuid.uuid4()}"


@dataclass(frozen=True)
class Verification:
    """What the admin confirmed when verifying: category, severity and the two flags."""

    category: str | None
    severity: Severity | None
    anonymous: bool
    confidential: bool
    note: str | None = None


def verify(tracking_id: str, admin: str, confirmed: Verification) -> VerificationDecide:
    """Verify, with the anonim / rahasia flags as the admin confirmed them."""
    return VerificationDecide(
        message_id=new_message_id(),
        tracking_id=tracking_id,
        decision=Decision.VERIFY,
        admin=admin,
        category=confirmed.category or None,
        severity=confirmed.severity,
        anonymous=confirmed.anonymous,
        confidential=confirmed.confidential,
        flags_confirmed=True,
        note=confirmed.note or None,
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


@dataclass(frozen=True)
class Answer:
    """A liaison's answer: the action, its message and (for not-our-authority) a suggestion."""

    action: AgencyAction
    message: str | None = None
    suggested_agency: str | None = None


def respond(tracking_id: str, agency: str, liaison: str, answer: Answer) -> OpdRespond:
    """An agency's answer about a case it holds, by the logged-in liaison."""
    return OpdRespond(
        message_id=new_message_id(),
        tracking_id=tracking_id,
        agency=agency,
        action=answer.action,
        liaison=liaison,
        message=answer.message or None,
        suggested_agency=answer.suggested_agency or None,
    )


@dataclass(frozen=True)
class NoticeSeen:
    """The escalation notice an oversight office took note of."""

    notice_id: str
    tracking_id: str
    target: EscalationTarget
    level: int


def acknowledge(notice: NoticeSeen, by: str, at: datetime) -> OversightAcknowledge:
    """The logged-in oversight person took note of a notice (recorded on the case).

    One message ID per notice: a repeated click or a retry is the same command.
    """
    return OversightAcknowledge(
        message_id=f"portal:ack:{notice.notice_id}",
        tracking_id=notice.tracking_id,
        notice_id=notice.notice_id,
        target=notice.target,
        level=notice.level,
        by=by,
        at=at,
    )
