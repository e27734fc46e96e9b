"""Routing's use cases as pure decisions: a case and a command in, a change out.

No IO: each ``decide_…`` reads a :class:`~shared.case.Case`, the command (with its
sender) and :class:`Rules` (the deadlines, the active agencies, how to open the sealed
identity for a Disposition) and returns the :class:`~shared.unit_of_work.CaseChange` to
commit, a :class:`~shared.vocabulary.Refusal` (the message can never be applied: it is
dead-lettered), or None (it does not apply now: acknowledged and logged).

Every answer for the reporter leaves as a domain event; intake turns it into a notice on
the reporter's own channel (the one door). Routing never writes to ``lapor.outbound``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.routing.disposition import DispositionFacts, agency_view
from services.routing.registry import Agency
from services.routing.rules import CaseFacts, Choice, Rule, choose_agency, choose_next_agency
from shared import topology
from shared.calendar import WorkingCalendar
from shared.case import Case
from shared.contract import (
    AgencyAction,
    AgencyNotice,
    ComplaintAgencyInformationAdded,
    ComplaintClosed,
    ComplaintDispatched,
    ComplaintExtensionGranted,
    ComplaintExtensionRefused,
    ComplaintExtensionRequested,
    ComplaintFollowedUp,
    ComplaintForwarded,
    ComplaintInformationAdded,
    ComplaintNeedsRouting,
    ComplaintRated,
    ComplaintReopened,
    ComplaintResolved,
    ComplaintVerified,
    Disposition,
    ExtensionDecide,
    OpdRespond,
    ReporterAction,
    ReporterReply,
    RoutingDispose,
)
from shared.lifecycle import (
    Actor,
    AgencyRole,
    ExtensionRefused,
    ExtensionState,
    LifecycleError,
    NotHolding,
    Severity,
    Status,
    can_take,
    check_agency_step,
    check_can_decide_extension,
    check_can_request_extension,
    check_koordinasi,
)
from shared.outbox import OutboxMessage
from shared.pii import IdentityUnreadable
from shared.senders import SenderPolicy, may_reply, may_respond
from shared.sla import SlaPolicy
from shared.unit_of_work import CaseChange, Command, Decision
from shared.vocabulary import Reason, Refusal

Document = dict[str, Any]

ADMIN_RULE = "admin"
AGENCY_STEPS = {
    AgencyAction.ACKNOWLEDGE: "acknowledge",
    AgencyAction.FOLLOW_UP: "follow_up",
    AgencyAction.RESOLVE: "resolve",
    AgencyAction.NOT_OUR_AUTHORITY: "forward",
    AgencyAction.REQUEST_EXTENSION: "request_extension",
    AgencyAction.ADD_INFORMATION: "support",
}
REPORTER_STEPS = {
    ReporterAction.ADD_INFORMATION: "add_information",
    ReporterAction.RATE: "rate",
    ReporterAction.ACCEPT: "accept",
    ReporterAction.REOPEN: "reopen",
    ReporterAction.WITHDRAW: "withdraw",
}
#: Why a case whose reporter identity does not open waits for the admin (for officials).
IDENTITY_UNREADABLE = "identity_unreadable"
IDENTITY_UNREADABLE_NOTE = (
    "identitas pelapor tidak dapat dibuka (kunci identitas salah atau data rusak); "
    "tidak didisposisikan agar identitas tidak bocor ke OPD"
)
_HOLDING = frozenset({Status.DISPATCHED, Status.IN_PROGRESS})
_AGENCY_FIELDS = ("agency", "agency_name", "agency_tz", "deadlines.follow_up")


@dataclass(frozen=True)
class Rules:
    """What routing's decisions depend on besides the case and the command."""

    sla: SlaPolicy
    calendar: WorkingCalendar
    timezone: str
    hop_limit: int
    default_severity: Severity
    agencies: Sequence[Agency] = ()
    #: The reporter's identity, opened (only to mask it in what an agency reads).
    identity: Callable[[Case], Mapping[str, object]] = lambda _case: {}
    #: The fingerprints of a reply's contacts (to recognise the case's own reporter).
    fingerprints: Callable[[ReporterReply], set[str]] = lambda _reply: set()
    #: Who may answer for an agency or relay a reporter's reply (``LAPOR_SENDERS``).
    senders: SenderPolicy = field(default_factory=SenderPolicy)

    def tz(self, agency_tz: str | None) -> str:
        """An agency's own time zone, or the deployment's."""
        return agency_tz or self.timezone

    def severity(self, case: Case, override: Severity | None = None) -> Severity:
        """The severity deadlines are counted with."""
        return override or case.severity or self.default_severity


@dataclass(frozen=True)
class Hop:
    """Where a case goes next, and why: one entry of ``hops[]``."""

    agency: Agency
    rule: str
    reason: str
    severity: Severity | None = None
    by: str | None = None
    headline: str | None = None
    #: How the previous hop ended ("not our authority"), stored on that hop.
    closing: Document | None = None
    before: list[OutboxMessage] = field(default_factory=list)
    #: *koordinasi*: the agencies supporting ``agency`` (the lead).
    supporting: Sequence[Agency] = ()


def _outbound(disposition: Disposition) -> OutboxMessage:
    return OutboxMessage.of(topology.OPD, f"opd.{disposition.agency}", disposition)


def _notice(notice: AgencyNotice) -> OutboxMessage:
    return OutboxMessage.of(topology.OPD, f"opd.{notice.agency}", notice)


def facts_of(case: Case, event: ComplaintVerified | None = None) -> CaseFacts:
    """What the routing rules read of a case (and of the verification that released it)."""
    texts = [case.title or "", case.description, *(a["text"] for a in case.additions)]
    admin_hint = event.agency_hint if event is not None and event.by == "admin" else None
    category = (event.category if event else None) or case.category
    hint = (event.agency_hint if event else None) or case.agency_hint
    return CaseFacts(
        category=category or case.category_hint,
        region_code=case.region_code,
        agency_hint=hint,
        hint_from_admin=admin_hint is not None,
        text="\n".join(texts),
    )


def _closed_hops(case: Case, closing: Document | None) -> list[Document]:
    hops = [dict(h) for h in case.hops]
    if closing and hops:
        hops[-1] |= closing
    return hops


def _disposition(case: Case, facts: DispositionFacts, rules: Rules) -> Disposition:
    return agency_view(case.doc, facts, identity=rules.identity(case))


# --- dispatching ------------------------------------------------------------------------


def _dispatch(change: CaseChange, case: Case, hop: Hop, rules: Rules) -> CaseChange:
    """Put the case on ``hop.agency``'s queue: a new hop, its deadlines, its Disposition."""
    tid, now, agency = case.tracking_id, change.at, hop.agency
    number = (case.hop or 0) + 1
    severity = rules.severity(case, hop.severity)
    follow_up = rules.sla.follow_up_deadline(rules.calendar, now, agency.timezone)
    resolution = rules.sla.resolution_deadline(rules.calendar, now, severity, agency.timezone)
    disposition = _disposition(
        case,
        DispositionFacts(
            message_id=f"disposition:{tid}:{number}",
            agency=agency.code,
            hop=number,
            severity=severity,
            dispatched_at=now,
            follow_up_deadline=follow_up,
            resolution_deadline=resolution,
            headline=hop.headline,
            tz=rules.tz(agency.timezone),
        ),
        rules,
    )
    supporting = [a.code for a in hop.supporting]
    dispositions = [
        disposition.model_copy(
            update={"role": "lead", "lead_agency": agency.code, "supporting_agencies": supporting}
        )
        if supporting
        else disposition
    ]
    for other in hop.supporting:
        # Every supporting agency gets the case too; it may only add information.
        dispositions.append(
            disposition.model_copy(
                update={
                    "message_id": f"disposition:{tid}:{number}:{other.code}",
                    "agency": other.code,
                    "role": "supporting",
                    "lead_agency": agency.code,
                    "supporting_agencies": supporting,
                }
            )
        )
    dispatched = ComplaintDispatched(
        message_id=f"dispatched:{tid}:{number}",
        tracking_id=tid,
        occurred_at=now,
        status=change.target,
        agency=agency.code,
        agency_name=agency.name,
        hop=number,
        follow_up_deadline=follow_up,
        resolution_deadline=resolution,
        severity=severity,
        supporting_agencies=supporting,
    )
    new_hop = {
        "hop": number,
        "agency": agency.code,
        "agency_name": agency.name,
        "at": now,
        "rule": hop.rule,
        "reason": hop.reason,
        "severity": str(severity),
    } | ({"by": hop.by} if hop.by else {})
    change.guard["hop"] = case.hop
    change.fields |= {
        "agency": agency.code,
        "agency_name": agency.name,
        "agency_tz": agency.timezone,
        "hop": number,
        "hops": [*_closed_hops(case, hop.closing), new_hop],
        "dispatched_at": now,
        "deadlines.follow_up": follow_up,
        "deadlines.resolution": resolution,
    }
    # The admin desk's clock stops; a koordinasi names its supporting agencies, any other
    # dispatch (a forward too) has none.
    change.unset.append("deadlines.admin_desk")
    if supporting:
        change.fields["supporting_agencies"] = supporting
    else:
        change.unset.append("supporting_agencies")
    change.entry = {
        "by": hop.by,
        "agency": agency.code,
        "note": change.entry.get("note") or hop.reason,
        "rule": hop.rule,
    }
    change.messages += [*hop.before, *(_outbound(d) for d in dispositions)]
    change.emit(dispatched)
    change.with_timer(case)
    change.summary = "case dispatched"
    change.details = {"agency": agency.code, "hop": number, "rule": hop.rule}
    if supporting:
        change.details["supporting"] = supporting
    return change


def _to_admin(change: CaseChange, case: Case, reason: str, cause: str, rules: Rules) -> CaseChange:
    """Put the case in the admin's manual queue (``admin.review``), with the reason."""
    change.guard["hop"] = case.hop
    # The case has no agency while it waits: no agency deadline runs, the admin desk's does.
    change.unset += [*_AGENCY_FIELDS, "deadlines.resolution", "supporting_agencies"]
    admin_desk = rules.sla.admin_desk_deadline(rules.calendar, change.at)
    change.fields["deadlines.admin_desk"] = admin_desk
    change.entry = {
        "by": change.entry.get("by"),
        "agency": change.entry.get("agency"),
        "note": change.entry.get("note") or reason,
        "rule": "manual",
    }
    change.emit(
        ComplaintNeedsRouting(
            message_id=f"needs_routing:{case.tracking_id}:{cause}",
            tracking_id=case.tracking_id,
            occurred_at=change.at,
            status=change.target,
            reason=reason,
            admin_desk_deadline=admin_desk,
        )
    )
    change.summary = "case sent to the admin's manual queue"
    return change


def identity_readable(case: Case, rules: Rules) -> bool:
    """Whether the reporter's identity opens, so that a Disposition can be masked.

    Fail closed: a case whose identity does not open (wrong key, tampered) is never shown
    to an agency, because nothing in its text could be masked.
    """
    try:
        rules.identity(case)
    except IdentityUnreadable:
        return False
    return True


def decide_route(
    case: Case, event: ComplaintVerified, now: datetime, rules: Rules
) -> CaseChange | None:
    """Dispatch a newly verified case to its agency, or to the admin's manual queue."""
    if case.status is not Status.VERIFIED:
        return None
    if not identity_readable(case, rules):
        change = CaseChange.step_of(case, "route_manually", Actor.SYSTEM, now)
        return _to_admin(
            change, case, IDENTITY_UNREADABLE_NOTE, cause=IDENTITY_UNREADABLE, rules=rules
        )
    choice = choose_agency(facts_of(case, event), rules.agencies)
    if choice.agency is None:
        change = CaseChange.step_of(case, "route_manually", Actor.SYSTEM, now)
        return _to_admin(change, case, choice.reason, cause="route_manually", rules=rules)
    change = CaseChange.step_of(case, "dispatch", Actor.SYSTEM, now)
    hop = Hop(choice.agency, str(choice.rule), choice.reason, severity=event.severity)
    return _dispatch(change, case, hop, rules)


def decide_dispose(
    case: Case, command: Command[RoutingDispose], now: datetime, rules: Rules
) -> Decision:
    """The admin routes a case by hand, to one agency or to a lead and supporting ones."""
    dispose = command.message
    step = "coordinate" if dispose.supporting else "dispose"
    if case.has_applied(dispose.message_id) or not can_take(step, case.status, Actor.ADMIN):
        return None  # applied before, or the case has moved on
    details: dict[str, object] = {"tracking_id": case.tracking_id}
    if dispose.supporting:
        try:
            check_koordinasi(dispose.agency, dispose.supporting)
        except LifecycleError as exc:
            return Refusal(Reason.INVALID_KOORDINASI, details | {"detail": str(exc)})
    known = {a.code: a for a in rules.agencies}
    for code in (dispose.agency, *dispose.supporting):
        if code not in known:
            return Refusal(Reason.UNKNOWN_AGENCY, details | {"agency": code})
    agency = known[dispose.agency]
    if not identity_readable(case, rules):
        return Refusal(Reason.IDENTITY_UNREADABLE, details)
    change = CaseChange.step_of(case, step, Actor.ADMIN, now)
    change.command_id = dispose.message_id
    reason = f"dipilih admin: {agency.name}"
    if dispose.supporting:
        reason += " (koordinasi dengan " + ", ".join(dispose.supporting) + ")"
    change.entry["note"] = dispose.note or reason
    hop = Hop(
        agency,
        ADMIN_RULE,
        reason,
        by=dispose.admin,
        headline=dispose.note,
        supporting=[known[code] for code in dispose.supporting],
    )
    return _dispatch(change, case, hop, rules)


# --- agencies' answers ------------------------------------------------------------------


def decide_respond(
    case: Case, command: Command[OpdRespond], now: datetime, rules: Rules
) -> Decision:
    """An agency's answer: acknowledge, follow up, resolve, or "not our authority"."""
    respond = command.message
    if case.has_applied(respond.message_id):
        return None  # a redelivery, even after the case moved to another agency
    details: dict[str, object] = {"tracking_id": case.tracking_id, "action": str(respond.action)}
    holding = [code for code in (case.agency, *case.supporting_agencies) if code]
    verdict = may_respond(rules.senders, command.sender.user_id, respond.agency, holding)
    if not verdict.allowed:
        return Refusal(Reason.UNAUTHORISED, details | {"why": verdict.why})
    step = AGENCY_STEPS[respond.action]
    try:
        # Only the lead answers, resolves, forwards or asks for more time (koordinasi).
        role = check_agency_step(step, respond.agency, case.agency, case.supporting_agencies)
    except NotHolding:
        return Refusal(Reason.NOT_HOLDING_AGENCY, details | {"agency": respond.agency})
    if respond.action is not AgencyAction.ACKNOWLEDGE and not respond.message:
        return Refusal(Reason.MESSAGE_REQUIRED, details)
    if respond.action is AgencyAction.REQUEST_EXTENSION and respond.extend_until is None:
        return Refusal(Reason.INVALID_COMMAND, details | {"fields": ["extend_until"]})
    if not can_take(step, case.status, Actor.AGENCY):
        return None  # the case has moved on
    change = CaseChange.step_of(case, step, Actor.AGENCY, now)
    change.command_id = respond.message_id
    # Decided on who holds the case: a forward meanwhile makes the answer stale.
    change.guard["agency"] = case.agency
    match respond.action:
        case AgencyAction.NOT_OUR_AUTHORITY:
            return _forward(change, case, respond, rules)
        case AgencyAction.REQUEST_EXTENSION:
            return _request_extension(change, case, respond, rules)
        case AgencyAction.ADD_INFORMATION:
            return _support(change, case, respond, role)
    return _answer(change, case, respond, rules)


def _answer(change: CaseChange, case: Case, respond: OpdRespond, rules: Rules) -> CaseChange:
    tid, now = case.tracking_id, change.at
    change.minimum["first_answer_at"] = now
    change.entry |= {"by": respond.liaison, "agency": respond.agency, "note": respond.message}
    if respond.action is AgencyAction.RESOLVE:
        auto_close = rules.sla.auto_close_at(rules.calendar, now, case.agency_tz)
        change.fields |= {
            "resolved_at": now,
            "deadlines.auto_close": auto_close,
            "final_answer": {
                "at": now,
                "agency": respond.agency,
                "by": respond.liaison,
                "text": respond.message,
            },
        }
        change.emit(
            ComplaintResolved(
                message_id=f"resolved:{tid}:{respond.message_id}",
                tracking_id=tid,
                occurred_at=now,
                status=change.target,
                reporter_message=respond.message,
                agency=respond.agency,
                auto_close_at=auto_close,
            )
        )
    else:
        acknowledged_only = respond.action is AgencyAction.ACKNOWLEDGE
        change.emit(
            ComplaintFollowedUp(
                message_id=f"followed_up:{tid}:{respond.message_id}",
                tracking_id=tid,
                occurred_at=now,
                status=change.target,
                reporter_message=None if acknowledged_only else respond.message,
                agency=respond.agency,
                acknowledged_only=acknowledged_only,
            )
        )
    change.summary = "agency answer applied"
    change.details = {"agency": respond.agency}
    return change


def _forward(change: CaseChange, case: Case, respond: OpdRespond, rules: Rules) -> CaseChange:
    """ "Not our authority": on to the next agency, or to the admin."""
    tid, now = case.tracking_id, change.at
    reason = respond.message or ""
    tried = [h["agency"] for h in case.hops]
    choice = choose_next_agency(
        facts_of(case), rules.agencies, tried, respond.suggested_agency, rules.hop_limit
    )
    if choice.agency is not None and not identity_readable(case, rules):
        choice = Choice(None, Rule.MANUAL, IDENTITY_UNREADABLE_NOTE)
    closing = {
        "ended_at": now,
        "outcome": "not_our_authority",
        "outcome_reason": reason,
        "outcome_by": respond.liaison,
    }
    from_name = case.agency_name or respond.agency
    forwarded = ComplaintForwarded(
        message_id=f"forwarded:{tid}:{respond.message_id}",
        tracking_id=tid,
        occurred_at=now,
        status=Status.AWAITING_ROUTING if choice.agency is None else change.target,
        from_agency=respond.agency,
        to_agency=None if choice.agency is None else choice.agency.code,
        reason=reason,
        hop=max(case.hop or 1, 1) if choice.agency is None else (case.hop or 0) + 1,
    )
    if choice.agency is not None:
        change.entry = {
            "by": respond.liaison,
            "note": f"bukan kewenangan {respond.agency}: {reason} — dialihkan ke "
            f"{choice.agency.code} ({choice.reason})",
        }
        hop = Hop(
            choice.agency,
            str(choice.rule),
            choice.reason,
            by=respond.liaison,
            headline=f"Dialihkan dari {from_name} (bukan kewenangannya): {reason}",
            closing=closing,
            before=[_forwarded(forwarded)],
        )
        return _dispatch(change, case, hop, rules)
    # No next agency: the case goes back to the admin, who routes it by hand.
    back = CaseChange.step_of(case, "return_to_admin", Actor.AGENCY, now)
    back.command_id, back.guard = change.command_id, change.guard
    back.fields["hops"] = _closed_hops(case, closing)
    back.entry = {
        "by": respond.liaison,
        "agency": respond.agency,
        "note": f"bukan kewenangan {respond.agency}: {reason} — ke admin: {choice.reason}",
    }
    back.messages.append(_forwarded(forwarded))
    admin_reason = f"{from_name} menyatakan bukan kewenangannya ({reason}); {choice.reason}"
    return _to_admin(back, case, admin_reason, cause=respond.message_id, rules=rules)


def _forwarded(event: ComplaintForwarded) -> OutboxMessage:
    return OutboxMessage.of(topology.EVENTS, "complaint.forwarded", event)


# --- extension (perpanjangan) and koordinasi ---------------------------------------------


def _request_extension(
    change: CaseChange, case: Case, respond: OpdRespond, rules: Rules
) -> Decision:
    """The lead asks, once, for a later resolution date; the admin desk decides."""
    tid, now = case.tracking_id, change.at
    current = case.deadline("resolution")
    assert respond.extend_until is not None  # checked by decide_respond
    details: dict[str, object] = {"tracking_id": tid, "agency": respond.agency}
    if current is None:
        return Refusal(Reason.STEP_NOT_ALLOWED, details | {"status": str(case.status)})
    tz = rules.tz(case.agency_tz)
    until = rules.sla.extended_deadline(rules.calendar, respond.extend_until, tz)
    cap = rules.sla.extension_cap(rules.calendar, current, rules.severity(case), tz)
    try:
        check_can_request_extension(case.doc.get("extension"), current, until, cap, respond.message)
    except ExtensionRefused as refused:
        return Refusal(Reason.EXTENSION_REFUSED, details | {"code": refused.code})
    reason = (respond.message or "").strip()
    change.guard["extension"] = {"$exists": False}
    change.fields["extension"] = {
        "state": str(ExtensionState.REQUESTED),
        "requested_at": now,
        "requested_by": respond.liaison,
        "agency": respond.agency,
        "until": until,
        "previous": current,
        "reason": reason,
    }
    change.entry |= {"by": respond.liaison, "agency": respond.agency, "note": reason}
    change.emit(
        ComplaintExtensionRequested(
            message_id=f"extension_requested:{tid}",
            tracking_id=tid,
            occurred_at=now,
            status=change.target,
            agency=respond.agency,
            requested_until=until,
            current_deadline=current,
            reason=reason,
        )
    )
    change.summary = "extension requested"
    change.details = {"agency": respond.agency}
    return change


def _support(change: CaseChange, case: Case, respond: OpdRespond, role: AgencyRole) -> CaseChange:
    """An agency of a koordinasi adds information; the lead is told at once."""
    tid, now, lead = case.tracking_id, change.at, case.agency or ""
    text = respond.message or ""
    change.push["agency_notes"] = {
        "at": now,
        "agency": respond.agency,
        "by": respond.liaison,
        "text": text,
    }
    change.entry |= {"by": respond.liaison, "agency": respond.agency, "note": text}
    change.emit(
        ComplaintAgencyInformationAdded(
            message_id=f"agency_information_added:{tid}:{respond.message_id}",
            tracking_id=tid,
            occurred_at=now,
            status=change.target,
            agency=respond.agency,
            lead_agency=lead,
        )
    )
    if role is AgencyRole.SUPPORTING:
        change.messages.append(
            _notice(
                AgencyNotice(
                    message_id=f"notice:{tid}:{respond.message_id}",
                    tracking_id=tid,
                    agency=lead,
                    notice="information_added",
                    occurred_at=now,
                    text=f"Informasi dari instansi pendukung {respond.agency}: {text}",
                    from_agency=respond.agency,
                )
            )
        )
    change.summary = "agency information added"
    change.details = {"agency": respond.agency, "role": str(role)}
    return change


def decide_extension(
    case: Case, command: Command[ExtensionDecide], now: datetime, rules: Rules
) -> Decision:
    """The admin grants or refuses the extension an agency asked for (once)."""
    decide = command.message
    if case.has_applied(decide.message_id):
        return None
    details: dict[str, object] = {"tracking_id": case.tracking_id}
    extension = case.doc.get("extension")
    try:
        check_can_decide_extension(extension)
    except ExtensionRefused as refused:
        return Refusal(Reason.EXTENSION_REFUSED, details | {"code": refused.code})
    assert extension is not None  # a request is waiting
    step = "grant_extension" if decide.grant else "refuse_extension"
    if not can_take(step, case.status, Actor.ADMIN):
        return None  # resolved, withdrawn or handed back meanwhile: nothing to extend
    tid, agency = case.tracking_id, case.agency or extension.get("agency", "")
    change = CaseChange.step_of(case, step, Actor.ADMIN, now)
    change.command_id = decide.message_id
    change.guard["extension.state"] = str(ExtensionState.REQUESTED)
    change.entry |= {"by": decide.admin, "agency": agency, "note": decide.note}
    change.fields |= {"extension.decided_at": now, "extension.decided_by": decide.admin}
    previous: datetime = case.deadline("resolution") or extension["previous"]
    until: datetime = extension["until"]
    if decide.grant:
        # Escalation follows by itself: the new deadline's ladder has new step keys.
        change.fields |= {
            "extension.state": str(ExtensionState.GRANTED),
            "deadlines.resolution": until,
        }
        change.emit(
            ComplaintExtensionGranted(
                message_id=f"extension_granted:{tid}",
                tracking_id=tid,
                occurred_at=now,
                status=change.target,
                agency=agency,
                resolution_deadline=until,
                previous_deadline=previous,
            )
        )
        text = "Perpanjangan waktu penyelesaian disetujui admin."
    else:
        change.fields["extension.state"] = str(ExtensionState.REFUSED)
        change.emit(
            ComplaintExtensionRefused(
                message_id=f"extension_refused:{tid}",
                tracking_id=tid,
                occurred_at=now,
                status=change.target,
                agency=agency,
                reason=(decide.note or "").strip(),
            )
        )
        text = "Perpanjangan waktu penyelesaian ditolak admin; batas waktu semula berlaku."
    if decide.note:
        text += f" Catatan: {decide.note.strip()}"
    change.messages.append(
        _notice(
            AgencyNotice(
                message_id=f"notice:{tid}:{decide.message_id}",
                tracking_id=tid,
                agency=agency,
                notice="extension_granted" if decide.grant else "extension_refused",
                occurred_at=now,
                text=text,
                resolution_deadline=until if decide.grant else previous,
            )
        )
    )
    change.summary = "extension granted" if decide.grant else "extension refused"
    change.details = {"agency": agency}
    return change


# --- reporters' replies -----------------------------------------------------------------


def decide_reply(
    case: Case, command: Command[ReporterReply], now: datetime, rules: Rules
) -> Decision:
    """The reporter adds information, rates the answer, accepts it, or reopens."""
    reply = command.message
    if case.has_applied(reply.message_id):
        return None
    details: dict[str, object] = {"tracking_id": case.tracking_id, "action": str(reply.action)}
    verdict = may_reply(rules.senders, command.sender.user_id, case.channel)
    if not verdict.allowed:
        return Refusal(Reason.UNAUTHORISED, details | {"why": verdict.why})
    if not case.reporter_fingerprints & rules.fingerprints(reply):
        return Refusal(Reason.NOT_THE_REPORTER, details)
    if reply.action is ReporterAction.ADD_INFORMATION and not reply.message:
        return Refusal(Reason.MESSAGE_REQUIRED, details)
    if reply.action is ReporterAction.RATE and reply.rating is None:
        return Refusal(Reason.RATING_REQUIRED, details)
    step = REPORTER_STEPS[reply.action]
    if not can_take(step, case.status, Actor.REPORTER):
        if reply.action is ReporterAction.WITHDRAW:
            # Answered in full (or finished): a withdrawal can never apply to it any more.
            return Refusal(Reason.STEP_NOT_ALLOWED, details | {"status": str(case.status)})
        return None  # the case has moved on
    change = CaseChange.step_of(case, step, Actor.REPORTER, now)
    change.command_id = reply.message_id
    if reply.action is ReporterAction.WITHDRAW:
        return _withdraw(change, case, reply)
    if reply.action is ReporterAction.ADD_INFORMATION:
        return _add_information(change, case, reply, rules)
    if reply.action is ReporterAction.REOPEN:
        return _reopen(change, case, reply, rules)
    return _rate_or_accept(change, case, reply)


def _add_information(
    change: CaseChange, case: Case, reply: ReporterReply, rules: Rules
) -> CaseChange:
    tid, now, agency = case.tracking_id, change.at, case.agency
    addition = {"at": now, "text": reply.message, "message_id": reply.message_id}
    change.guard["agency"] = agency
    change.push["additions"] = addition
    change.entry = {"agency": agency, "note": "pelapor menambahkan informasi"}
    change.emit(
        ComplaintInformationAdded(
            message_id=f"information_added:{tid}:{reply.message_id}",
            tracking_id=tid,
            occurred_at=now,
            status=change.source,
        )
    )
    if change.source in _HOLDING and agency:
        # The agency holding the case gets the new information at once.
        updated = case.with_fields(additions=[*case.additions, addition])
        disposition = _disposition(
            updated,
            DispositionFacts(
                message_id=f"disposition:{tid}:info:{reply.message_id}",
                agency=agency,
                hop=case.hop or 1,
                severity=rules.severity(case),
                dispatched_at=case.dispatched_at or now,
                follow_up_deadline=case.deadline("follow_up") or now,
                resolution_deadline=case.deadline("resolution") or now,
                headline="Pembaruan: pelapor menambahkan informasi (lihat di bawah).",
                tz=rules.tz(case.agency_tz),
            ),
            rules,
        )
        change.messages.append(_outbound(disposition))
    change.summary = "reporter added information"
    change.details = {"forwarded_to_agency": len(change.messages) > 1}
    return change


def _reopen(change: CaseChange, case: Case, reply: ReporterReply, rules: Rules) -> CaseChange:
    tid, now = case.tracking_id, change.at
    agency = case.agency or ""
    reason = reply.message or "Pelapor belum puas dengan jawaban instansi."
    follow_up = rules.sla.follow_up_deadline(rules.calendar, now, case.agency_tz)
    # The resolution deadline stays: a reopened case is measured against the first promise.
    resolution = case.deadline("resolution") or follow_up
    disposition = _disposition(
        case,
        DispositionFacts(
            message_id=f"disposition:{tid}:reopen:{reply.message_id}",
            agency=agency,
            hop=case.hop or 1,
            severity=rules.severity(case),
            dispatched_at=now,
            follow_up_deadline=follow_up,
            resolution_deadline=resolution,
            headline=f"Dibuka kembali oleh pelapor: {reason}",
            tz=rules.tz(case.agency_tz),
        ),
        rules,
    )
    change.guard["agency"] = case.agency
    change.fields |= {"reopened_at": now, "deadlines.follow_up": follow_up}
    change.unset.append("deadlines.auto_close")
    change.inc["reopen_count"] = 1
    change.entry = {"agency": agency, "note": reason}
    change.messages.append(_outbound(disposition))
    change.emit(
        ComplaintReopened(
            message_id=f"reopened:{tid}:{reply.message_id}",
            tracking_id=tid,
            occurred_at=now,
            status=change.target,
            agency=agency,
            reason=reason,
            follow_up_deadline=follow_up,
        )
    )
    change.summary = "case reopened"
    change.details = {"agency": agency}
    return change


def _withdraw(change: CaseChange, case: Case, reply: ReporterReply) -> CaseChange:
    """The reporter withdraws a case not yet resolved: closed ``withdrawn``, kept, agencies told."""
    tid, now = case.tracking_id, change.at
    change.fields |= {"closed_at": now, "close_reason": "withdrawn"}
    change.entry = {"agency": case.agency, "note": "laporan dicabut oleh pelapor"}
    change.emit(
        ComplaintClosed(
            message_id=f"closed:{tid}:{reply.message_id}",
            tracking_id=tid,
            occurred_at=now,
            status=change.target,
            reason="withdrawn",
        )
    )
    if change.source in _HOLDING and case.agency:
        # Every agency working on it stops: the lead and any supporting agency.
        for code in (case.agency, *case.supporting_agencies):
            change.messages.append(
                _notice(
                    AgencyNotice(
                        message_id=f"notice:{tid}:{reply.message_id}:{code}",
                        tracking_id=tid,
                        agency=code,
                        notice="withdrawn",
                        occurred_at=now,
                        text=f"Laporan {tid} dicabut oleh pelapor. Penanganan dihentikan.",
                    )
                )
            )
    change.summary = "case withdrawn by the reporter"
    change.details = {"agencies_told": len(change.messages) - 1}
    return change


def _rate_or_accept(change: CaseChange, case: Case, reply: ReporterReply) -> CaseChange:
    tid, now = case.tracking_id, change.at
    if reply.rating is not None:
        change.fields |= {"rating": reply.rating, "rated_at": now}
        change.emit(
            ComplaintRated(
                message_id=f"rated:{tid}:{reply.message_id}",
                tracking_id=tid,
                occurred_at=now,
                status=change.target,
                rating=reply.rating,
            )
        )
    if change.step == "accept":
        change.fields |= {"closed_at": now, "close_reason": "accepted"}
        change.emit(
            ComplaintClosed(
                message_id=f"closed:{tid}:{reply.message_id}",
                tracking_id=tid,
                occurred_at=now,
                status=change.target,
                reason="accepted",
            )
        )
    change.entry = {
        "agency": case.agency,
        "note": f"nilai {reply.rating}/5" if reply.rating is not None else None,
    }
    change.summary = "reporter reply applied"
    return change


def decide_command(
    case: Case,
    command: Command[RoutingDispose | OpdRespond | ReporterReply | ExtensionDecide],
    now: datetime,
    rules: Rules,
) -> Decision:
    """Route a command to its use case."""
    message = command.message
    if isinstance(message, ExtensionDecide):
        return decide_extension(case, Command(message, command.sender), now, rules)
    if isinstance(message, RoutingDispose):
        return decide_dispose(case, Command(message, command.sender), now, rules)
    if isinstance(message, OpdRespond):
        return decide_respond(case, Command(message, command.sender), now, rules)
    return decide_reply(case, Command(message, command.sender), now, rules)
