"""Verification's use cases: check a received report, apply an admin's decision, resume.

Every change is one update of the complaint document guarded by the status it was
decided on, with its events added to the outbox in the same write, so any number of
replicas and redeliveries apply each step once. Event IDs are derived from the case and
the step (``verified:<tid>``, ``archived:<tid>``, ``needs_review:<tid>``) or from the
message that caused them (``deferred:<tid>:<command id>``), so a repeat has the same ID.

Duplicates: a report is compared with the open cases received before it (within the
policy's window) that share a reporter fingerprint or one of its duplicate keys (its
rarest terms, see ``checks.dedup_keys``). Its own terms and keys are stored first, so a
near-identical report handled a moment later by another replica finds it. Two
near-identical reports checked at the very same instant by two replicas may still both
pass; both then reach an admin or an agency, and neither is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from faststream.rabbit.message import RabbitMessage
from pydantic import ValidationError

from services.verification.checks import (
    OpenCase,
    dedup_keys,
    text_terms,
)
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
    assess,
    category_slug,
    decide,
    refusal_of,
    suggest_category,
    suggest_severity,
)
from shared import topology
from shared.contract import (
    CheckFinding,
    ComplaintArchived,
    ComplaintDeferred,
    ComplaintInformationAdded,
    ComplaintNeedsReview,
    ComplaintNeedsRouting,
    ComplaintReceived,
    ComplaintVerified,
    Decision,
    VerificationDecide,
    event_routing_key,
    parse_event,
)
from shared.lifecycle import (
    OPEN,
    Actor,
    Kind,
    Severity,
    Status,
    can_take,
    timeline_entry,
    transition,
)
from shared.outbox import OutboxMessage, with_pending
from shared.runtime import ServiceContext, refuse

log = logging.getLogger("lapor.verification")

Document = dict[str, Any]
DeadlineRule = Callable[[datetime], datetime]

#: The fields of a case verification reads (never the sealed identity).
CASE_FIELDS: Document = {
    field: 1
    for field in (
        "status", "kind", "title", "description", "category_hint", "agency_hint", "anonymous",
        "confidential", "location", "reporter.fingerprints", "received_at", "deadlines",
        "checks", "suggestion", "applied", "text_terms",
    )
}  # fmt: skip
#: What the duplicate look-up reads of an open case found by its keys (a case of the same
#: reporter is found, with its fingerprints, by the reporter look-up).
_CANDIDATE_FIELDS: Document = {"received_at": 1, "text_terms": 1}
_OPEN_STATUSES = sorted(str(s) for s in OPEN)
_ATTEMPTS = 5


class CaseNotFound(Exception):
    """A message names a case that is not stored."""


class CommandRefused(Exception):
    """An admin's command cannot be applied: it is dead-lettered with this reason."""

    def __init__(self, reason: str, **details: object) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details


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


def report_text(case: Document) -> str:
    """The words of a report the checks read: title and description."""
    return "\n".join(part for part in (case.get("title"), case.get("description")) if part)


def facts_of(case: Document) -> ReportFacts:
    """A stored case as the policy sees it."""
    text = report_text(case)
    stored_terms = case.get("text_terms")
    return ReportFacts(
        tracking_id=case["_id"],
        kind=Kind(case.get("kind") or Kind.PENGADUAN),
        text=text,
        received_at=case["received_at"],
        anonymous=bool(case.get("anonymous")),
        has_location=bool(case.get("location")),
        category_hint=case.get("category_hint"),
        terms=frozenset(stored_terms) if stored_terms is not None else text_terms(text),
        fingerprints=frozenset((case.get("reporter") or {}).get("fingerprints") or ()),
    )


def _timeline_of(
    at: datetime, step: str, *, actor: Actor, source: Status, target: Status, **more: Any
) -> Document:
    return timeline_entry(at, step, actor, source, target, **more)


#: The events verification publishes.
VerificationEvent = (
    ComplaintVerified
    | ComplaintArchived
    | ComplaintNeedsReview
    | ComplaintDeferred
    | ComplaintNeedsRouting
)


def _event(message: VerificationEvent) -> OutboxMessage:
    return OutboxMessage.of(topology.EVENTS, event_routing_key(message), message)


class Verification:
    """Checks every received report and applies the central admin's decisions."""

    def __init__(
        self,
        ctx: ServiceContext,
        policy: VerificationPolicy,
        verification_deadline: DeadlineRule,
    ) -> None:
        self._ctx = ctx
        self._complaints = ctx.store.complaints
        self._policy = policy
        self._verification_deadline = verification_deadline

    # --- events: complaint.received, complaint.information_added ----------------------

    async def on_event(self, body: bytes, message: RabbitMessage) -> None:
        """Check a received report, or resume a deferred case the reporter answered."""
        try:
            event = parse_event(body)
        except ValidationError as exc:
            await refuse(message, "invalid_event", errors=exc.error_count())
            return
        try:
            match event:
                case ComplaintReceived():
                    await self.check(event.tracking_id)
                case ComplaintInformationAdded():
                    await self.resume(event.tracking_id, event.message_id)
                case _:
                    log.info("event not for verification", extra={"event": event.event})
        except CaseNotFound:
            await refuse(message, "unknown_tracking_id", tracking_id=event.tracking_id)

    async def check(self, tracking_id: str) -> Verdict | None:
        """Run the automatic checks on a received case and apply the policy's verdict."""
        case = await self._complaints.find_one({"_id": tracking_id}, CASE_FIELDS)
        if case is None:
            raise CaseNotFound(tracking_id)
        if case["status"] != Status.RECEIVED:
            log.info(
                "case already past the checks",
                extra={"tracking_id": tracking_id, "status": case["status"]},
            )
            return None
        facts = facts_of(case)
        # Stored before the look-up, so that a near-identical report checked just after
        # this one (by any replica) finds this case as its original.
        keys = dedup_keys(facts.terms, self._policy.duplicate_similarity)
        await self._complaints.update_one(
            {"_id": tracking_id, "status": str(Status.RECEIVED)},
            {"$set": {"text_terms": sorted(facts.terms), "dedup_keys": keys}},
        )
        assessment = assess(facts, await self._open_cases_like(facts), self._policy)
        verdict = decide(facts, assessment, self._policy)
        if isinstance(verdict, AutoArchive) and verdict.duplicate_of:
            await self._link_duplicate(verdict.duplicate_of, tracking_id)
        applied = await self._apply_verdict(case, assessment, verdict)
        return verdict if applied else None

    async def _open_cases_like(self, facts: ReportFacts) -> list[OpenCase]:
        """Open cases received within the window before ``facts`` that it may repeat.

        Two look-ups, each served by its own index: the same reporter's cases, and cases
        sharing a duplicate key. Most recent first, at most ``duplicate_candidates`` each.
        """
        since = facts.received_at - timedelta(days=self._policy.duplicate_window_days)
        window: Document = {
            "_id": {"$ne": facts.tracking_id},
            "status": {"$in": _OPEN_STATUSES},
            "received_at": {"$gte": since, "$lte": facts.received_at},
        }
        found: dict[str, OpenCase] = {}
        if len(facts.terms) >= self._policy.duplicate_rules().min_terms:
            keys = dedup_keys(facts.terms, self._policy.duplicate_similarity)
            found |= await self._candidates({"dedup_keys": {"$in": keys}} | window)
        if facts.fingerprints:
            # Not yet checked cases have no stored terms: their words come along.
            projection = {
                **_CANDIDATE_FIELDS,
                "reporter.fingerprints": 1,
                "title": 1,
                "description": 1,
            }
            by_reporter = {"reporter.fingerprints": {"$in": sorted(facts.fingerprints)}}
            found |= await self._candidates(by_reporter | window, projection)
        return list(found.values())

    async def _candidates(
        self, query: Document, projection: Document = _CANDIDATE_FIELDS
    ) -> dict[str, OpenCase]:
        cursor = self._complaints.find(
            query,
            projection,
            sort=[("received_at", -1)],
            limit=self._policy.duplicate_candidates,
        )
        return {doc["_id"]: facts_of(doc).as_open_case() async for doc in cursor}

    async def _link_duplicate(self, original: str, duplicate: str) -> None:
        """Record on the original case that ``duplicate`` repeats it (once)."""
        for _ in range(_ATTEMPTS):
            case = await self._complaints.find_one(
                {"_id": original}, {"status": 1, "duplicates": 1}
            )
            if case is None or duplicate in case.get("duplicates", []):
                return
            now = self._ctx.clock.now()
            status = Status(case["status"])
            result = await self._complaints.update_one(
                {"_id": original, "status": str(status), "duplicates": {"$ne": duplicate}},
                {
                    "$push": {
                        "duplicates": duplicate,
                        "timeline": _timeline_of(
                            now,
                            "link_duplicate",
                            actor=Actor.SYSTEM,
                            source=status,
                            target=status,
                            duplicate=duplicate,
                        ),
                    },
                    "$set": {"updated_at": now},
                },
            )
            if result.matched_count:
                log.info(
                    "duplicate linked to its original",
                    extra={"tracking_id": original, "duplicate": duplicate},
                )
                return
        raise RuntimeError(f"case {original} kept changing while a duplicate was linked")

    async def _apply_verdict(
        self, case: Document, assessment: Assessment, verdict: Verdict
    ) -> bool:
        tracking_id: str = case["_id"]
        now = self._ctx.clock.now()
        fields: Document = {
            "suggestion": {
                "category": assessment.category,
                "severity": str(assessment.severity),
            },
            "checks": [f.model_dump() for f in assessment.findings],
            "updated_at": now,
        }
        note: str | None = None
        extra: Document = {}
        match verdict:
            case AutoVerify(category=category, severity=severity):
                step = "auto_verify"
                fields |= {"category": category, "severity": str(severity), "verified_at": now}
                event: VerificationEvent = ComplaintVerified(
                    message_id=verified_id(tracking_id),
                    tracking_id=tracking_id,
                    occurred_at=now,
                    status=Status.VERIFIED,
                    kind=Kind(case["kind"]),
                    category=category,
                    severity=severity,
                    agency_hint=case.get("agency_hint"),
                    anonymous=bool(case.get("anonymous")),
                    confidential=bool(case.get("confidential")),
                    by="system",
                )
            case AutoArchive():
                step = "auto_archive"
                fields |= {"archive_reason": str(verdict.reason), "archived_at": now}
                if verdict.duplicate_of:
                    fields["duplicate_of"] = verdict.duplicate_of
                    extra["duplicate_of"] = verdict.duplicate_of
                note = verdict.finding.code
                event = ComplaintArchived(
                    message_id=archived_id(tracking_id),
                    tracking_id=tracking_id,
                    occurred_at=now,
                    status=Status.ARCHIVED,
                    reason=verdict.reason,
                    duplicate_of=verdict.duplicate_of,
                    reporter_message=verdict.reporter_message,
                )
            case HoldForReview(findings=findings):
                step = "hold_for_review"
                fields["checks"] = [f.model_dump() for f in findings]
                note = ", ".join(f.code for f in findings)
                event = ComplaintNeedsReview(
                    message_id=review_id(tracking_id),
                    tracking_id=tracking_id,
                    occurred_at=now,
                    status=Status.NEEDS_REVIEW,
                    findings=list(findings),
                    suggested_category=assessment.category,
                    suggested_severity=assessment.severity,
                    review_deadline=(case.get("deadlines") or {}).get("verification"),
                )
        target = transition(step, Status.RECEIVED, Actor.SYSTEM)
        fields["status"] = str(target)
        messages = [_event(event)]
        update = {
            "$set": fields,
            "$push": {
                "timeline": _timeline_of(
                    now,
                    step,
                    actor=Actor.SYSTEM,
                    source=Status.RECEIVED,
                    target=target,
                    note=note,
                    **extra,
                )
            },
        }
        result = await self._complaints.update_one(
            {"_id": tracking_id, "status": str(Status.RECEIVED)},
            with_pending(update, messages, self._ctx.grace),
        )
        if not result.matched_count:
            log.info(
                "case changed during its checks; left as it is", extra={"tracking_id": tracking_id}
            )
            return False
        await self._ctx.failpoints.reached("verification.after_store")
        await self._ctx.outbox.deliver(tracking_id, messages)
        log.info(
            "report checked",
            extra={
                "tracking_id": tracking_id,
                "step": step,
                "to": str(target),
                "findings": [f.code for f in assessment.findings],
            },
        )
        return True

    async def resume(self, tracking_id: str, cause_id: str) -> bool:
        """The reporter answered the admin's question: back to the admin's desk."""
        case = await self._complaints.find_one({"_id": tracking_id}, CASE_FIELDS)
        if case is None:
            raise CaseNotFound(tracking_id)
        if case["status"] != Status.DEFERRED or cause_id in case.get("applied", []):
            log.info(
                "information added; nothing to resume",
                extra={"tracking_id": tracking_id, "status": case["status"]},
            )
            return False
        now = self._ctx.clock.now()
        # The admin's 3 working days start again: the time the reporter took is theirs.
        deadline = self._verification_deadline(now)
        target = transition("resume", Status.DEFERRED, Actor.REPORTER)
        category, severity = self._suggestions(case)
        findings = [CheckFinding.model_validate(f) for f in case.get("checks", [])]
        findings.append(
            CheckFinding(
                code=PolicyCode.INFORMATION_ADDED, detail="the reporter answered the question"
            )
        )
        event = ComplaintNeedsReview(
            message_id=review_id(tracking_id, cause_id),
            tracking_id=tracking_id,
            occurred_at=now,
            status=target,
            findings=findings,
            suggested_category=category,
            suggested_severity=severity,
            review_deadline=deadline,
        )
        messages = [_event(event)]
        update = {
            "$set": {"status": str(target), "deadlines.verification": deadline, "updated_at": now},
            "$push": {
                "timeline": _timeline_of(
                    now, "resume", actor=Actor.REPORTER, source=Status.DEFERRED, target=target
                ),
                "applied": cause_id,
            },
        }
        result = await self._complaints.update_one(
            {"_id": tracking_id, "status": str(Status.DEFERRED), "applied": {"$ne": cause_id}},
            with_pending(update, messages, self._ctx.grace),
        )
        if not result.matched_count:
            log.info("case changed before it resumed", extra={"tracking_id": tracking_id})
            return False
        await self._ctx.outbox.deliver(tracking_id, messages)
        log.info("deferred case resumed", extra={"tracking_id": tracking_id, "to": str(target)})
        return True

    def _suggestions(self, case: Document) -> tuple[str | None, Severity]:
        """The stored suggestions, or fresh ones for a case that skipped the checks."""
        stored = case.get("suggestion")
        if stored:
            return stored.get("category"), Severity(stored["severity"])
        text = report_text(case)
        kind = Kind(case.get("kind") or Kind.PENGADUAN)
        return suggest_category(text, case.get("category_hint")), suggest_severity(text, kind)

    # --- commands: verification.decide -------------------------------------------------

    async def on_decision(self, body: bytes, message: RabbitMessage) -> None:
        """Apply an admin's decision, or refuse it (dead-lettered) saying why."""
        try:
            command = VerificationDecide.model_validate_json(body)
        except ValidationError as exc:
            fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
            await refuse(message, "invalid_command", fields=fields)
            return
        try:
            if reason := refusal_of(command):
                raise CommandRefused(reason)
            await self.apply(command)
        except CommandRefused as refused:
            await refuse(
                message,
                refused.reason,
                tracking_id=command.tracking_id,
                command_id=command.message_id,
                decision=str(command.decision),
                **refused.details,
            )

    async def apply(self, command: VerificationDecide) -> bool:
        """Apply ``command`` once; False when it had already been applied."""
        tracking_id = command.tracking_id
        step = STEP_OF_DECISION[command.decision]
        for _ in range(_ATTEMPTS):
            case = await self._complaints.find_one({"_id": tracking_id}, CASE_FIELDS)
            if case is None:
                raise CommandRefused("unknown_tracking_id")
            if command.message_id in case.get("applied", []):
                log.info(
                    "decision already applied",
                    extra={"tracking_id": tracking_id, "command_id": command.message_id},
                )
                return False
            current = Status(case["status"])
            if not can_take(step, current, Actor.ADMIN):
                raise CommandRefused("step_not_allowed", status=str(current))
            now = self._ctx.clock.now()
            target = transition(step, current, Actor.ADMIN)
            fields, event = self._decision(command, case, now)
            fields |= {"status": str(target), "updated_at": now}
            messages = [_event(event)]
            update = {
                "$set": fields,
                "$push": {
                    "timeline": _timeline_of(
                        now,
                        step,
                        actor=Actor.ADMIN,
                        source=current,
                        target=target,
                        by=command.admin,
                        note=command.note,
                    ),
                    "applied": command.message_id,
                },
            }
            result = await self._complaints.update_one(
                {
                    "_id": tracking_id,
                    "status": str(current),
                    "applied": {"$ne": command.message_id},
                },
                with_pending(update, messages, self._ctx.grace),
            )
            if result.matched_count:
                await self._ctx.outbox.deliver(tracking_id, messages)
                log.info(
                    "decision applied",
                    extra={
                        "tracking_id": tracking_id,
                        "decision": str(command.decision),
                        "from": str(current),
                        "to": str(target),
                    },
                )
                return True
            # Changed between reading and writing (another decision, another replica): look again.
        raise RuntimeError(f"case {tracking_id} kept changing while a decision was applied")

    def _decision(
        self, command: VerificationDecide, case: Document, now: datetime
    ) -> tuple[Document, VerificationEvent]:
        """The fields a decision stores and the event it publishes."""
        tracking_id = command.tracking_id
        match command.decision:
            case Decision.VERIFY:
                suggested_category, suggested_severity = self._suggestions(case)
                category = (
                    category_slug(command.category) if command.category else suggested_category
                )
                severity = command.severity or suggested_severity
                kind = command.kind or Kind(case.get("kind") or Kind.PENGADUAN)
                anonymous = (
                    command.anonymous
                    if command.anonymous is not None
                    else bool(case.get("anonymous"))
                )
                confidential = (
                    command.confidential
                    if command.confidential is not None
                    else bool(case.get("confidential"))
                )
                agency_hint = command.agency or case.get("agency_hint")
                fields: Document = {
                    "kind": str(kind),
                    "category": category,
                    "severity": str(severity),
                    "anonymous": anonymous,
                    "confidential": confidential,
                    "verified_at": now,
                }
                if command.agency:
                    fields["agency_hint"] = command.agency
                return fields, ComplaintVerified(
                    message_id=verified_id(tracking_id),
                    tracking_id=tracking_id,
                    occurred_at=now,
                    status=Status.VERIFIED,
                    kind=kind,
                    category=category,
                    severity=severity,
                    agency_hint=agency_hint,
                    anonymous=anonymous,
                    confidential=confidential,
                    by="admin",
                )
            case Decision.DEFER:
                question = (command.question or "").strip()
                return {"question": question}, ComplaintDeferred(
                    message_id=deferred_id(tracking_id, command.message_id),
                    tracking_id=tracking_id,
                    occurred_at=now,
                    status=Status.DEFERRED,
                    reporter_message=question,
                )
            case Decision.NOT_OUR_AUTHORITY:
                return {}, ComplaintNeedsRouting(
                    message_id=referred_id(tracking_id),
                    tracking_id=tracking_id,
                    occurred_at=now,
                    status=Status.AWAITING_ROUTING,
                    reason=(command.note or "").strip(),
                )
            case Decision.ARCHIVE:
                assert command.archive_reason is not None  # refusal_of checked it
                return {"archive_reason": str(command.archive_reason), "archived_at": now}, (
                    ComplaintArchived(
                        message_id=archived_id(tracking_id),
                        tracking_id=tracking_id,
                        occurred_at=now,
                        status=Status.ARCHIVED,
                        reason=command.archive_reason,
                    )
                )
        raise AssertionError(f"unknown decision {command.decision!r}")
