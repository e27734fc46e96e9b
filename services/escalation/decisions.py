"""Escalation's use cases as pure decisions: fire one due step, close a silent case.

No IO: each ``decide_…`` reads the case as the scanner claimed it and returns the
:class:`~shared.unit_of_work.CaseChange` to commit. A step's change is guarded by the
fields the rules read (see ``POLICY_FIELDS``) and by its key not being in
``escalation.fired`` yet, so any number of replicas fire each step once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.escalation import notices
from services.escalation.policy import (
    POLICY_FIELDS,
    CaseClock,
    Rung,
    field_value,
    notifies_oversight,
    oversight_routing_key,
    responsible_agency,
)
from shared import topology
from shared.case import Case
from shared.contract import (
    ComplaintArchived,
    ComplaintClosed,
    ComplaintEscalated,
    ComplaintReminder,
    EscalationNotice,
    OversightAcknowledge,
)
from shared.lifecycle import Actor, ArchiveReason, Status
from shared.outbox import OutboxMessage
from shared.unit_of_work import CaseChange, Command
from shared.vocabulary import Reason, Refusal

Document = dict[str, Any]


def step_event_id(tracking_id: str, rung: Rung) -> str:
    """The ``message_id`` of a step's domain event (the same however often it is sent)."""
    return f"escalation:{tracking_id}:{rung.key}"


def notice_id(tracking_id: str, rung: Rung) -> str:
    """The ``message_id`` of a step's oversight notice."""
    return f"notice:{tracking_id}:{rung.key}"


def auto_close_id(tracking_id: str) -> str:
    """The ``message_id`` of a case's automatic close (a case closes once)."""
    return f"auto_close:{tracking_id}"


def expire_deferral_id(tracking_id: str) -> str:
    """The ``message_id`` of a deferral's expiry (archiving is final)."""
    return f"expire_deferral:{tracking_id}"


#: The timeline step of an oversight office's acknowledgement (a record: no status change).
ACKNOWLEDGE_STEP = "acknowledge_escalation"


def fired_key_of_notice(tracking_id: str, notice: str) -> str | None:
    """The step key a notice ID of this case names (see :func:`notice_id`), or None."""
    prefix = f"notice:{tracking_id}:"
    if not notice.startswith(prefix):
        return None
    return notice.removeprefix(prefix) or None


def read_guard(doc: Mapping[str, Any]) -> Document:
    """A filter matching the case only while the fields the rules read are as in ``doc``.

    ``{field: None}`` matches a missing field too, so an absent deadline stays absent.
    """
    return {"_id": doc["_id"]} | {path: field_value(doc, path) for path in POLICY_FIELDS}


def decide_fire(case: Case, clock: CaseClock, rung: Rung, now: datetime, tz: str) -> CaseChange:
    """Record step ``rung`` as fired, with its domain event and its oversight notice."""
    tid = case.tracking_id
    agency = responsible_agency(clock, rung.deadline)
    change = CaseChange.record(case, "remind" if rung.is_reminder else "escalate", Actor.CLOCK, now)
    event: ComplaintReminder | ComplaintEscalated
    if rung.is_reminder:
        event = ComplaintReminder(
            message_id=step_event_id(tid, rung),
            tracking_id=tid,
            occurred_at=now,
            status=change.target,
            deadline_kind=str(rung.deadline.kind),
            deadline=rung.deadline.at,
            agency=agency,
            target=rung.target,
        )
    else:
        event = ComplaintEscalated(
            message_id=step_event_id(tid, rung),
            tracking_id=tid,
            occurred_at=now,
            status=change.target,
            level=rung.level,
            target=rung.target,
            deadline_kind=str(rung.deadline.kind),
            deadline=rung.deadline.at,
            agency=agency,
        )
    notice = EscalationNotice(
        message_id=notice_id(tid, rung),
        tracking_id=tid,
        level=rung.level,
        target=rung.target,
        agency=agency,
        deadline_kind=str(rung.deadline.kind),
        deadline=rung.deadline.at,
        occurred_at=now,
        summary=notices.summary(tid, rung, agency, tz),
    )
    change.emit(event)
    # The reporter's own reminder (a deferral) is no oversight matter: intake tells them.
    if notifies_oversight(rung):
        change.messages.append(
            OutboxMessage.of(topology.OVERSIGHT, oversight_routing_key(rung.target, agency), notice)
        )
    # The clock does not move the case: the entry records the step, not a transition.
    change.entry_from = False
    change.entry["note"] = notices.timeline_note(rung, tz)
    change.guard |= read_guard(case.doc) | {"escalation.fired": {"$ne": rung.key}}
    change.push["escalation.fired"] = rung.key
    change.summary = "escalation step fired"
    change.details = {"key": rung.key, "level": rung.level, "target": str(rung.target)}
    change.details["agency"] = agency
    change.failpoint = "escalation.after_fire"
    return change


def decide_auto_close(case: Case, now: datetime) -> CaseChange | None:
    """Close a resolved case the reporter did not reply to in time (step ``auto_close``)."""
    if case.status is not Status.RESOLVED:
        return None
    change = CaseChange.step_of(case, "auto_close", Actor.CLOCK, now)
    change.fields |= {"closed_at": now, "close_reason": "no_reply", "escalation.live": None}
    change.unset.append("escalation.next_at")
    change.guard["deadlines.auto_close"] = field_value(case.doc, "deadlines.auto_close")
    change.entry["note"] = notices.AUTO_CLOSE_NOTE
    change.emit(
        ComplaintClosed(
            message_id=auto_close_id(case.tracking_id),
            tracking_id=case.tracking_id,
            occurred_at=now,
            status=change.target,
            reason="no_reply",
        )
    )
    change.summary = "case closed: no reply from the reporter"
    return change


def decide_expire_deferral(case: Case, now: datetime) -> CaseChange | None:
    """Archive a deferred case the reporter did not complete in time (``no_reply``)."""
    if case.status is not Status.DEFERRED:
        return None
    change = CaseChange.step_of(case, "expire_deferral", Actor.CLOCK, now)
    change.fields |= {
        "archive_reason": str(ArchiveReason.NO_REPLY),
        "archived_at": now,
        "escalation.live": None,
    }
    change.unset.append("escalation.next_at")
    # Decided on this window: a new deferral (a new window) is not expired by it.
    change.guard["deadlines.deferral"] = field_value(case.doc, "deadlines.deferral")
    change.entry["note"] = notices.DEFERRAL_EXPIRED_NOTE
    change.emit(
        ComplaintArchived(
            message_id=expire_deferral_id(case.tracking_id),
            tracking_id=case.tracking_id,
            occurred_at=now,
            status=change.target,
            reason=ArchiveReason.NO_REPLY,
            reporter_message=notices.DEFERRAL_EXPIRED_MESSAGE,
        )
    )
    change.summary = "deferred case archived: no reply from the reporter in time"
    return change


def decide_acknowledge(
    case: Case, command: Command[OversightAcknowledge], now: datetime
) -> CaseChange | Refusal | None:
    """Record on the case that an oversight office took note of one of its notices, once.

    Refused when the notice is not one this case's ladder fired; None (nothing to do)
    when that notice's acknowledgement is on the case already.
    """
    ack = command.message
    key = fired_key_of_notice(case.tracking_id, ack.notice_id)
    escalation = case.doc.get("escalation") or {}
    if key is None or key not in (escalation.get("fired") or []):
        return Refusal(
            Reason.INVALID_COMMAND, {"tracking_id": case.tracking_id, "fields": ["notice_id"]}
        )
    if ack.notice_id in (escalation.get("acknowledged") or []):
        return None
    change = CaseChange.record(case, ACKNOWLEDGE_STEP, Actor.OVERSIGHT, ack.at)
    change.entry_from = False
    change.entry |= {
        "by": ack.by,
        "target": str(ack.target),
        "level": ack.level,
        "notice_id": ack.notice_id,
        "note": notices.acknowledgement_note(ack.target, ack.by),
    }
    change.fields["updated_at"] = now
    change.command_id = ack.message_id
    change.guard["escalation.acknowledged"] = {"$ne": ack.notice_id}
    change.push["escalation.acknowledged"] = ack.notice_id
    change.summary = "escalation notice acknowledged"
    change.details = {"target": str(ack.target), "level": ack.level}
    return change
