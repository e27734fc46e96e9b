"""Verification's use cases: check a received report, apply an admin's decision, resume.

Every change is one update of the complaint document guarded by the status it was
decided on, with its events added to the outbox in the same write, so any number of
replicas and redeliveries apply each step once. Event IDs are derived from the case and
the step (``verified:<tid>``, ``archived:<tid>``, ``needs_review:<tid>``) or from the
message that caused them (``deferred:<tid>:<command id>``), so a repeat has the same ID.

Duplicates: a report is compared with the open cases received before it (within the
policy's window) that share a reporter fingerprint or one of its duplicate keys (pairs of
its rarest terms, see ``checks.dedup_keys``). The server applies the similarity test
(:func:`similar_to`), so only near-duplicates come back. A report's own terms and keys are
stored with its verdict, in the same update, so a near-identical report checked after
that finds it. Two near-identical reports checked at the same moment (the second one's
look-up before the first one's verdict is stored, a few milliseconds) by two replicas or
two deliveries may both pass; both then reach an admin or an agency, and neither is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from faststream.rabbit.message import RabbitMessage
from pydantic import ValidationError
from pymongo import UpdateOne
from pymongo.errors import PyMongoError

from services.verification.checks import OpenCase, dedup_keys, key_version
from services.verification.decisions import (
    Rules,
    decide_admin,
    decide_checked,
    decide_link_duplicate,
    decide_resume,
    facts_of,
)
from services.verification.policy import AutoArchive, ReportFacts, Verdict, assess, decide
from shared.case import Case
from shared.contract import (
    ComplaintInformationAdded,
    ComplaintReceived,
    VerificationDecide,
    parse_event,
)
from shared.lifecycle import OPEN, Status
from shared.runtime import ServiceContext, sender_of
from shared.unit_of_work import Command
from shared.vocabulary import CaseNotFound, Reason, Refused

log = logging.getLogger("lapor.verification")

#: How long to wait before re-keying again when the store was away.
REKEY_RETRY_SECONDS = 5.0

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
#: What the duplicate look-up reads of an open case: when it came, its terms (or, not yet
#: checked, its words) and who sent it.
_CANDIDATE_FIELDS: Document = {
    field: 1
    for field in ("received_at", "text_terms", "reporter.fingerprints", "title", "description")
}
_OPEN_STATUSES = sorted(str(s) for s in OPEN)
_LINK_FIELDS: Document = {"status": 1, "duplicates": 1}


#: How much lower than the policy's threshold the server's similarity test is: rounding
#: must never make it refuse a case ``find_duplicate`` (which allows 1e-9) would accept.
_SIMILARITY_SLACK = 1e-6


def similar_to(terms: list[str], threshold: float) -> Document:
    """An ``$expr``: the case's stored terms are at least ``threshold``-similar to ``terms``.

    Jaccard(A, B) ≥ t ⇔ |A ∩ B|·(1 + t) ≥ t·(|A| + |B|); a case without stored terms fails
    it. A filter only: ``find_duplicate`` decides on what comes back. ``terms`` are plain
    literals (``checks.tokens``: letters, digits and inner hyphens, never a ``$``).
    """
    t = threshold - _SIMILARITY_SLACK
    stored: Document = {"$ifNull": ["$text_terms", []]}
    return {
        "$gte": [
            {"$multiply": [1 + t, {"$size": {"$setIntersection": [stored, terms]}}]},
            {"$multiply": [t, {"$add": [len(terms), {"$size": stored}]}]},
        ]
    }


class Verification:
    """Checks every received report and applies the central admin's decisions."""

    def __init__(self, ctx: ServiceContext, rules: Rules) -> None:
        self._ctx = ctx
        self._cases = ctx.cases
        self._complaints = ctx.store.complaints
        self._rules = rules
        self._policy = rules.policy
        # Computed once: every report is compared with the same rules.
        self._duplicates = rules.policy.duplicate_rules()
        self._min_terms = self._duplicates.min_terms
        self._same_reporter_similarity = min(
            self._duplicates.same_reporter_similarity, self._duplicates.similarity
        )
        self._key_version = key_version(self._policy.duplicate_similarity)

    # --- events: complaint.received, complaint.information_added ----------------------

    async def on_event(self, body: bytes, message: RabbitMessage) -> None:
        """Check a received report, or resume a deferred case the reporter answered."""
        try:
            event = parse_event(body)
        except ValidationError as exc:
            await self._ctx.refuse(message, Reason.INVALID_EVENT, errors=exc.error_count())
            return
        try:
            match event:
                case ComplaintReceived():
                    await self.check(event.tracking_id)
                case ComplaintInformationAdded():
                    await self.resume(event.tracking_id, event.message_id, event.occurred_at)
                case _:
                    log.info("event not for verification", extra={"event": event.event})
        except Refused as refused:
            await self._ctx.refuse(message, refused.reason, **refused.details)

    async def check(self, tracking_id: str) -> Verdict | None:
        """Run the automatic checks on a received case and apply the policy's verdict."""
        case = await self._cases.load(tracking_id, CASE_FIELDS)
        if case.status is not Status.RECEIVED:
            log.info(
                "case already past the checks",
                extra={"tracking_id": tracking_id, "status": str(case.status)},
            )
            return None
        facts = facts_of(case)
        keys = dedup_keys(facts.terms, self._policy.duplicate_similarity)
        assessment = assess(facts, await self._open_cases_like(facts, keys), self._policy)
        verdict = decide(facts, assessment, self._policy)
        if isinstance(verdict, AutoArchive) and verdict.duplicate_of:
            await self._link_duplicate(verdict.duplicate_of, tracking_id)
        change = decide_checked(case, assessment, verdict, self._ctx.clock.now())
        if change is not None:
            # What the look-up of later reports reads, stored with the verdict (one update).
            change.fields |= {
                "text_terms": sorted(facts.terms),
                "dedup_keys": keys,
                "dedup_version": self._key_version,
            }
        if change is None or not await self._cases.commit(change):
            log.info(
                "case changed during its checks; left as it is", extra={"tracking_id": tracking_id}
            )
            return None
        return verdict

    async def _open_cases_like(self, facts: ReportFacts, keys: list[str]) -> list[OpenCase]:
        """Open cases received within the window before ``facts`` that it may repeat.

        One look-up, each of its branches served by its own index: cases sharing a
        duplicate key, or the same reporter's cases (a lower threshold; also those not yet
        checked, which have no stored terms). The server tests the similarity, so only
        near-duplicates come back; most recent first, at most ``duplicate_candidates``.
        Nothing for a text too short to compare (``find_duplicate`` would find nothing).
        """
        if len(facts.terms) < self._min_terms:
            return []
        since = facts.received_at - timedelta(days=self._policy.duplicate_window_days)
        terms = sorted(facts.terms)
        like: list[Document] = [
            {"dedup_keys": {"$in": keys}, "$expr": similar_to(terms, self._duplicates.similarity)}
        ]
        if facts.fingerprints:
            like.append(
                {
                    "reporter.fingerprints": {"$in": sorted(facts.fingerprints)},
                    "$or": [
                        {"text_terms": {"$exists": False}},
                        {"$expr": similar_to(terms, self._same_reporter_similarity)},
                    ],
                }
            )
        cursor = self._complaints.find(
            {
                "_id": {"$ne": facts.tracking_id},
                "status": {"$in": _OPEN_STATUSES},
                "received_at": {"$gte": since, "$lte": facts.received_at},
            }
            | (like[0] if len(like) == 1 else {"$or": like}),
            _CANDIDATE_FIELDS,
            sort=[("received_at", -1)],
            limit=self._policy.duplicate_candidates,
        )
        return [facts_of(Case(doc)).as_open_case() async for doc in cursor]

    async def rekey_once_started(self, stop: asyncio.Event) -> None:
        """:meth:`rekey`, retried while the store is away, until it is done or we stop."""
        while not stop.is_set():
            try:
                await self.rekey()
                return
            except PyMongoError as exc:
                log.warning("re-keying open cases failed; retrying", extra={"error": str(exc)})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=REKEY_RETRY_SECONDS)

    async def rekey(self, batch: int = 500) -> int:
        """Give the open cases keyed under another term order or similarity today's keys.

        Run once when verification starts (a new release with a new ``checks.KEY_ORDER``,
        or a changed ``duplicate_similarity``): the look-up of a new report only finds cases
        whose keys were made the same way. Idempotent, and safe beside other replicas doing
        the same (the keys follow from the stored terms). Until it is done, a duplicate of
        a case not yet re-keyed passes its check and goes on as a case of its own.
        """
        stale = self._complaints.find(
            {
                "status": {"$in": _OPEN_STATUSES},
                "text_terms": {"$exists": True},
                "dedup_version": {"$ne": self._key_version},
            },
            {"text_terms": 1},
            batch_size=batch,
        )
        updates: list[UpdateOne] = []
        done = 0

        async def write() -> int:
            written = await self._complaints.bulk_write(updates, ordered=False)
            updates.clear()
            return written.modified_count

        async for case in stale:
            keys = dedup_keys(case["text_terms"], self._policy.duplicate_similarity)
            updates.append(
                UpdateOne(
                    {"_id": case["_id"], "dedup_version": {"$ne": self._key_version}},
                    {"$set": {"dedup_keys": keys, "dedup_version": self._key_version}},
                )
            )
            if len(updates) >= batch:
                done += await write()
        if updates:
            done += await write()
        if done:
            log.info(
                "open cases re-keyed for the duplicate look-up",
                extra={"cases": done, "key_version": self._key_version},
            )
        return done

    async def _link_duplicate(self, original: str, duplicate: str) -> None:
        """Record on the original case that ``duplicate`` repeats it (once)."""
        now = self._ctx.clock.now()
        with contextlib.suppress(CaseNotFound):  # an original deleted meanwhile: nothing to link
            await self._cases.apply(
                original, lambda case: decide_link_duplicate(case, duplicate, now), _LINK_FIELDS
            )

    async def resume(
        self, tracking_id: str, cause_id: str, added_at: datetime | None = None
    ) -> bool:
        """The reporter answered the admin's question in time: back to the admin's desk."""
        now = self._ctx.clock.now()
        change = await self._cases.apply(
            tracking_id,
            lambda case: decide_resume(case, cause_id, now, self._rules, added_at),
            CASE_FIELDS,
        )
        if change is None:
            # Not deferred, already resumed, or after the window (the clock archives it).
            log.info(
                "information added; nothing to resume (not deferred, repeated or late)",
                extra={"tracking_id": tracking_id},
            )
        return change is not None

    # --- commands: verification.decide -------------------------------------------------

    async def on_decision(self, body: bytes, message: RabbitMessage) -> None:
        """Apply an admin's decision, or refuse it (dead-lettered) saying why."""
        try:
            decide_command = VerificationDecide.model_validate_json(body)
        except ValidationError as exc:
            fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
            await self._ctx.refuse(message, Reason.INVALID_COMMAND, fields=fields)
            return
        try:
            await self.apply(Command(decide_command, sender_of(message)))
        except Refused as refused:
            await self._ctx.refuse(
                message,
                refused.reason,
                tracking_id=decide_command.tracking_id,
                command_id=decide_command.message_id,
                decision=str(decide_command.decision),
                **refused.details,
            )

    async def apply(self, command: Command[VerificationDecide]) -> bool:
        """Apply ``command`` once; False when it had already been applied."""
        now = self._ctx.clock.now()
        change = await self._cases.apply(
            command.message.tracking_id,
            lambda case: decide_admin(case, command, now, self._rules),
            CASE_FIELDS,
        )
        if change is None:
            log.info(
                "decision already applied",
                extra={
                    "tracking_id": command.message.tracking_id,
                    "command_id": command.message.message_id,
                },
            )
        return change is not None
