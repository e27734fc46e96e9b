"""Escalation's use cases as pure decisions: fire one due step, close a silent case, and
the timer an event implies.

No IO: each ``decide_…`` reads the case as the scanner claimed it and returns the
:class:`~shared.unit_of_work.CaseChange` to commit. A step's change is guarded by the
fields the rules read (see ``POLICY_FIELDS``) and by its key not being in
``escalation.fired`` yet, so any number of replicas fire each step once.

:func:`presume` is the timer's shortcut: most events name every field their status's plan
reads (a deferred case's window, a resolved case's automatic close), so the timer can be
written without reading the case first, guarded by exactly those fields. ``received``
and ``dispatched`` no longer reach escalation (their steps store the timer themselves,
``shared/timers.py``); their rows stay for the events an older release left queued on
``escalation.events`` when it was upgraded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from services.escalation import notices
from shared import topology
from shared.calendar import WorkingCalendar
from shared.case import Case
from shared.contract import (
    ComplaintArchived,
    ComplaintClosed,
    ComplaintEscalated,
    ComplaintReminder,
    EscalationNotice,
    OversightAcknowledge,
)
from shared.escalation_policy import (
    PLAN_INPUTS,
    POLICY_FIELDS,
    CaseClock,
    Plan,
    Rung,
    field_value,
    notifies_oversight,
    oversight_routing_key,
    plan,
    responsible_agency,
)
from shared.lifecycle import Actor, ArchiveReason, Status
from shared.outbox import OutboxMessage
from shared.sla import SlaPolicy
from shared.timers import timer_update
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


# --- the timer an event implies ---------------------------------------------------------

#: How old an event may be for :func:`presume` to trust it: a late one most likely
#: describes a case that has moved on since, and its guarded write would only miss.
FRESH = timedelta(seconds=2)
#: The stored fields an event names: ``{event: {stored path: the event's field}}``.
_NAMED: Mapping[str, Mapping[str, str]] = {
    "received": {"deadlines.verification": "verification_deadline"},
    "deferred": {"deadlines.deferral": "deferral_deadline"},
    "dispatched": {
        "deadlines.follow_up": "follow_up_deadline",
        "deadlines.resolution": "resolution_deadline",
    },
    "resolved": {"deadlines.auto_close": "auto_close_at"},
}
#: What an event leaves unsaid but usually holds: a dispatch finds no answer yet and an
#: agency in the deployment's own zone (the guard catches the other cases).
_USUALLY: Mapping[str, Mapping[str, Any]] = {
    "dispatched": {"first_answer_at": None, "agency_tz": None},
}


@dataclass(frozen=True)
class Presumption:
    """A case's timer as an event implies it, and the guard under which that holds."""

    tracking_id: str
    status: Status
    #: The plan's inputs as the event names them (dotted paths; None: absent).
    inputs: Mapping[str, Any]
    the_plan: Plan
    #: The keys of the live deadline's whole ladder: none of them may have fired yet.
    ladder_keys: tuple[str, ...]

    def filter(self) -> Document:
        """Matches the case only while every field its plan reads is as presumed."""
        query: Document = {"_id": self.tracking_id, "status": str(self.status)} | dict(self.inputs)
        if self.ladder_keys:
            query["escalation.fired"] = {"$nin": list(self.ladder_keys)}
        return query

    def update(self) -> Document:
        """The timer's update (see :func:`timer_update`)."""
        return timer_update(self.the_plan)


def presume(
    tracking_id: str,
    event: Mapping[str, Any],
    now: datetime,
    sla: SlaPolicy,
    calendar: WorkingCalendar,
) -> Presumption | None:
    """The timer ``event`` implies for its case, when it names every field the plan of its
    status reads and is fresh; None when the case must be read instead."""
    try:
        status = Status(str(event.get("status")))
    except ValueError:
        return None
    occurred_at = _instant(event.get("occurred_at"))
    if occurred_at is None or now - occurred_at > FRESH:
        return None
    kind = str(event.get("event"))
    known: dict[str, Any] = dict(_USUALLY.get(kind, {}))
    for path, name in _NAMED.get(kind, {}).items():
        if (at := _instant(event.get(name))) is not None:
            known[path] = at
    needed = PLAN_INPUTS[status]
    if not all(path in known for path in needed):
        return None
    inputs = {path: known[path] for path in needed}
    clock = CaseClock.from_document(_document(tracking_id, status, inputs))
    the_plan = plan(sla, calendar, clock)
    # Nothing fired in the presumed case: its pending steps are the live deadline's ladder.
    keys = tuple(rung.key for rung in the_plan.pending)
    return Presumption(tracking_id, status, inputs, the_plan, keys)


def _instant(value: Any) -> datetime | None:
    """An aware datetime from an event's JSON, as MongoDB stores it (milliseconds, UTC)."""
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    if at.tzinfo is None:
        return None
    at = at.astimezone(UTC)
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def _document(tracking_id: str, status: Status, inputs: Mapping[str, Any]) -> Document:
    """A stored case's shape holding only ``inputs`` (dotted paths) and its status."""
    doc: Document = {"_id": tracking_id, "status": str(status)}
    for path, value in inputs.items():
        *parents, name = path.split(".")
        node = doc
        for part in parents:
            node = node.setdefault(part, {})
        node[name] = value
    return doc
