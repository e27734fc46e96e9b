"""Verification's use cases as pure decisions: a case and a command in, a change out.

No IO: each ``decide_…`` reads a :class:`~shared.case.Case` and returns the
:class:`~shared.unit_of_work.CaseChange` to commit, a :class:`~shared.vocabulary.Refusal`,
or None when there is nothing to do now. Event IDs are derived from the case and the step
(``verified:<tid>``, ``archived:<tid>``, ``needs_review:<tid>``) or from the message that
caused them (``deferred:<tid>:<command id>``), so a repeat carries the same ID.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.verification.checks import ReportText
from services.verification.policy import (
    STEP_OF_DECISION,
    Assessment,
    AutoArchive,
    AutoVerify,
    HoldForReview,
    PolicyCode,
    ReportFacts,
    Verdict,
    VerificationPolicy,
    category_slug,
    refusal_of,
    suggest_category,
    suggest_severity,
)
from shared.case import Case
from shared.contract import (
    CheckFinding,
    ComplaintArchived,
    ComplaintDeferred,
    ComplaintNeedsReview,
    ComplaintNeedsRouting,
    ComplaintVerified,
    Decision,
    VerificationDecide,
)
from shared.lifecycle import Actor, DeferralExpired, Severity, Status, can_take, check_reply_in_time
from shared.unit_of_work import CaseChange, Command
from shared.vocabulary import Reason, Refusal

Document = dict[str, Any]


@dataclass(frozen=True)
class Rules:
    """What verification's decisions depend on besides the case: policy and deadlines."""

    policy: VerificationPolicy
    verification_deadline: Callable[[datetime], datetime]
    #: The reporter's window to answer a deferral (issue 12), from the moment of deferring.
    deferral_deadline: Callable[[datetime], datetime]
    #: The admin desk's deadline for a case referred as "not our authority" (issue 12).
    admin_desk_deadline: Callable[[datetime], datetime]


def verified_id(tracking_id: str) -> str:
    """The ``message_id`` of a case's ``complaint.verified`` (a case is verified once)."""
    return f"verified:{tracking_id}"


def archived_id(tracking_id: str) -> str:
    """The ``message_id`` of a case's ``complaint.archived`` (archiving is final)."""
    return f"archived:{tracking_id}"


def review_id(tracking_id: str, cause: str | None = None) -> str:
    """The ``message_id`` of a ``complaint.needs_review``: the first hold, or a resume."""
    return f"needs_review:{tracking_id}" + (f":{cause}" if cause else "")


def deferred_id(tracking_id: str, command_id: str) -> str:
    """The ``message_id`` of a ``complaint.deferred`` (a case may be deferred more than once)."""
    return f"deferred:{tracking_id}:{command_id}"


def referred_id(tracking_id: str) -> str:
    """The ``message_id`` of the ``complaint.needs_routing`` of "not our authority"."""
    return f"referred:{tracking_id}"


def facts_of(case: Case) -> ReportFacts:
    """A stored case as the policy sees it."""
    reading = ReportText(case.text)  # read once: for its terms here, for the checks later
    stored_terms = case.text_terms
    return ReportFacts(
        tracking_id=case.tracking_id,
        kind=case.kind,
        text=reading.text,
        received_at=case.received_at,
        anonymous=case.anonymous,
        confidential=case.confidential,
        has_location=bool(case.location),
        category_hint=case.category_hint,
        terms=stored_terms if stored_terms is not None else reading.terms,
        fingerprints=case.reporter_fingerprints,
        reading=reading,
    )


def suggestions(case: Case) -> tuple[str | None, Severity]:
    """The stored suggestions, or fresh ones for a case that skipped the checks."""
    stored = case.suggestion
    if stored:
        return stored.get("category"), Severity(stored["severity"])
    text = ReportText(case.text)
    return suggest_category(text, case.category_hint), suggest_severity(text, case.kind)


# --- the automatic checks -------------------------------------------------------------


def decide_checked(
    case: Case, assessment: Assessment, verdict: Verdict, now: datetime
) -> CaseChange | None:
    """Store the checks' findings and apply the policy's verdict to a received case."""
    if case.status is not Status.RECEIVED:
        return None
    tid = case.tracking_id
    fields: Document = {
        "suggestion": {"category": assessment.category, "severity": str(assessment.severity)},
        "checks": [f.model_dump() for f in assessment.findings],
    }
    match verdict:
        case AutoVerify(category=category, severity=severity):
            change = CaseChange.step_of(case, "auto_verify", Actor.SYSTEM, now).with_timer(case)
            fields |= {"category": category, "severity": str(severity), "verified_at": now}
            change.emit(
                ComplaintVerified(
                    message_id=verified_id(tid),
                    tracking_id=tid,
                    occurred_at=now,
                    status=change.target,
                    kind=case.kind,
                    category=category,
                    severity=severity,
                    agency_hint=case.agency_hint,
                    anonymous=case.anonymous,
                    confidential=case.confidential,
                    by="system",
                )
            )
        case AutoArchive():
            change = CaseChange.step_of(case, "auto_archive", Actor.SYSTEM, now)
            fields |= {"archive_reason": str(verdict.reason), "archived_at": now}
            change.entry["note"] = verdict.finding.code
            if verdict.duplicate_of:
                fields["duplicate_of"] = verdict.duplicate_of
                change.entry["duplicate_of"] = verdict.duplicate_of
            change.emit(
                ComplaintArchived(
                    message_id=archived_id(tid),
                    tracking_id=tid,
                    occurred_at=now,
                    status=change.target,
                    reason=verdict.reason,
                    duplicate_of=verdict.duplicate_of,
                    reporter_message=verdict.reporter_message,
                )
            )
        case HoldForReview(findings=findings):
            change = CaseChange.step_of(case, "hold_for_review", Actor.SYSTEM, now)
            fields["checks"] = [f.model_dump() for f in findings]
            change.entry["note"] = ", ".join(f.code for f in findings)
            change.emit(
                ComplaintNeedsReview(
                    message_id=review_id(tid),
                    tracking_id=tid,
                    occurred_at=now,
                    status=change.target,
                    findings=list(findings),
                    suggested_category=assessment.category,
                    suggested_severity=assessment.severity,
                    review_deadline=case.deadline("verification"),
                )
            )
    change.fields |= fields
    change.summary = "report checked"
    change.details = {"findings": [f.code for f in assessment.findings]}
    return change


def decide_link_duplicate(original: Case, duplicate: str, now: datetime) -> CaseChange | None:
    """Record on the original case that ``duplicate`` repeats it (once)."""
    if duplicate in original.duplicates:
        return None
    change = CaseChange.record(original, "link_duplicate", Actor.SYSTEM, now)
    change.entry["duplicate"] = duplicate
    change.push["duplicates"] = duplicate
    change.guard["duplicates"] = {"$ne": duplicate}
    change.summary = "duplicate linked to its original"
    change.details = {"duplicate": duplicate}
    return change


# --- the reporter answered -------------------------------------------------------------


def reply_in_time(case: Case, added_at: datetime) -> bool:
    """Whether information added at ``added_at`` came within the case's deferral window."""
    try:
        check_reply_in_time(case.deadline("deferral"), added_at)
    except DeferralExpired:
        return False
    return True


def decide_resume(
    case: Case, cause_id: str, now: datetime, rules: Rules, added_at: datetime | None = None
) -> CaseChange | None:
    """The reporter answered the admin's question in time: back to the admin's desk.

    ``added_at`` is when the reporter added the information (the event's time; ``now``
    when absent). A late answer revives nothing: it stays on the case, and escalation
    archives the case ``no_reply`` when the window's clock runs out.
    """
    if case.status is not Status.DEFERRED or case.has_applied(cause_id):
        return None
    if not reply_in_time(case, added_at or now):
        return None
    change = CaseChange.step_of(case, "resume", Actor.REPORTER, now)
    change.command_id = cause_id
    # The admin's 3 working days start again: the time the reporter took is theirs.
    deadline = rules.verification_deadline(now)
    change.fields["deadlines.verification"] = deadline
    # The reporter's window is over: escalation watches the admin's deadline again.
    change.unset.append("deadlines.deferral")
    category, severity = suggestions(case)
    findings = [CheckFinding.model_validate(f) for f in case.checks]
    findings.append(
        CheckFinding(code=PolicyCode.INFORMATION_ADDED, detail="the reporter answered the question")
    )
    change.emit(
        ComplaintNeedsReview(
            message_id=review_id(case.tracking_id, cause_id),
            tracking_id=case.tracking_id,
            occurred_at=now,
            status=change.target,
            findings=findings,
            suggested_category=category,
            suggested_severity=severity,
            review_deadline=deadline,
        )
    )
    change.summary = "deferred case resumed"
    return change


# --- the admin's decisions -------------------------------------------------------------


def decide_admin(
    case: Case, command: Command[VerificationDecide], now: datetime, rules: Rules
) -> CaseChange | Refusal | None:
    """Apply an admin's decision once, or say why it can never be applied."""
    decide = command.message
    if reason := refusal_of(decide):
        return Refusal(Reason(reason))
    if case.has_applied(decide.message_id):
        return None
    step = STEP_OF_DECISION[decide.decision]
    if not can_take(step, case.status, Actor.ADMIN):
        return Refusal(Reason.STEP_NOT_ALLOWED, {"status": str(case.status)})
    change = CaseChange.step_of(case, step, Actor.ADMIN, now)
    change.command_id = decide.message_id
    change.entry |= {"by": decide.admin, "note": decide.note}
    change.summary = "decision applied"
    change.details = {"decision": str(decide.decision)}
    match decide.decision:
        case Decision.VERIFY:
            _verify(change, case, decide)
        case Decision.DEFER:
            question = (decide.question or "").strip()
            deferral = rules.deferral_deadline(now)
            change.fields |= {"question": question, "deadlines.deferral": deferral}
            change.emit(
                ComplaintDeferred(
                    message_id=deferred_id(case.tracking_id, decide.message_id),
                    tracking_id=case.tracking_id,
                    occurred_at=now,
                    status=change.target,
                    reporter_message=question,
                    deferral_deadline=deferral,
                )
            )
        case Decision.NOT_OUR_AUTHORITY:
            # The admin desk's own clock (1 working day) runs while it finds the agency.
            admin_desk = rules.admin_desk_deadline(now)
            change.fields["deadlines.admin_desk"] = admin_desk
            change.emit(
                ComplaintNeedsRouting(
                    message_id=referred_id(case.tracking_id),
                    tracking_id=case.tracking_id,
                    occurred_at=now,
                    status=change.target,
                    reason=(decide.note or "").strip(),
                    admin_desk_deadline=admin_desk,
                )
            )
        case Decision.ARCHIVE:
            assert decide.archive_reason is not None  # refusal_of checked it
            change.fields |= {"archive_reason": str(decide.archive_reason), "archived_at": now}
            change.emit(
                ComplaintArchived(
                    message_id=archived_id(case.tracking_id),
                    tracking_id=case.tracking_id,
                    occurred_at=now,
                    status=change.target,
                    reason=decide.archive_reason,
                )
            )
    return change


def _verify(change: CaseChange, case: Case, decide: VerificationDecide) -> None:
    """The admin verifies: their corrections win over the checks' suggestions."""
    suggested_category, suggested_severity = suggestions(case)
    category = category_slug(decide.category) if decide.category else suggested_category
    severity = decide.severity or suggested_severity
    kind = decide.kind or case.kind
    anonymous = decide.anonymous if decide.anonymous is not None else case.anonymous
    confidential = decide.confidential if decide.confidential is not None else case.confidential
    change.fields |= {
        "kind": str(kind),
        "category": category,
        "severity": str(severity),
        "anonymous": anonymous,
        "confidential": confidential,
        "verified_at": change.at,
    }
    if decide.agency:
        change.fields["agency_hint"] = decide.agency
    change.with_timer(case)
    change.emit(
        ComplaintVerified(
            message_id=verified_id(case.tracking_id),
            tracking_id=case.tracking_id,
            occurred_at=change.at,
            status=change.target,
            kind=kind,
            category=category,
            severity=severity,
            agency_hint=decide.agency or case.agency_hint,
            anonymous=anonymous,
            confidential=confidential,
            by="admin",
        )
    )
