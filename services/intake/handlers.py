"""Intake's use cases: take a report in, quarantine what cannot be, tell the reporter."""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from bson.errors import InvalidDocument
from pydantic import ValidationError
from pymongo import ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from services.intake.notices import notice_for, tracking_url
from services.intake.reports import (
    RateLimit,
    ReportRefused,
    channel_of,
    check_resend,
    content_digest,
    kept_raw,
    opaque_extras,
    parse_report,
    store_refused,
    unauthorised,
    unknown_fields,
)
from shared import topology
from shared.case import Receipt, new_case, reporter_fingerprints
from shared.contract import (
    ComplaintEvent,
    ComplaintReceived,
    IntakeRejected,
    Notification,
    Reporter,
    ReportSubmitted,
    parse_event,
)
from shared.lifecycle import Kind, Status
from shared.outage import STORE_UNREACHABLE
from shared.outbox import OutboxMessage, pending_fields
from shared.runtime import ServiceContext
from shared.senders import may_resubmit, may_submit, resubmitted_quarantine
from shared.timers import timer_of
from shared.tracking import new_tracking_id
from shared.vocabulary import CaseNotFound

log = logging.getLogger("lapor.intake")

Document = dict[str, Any]
DeadlineRule = Callable[[datetime], datetime]


#: The rate-limit counters (one per scope, key digest and window; they expire with it).
RATE_LIMITS = "rate_limits"

#: How many cases' reply addresses the status relay keeps at hand (see :class:`_Addresses`).
ADDRESSES_KEPT = 10_000

#: MongoDB's duplicate key error: a full rate-limit counter refusing its upsert.
_DUPLICATE_KEY = 11000

#: How often intake draws a tracking ID before giving up (a collision is astronomically
#: rare; five in a row means something else is wrong).
TRACKING_ID_DRAWS = 5


def received_message_id(tracking_id: str) -> str:
    """The ``message_id`` of a case's ``complaint.received`` event (one per case)."""
    return f"received:{tracking_id}"


def notification_id(event_message_id: str) -> str:
    """The ``message_id`` of the notice for an event: the same however often it is sent."""
    return f"notify:{event_message_id}"


#: What the status relay reads of a case: where to send the reporter's notice.
_ADDRESS_FIELDS: Document = {"channel": 1, "external_id": 1, "reporter": 1}


class _Addresses:
    """The last cases' reply addresses (channel, external_id, the sealed reporter).

    None of them changes once intake stored the case (``lapor keys rotate`` re-seals the
    reporter, but the old key opens the old seal until every process restarts), so the
    status relay need not read the case for every event: intake keeps what it stored and
    what it read, the least recently used going first. The identity stays sealed here.
    """

    def __init__(self, size: int = ADDRESSES_KEPT) -> None:
        self._size = size
        self._kept: OrderedDict[str, Document] = OrderedDict()

    def get(self, tracking_id: str) -> Document | None:
        address = self._kept.get(tracking_id)
        if address is not None:
            self._kept.move_to_end(tracking_id)
        return address

    def keep(self, case: Document) -> None:
        address = {field: case[field] for field in ("_id", *_ADDRESS_FIELDS) if field in case}
        self._kept[case["_id"]] = address
        self._kept.move_to_end(case["_id"])
        if len(self._kept) > self._size:
            self._kept.popitem(last=False)


class Intake:
    """Takes reports in from every channel and keeps reporters informed."""

    def __init__(
        self,
        ctx: ServiceContext,
        verification_deadline: DeadlineRule,
        max_message_bytes: int,
        limits: Sequence[RateLimit] = (),
    ) -> None:
        self._ctx = ctx
        self._complaints = ctx.store.complaints
        self._verification_deadline = verification_deadline
        self._max_bytes = max_message_bytes
        self._senders = ctx.settings.sender_policy()
        #: Per channel, then per reporter (see :meth:`_count`).
        self._limits = tuple(limits)
        self._addresses = _Addresses()

    # --- taking a report in ---------------------------------------------------------

    async def take_in(
        self,
        raw: bytes,
        routing_key: str,
        message_id: str | None,
        sender: str | None = None,
        resubmitted_by: str | None = None,
    ) -> str | None:
        """Store the report in ``raw`` and announce it; its tracking ID, or None if refused.

        ``sender`` is the broker-verified ``user_id``: a report on ``channel.<name>`` comes
        from ``channel-<name>`` (or the portal for its channels), or from an admin user
        resubmitting a corrected report quarantined on that channel (message ID
        ``resubmit:<quarantine id>``; ``resubmitted_by`` names the staff member, recorded
        on the case). Another sender's report is quarantined as ``unauthorised``, its body
        sealed, before anything of it is read.
        """
        verdict = may_submit(self._senders, sender, channel_of(routing_key))
        resubmission = await self._resubmission(routing_key, message_id, sender, resubmitted_by)
        if not verdict.allowed and resubmission is not None:
            verdict = may_resubmit(self._senders, sender)
        if not verdict.allowed:
            await self.quarantine(
                raw, routing_key, message_id, unauthorised(routing_key, verdict.why)
            )
            return None
        try:
            report = parse_report(raw, routing_key, self._max_bytes)
        except ReportRefused as refused:
            await self.quarantine(raw, routing_key, message_id, refused)
            return None
        # Made once: the reporter's rate limit counts by them, the case stores them.
        prints = reporter_fingerprints(report, self._ctx.protector)
        over, counted = await self._count(report, prints)
        if over is not None:
            # A resend is idempotent (it creates nothing), so it is never over a limit.
            sent_before = await self._find(report.channel, report.external_id)
            if sent_before is None:
                await self.quarantine(raw, routing_key, message_id, over)
                return None
            await self._uncount(counted)
            return await self._resent(sent_before, report, raw, routing_key, message_id)
        await self._ctx.failpoints.reached("intake.before_store")
        # Insert first: a resend is rare, so the unique (channel, external_id) index finds
        # it, instead of a look-up before every new report.
        for _ in range(TRACKING_ID_DRAWS):
            tracking_id = new_tracking_id()
            case, messages = self._new_case(report, raw, tracking_id, prints)
            if resubmission is not None:
                case["resubmitted"] = resubmission
                note = f"dikirim ulang dari karantina {resubmission['quarantine_id']}"
                case["timeline"][0]["note"] = note
                if resubmission.get("admin"):
                    case["timeline"][0]["by"] = resubmission["admin"]
            try:
                await self._complaints.insert_one(case)
            except DuplicateKeyError:
                existing = await self._find(report.channel, report.external_id)
                if existing is not None:  # sent before, or another replica stored it first
                    await self._uncount(counted)
                    return await self._resent(existing, report, raw, routing_key, message_id)
                continue  # the drawn tracking ID was taken: draw again
            except STORE_UNREACHABLE:
                raise  # waited out by the consumer (shared/outage.py), never quarantined
            except (PyMongoError, InvalidDocument, OverflowError) as exc:
                # The store refused this document (too large, a value BSON cannot hold):
                # it would fail on every delivery, so it is kept in quarantine instead.
                not_stored = store_refused(report, type(exc).__name__)
                await self.quarantine(raw, routing_key, message_id, not_stored)
                return None
            self._addresses.keep(case)
            await self._ctx.failpoints.reached("intake.after_store")
            await self._ctx.outbox.deliver(tracking_id, messages)
            log.info(
                "report taken in",
                extra={"tracking_id": tracking_id, "channel": report.channel, "kind": report.kind},
            )
            if case["unknown_fields"]:
                log.info(
                    "report carries fields this contract does not know; kept with the case",
                    extra={"tracking_id": tracking_id, "fields": case["unknown_fields"]},
                )
            return tracking_id
        raise RuntimeError(f"no free tracking ID after {TRACKING_ID_DRAWS} draws")

    async def _resubmission(
        self,
        routing_key: str,
        message_id: str | None,
        sender: str | None,
        resubmitted_by: str | None,
    ) -> Document | None:
        """What the case records of an admin's resubmission of a quarantined report of this
        channel (None: the message is no such resubmission)."""
        quarantine_id = resubmitted_quarantine(message_id)
        if quarantine_id is None or not may_resubmit(self._senders, sender).allowed:
            return None
        quarantined = await self._ctx.store.quarantine.find_one(
            {"_id": quarantine_id}, {"channel": 1}
        )
        if quarantined is None or quarantined.get("channel") != channel_of(routing_key):
            return None
        admin = (resubmitted_by or "").strip()[:100] or None
        return {"quarantine_id": quarantine_id, "by": sender, "admin": admin}

    async def _resent(
        self,
        existing: Document,
        report: ReportSubmitted,
        raw: bytes,
        routing_key: str,
        message_id: str | None,
    ) -> str | None:
        """A report whose (channel, external_id) is stored: acknowledged again, or, with
        other content, quarantined as ``external_id_conflict``."""
        try:
            check_resend(existing.get("content_digest"), report)
        except ReportRefused as conflict:  # same id, different content
            await self.quarantine(raw, routing_key, message_id, conflict)
            return None
        return await self._acknowledge_resend(existing)

    async def _count(
        self, report: ReportSubmitted, prints: set[str]
    ) -> tuple[ReportRefused | None, list[str]]:
        """Count the report in its rate-limit windows: the refusal of a report over a limit
        (parked in quarantine) or None, and the counters it was counted in (a resend is
        taken back out of them, :meth:`_uncount`).

        Fixed windows counted in the store, so every replica counts together; the
        counter's id holds a digest, never a contact. One round trip for every limit: a
        counter counts the report unless it is full, and a full one fails its upsert on
        the unique ``_id`` (the ordered write stops there, so later limits do not count
        a refused report). Only then, or when two replicas created one counter at once,
        the rest is counted one by one, which tells the two apart.
        """
        counters = self._counters(report, prints)
        if not counters:
            return None, []
        rate_limits = self._ctx.store.db[RATE_LIMITS]
        try:
            await rate_limits.bulk_write(
                [
                    UpdateOne(
                        {"_id": bucket, "count": {"$lt": limit.limit}},
                        {"$inc": {"count": 1}, "$setOnInsert": {"expires_at": ends}},
                        upsert=True,
                    )
                    for limit, bucket, ends in counters
                ],
                ordered=True,
            )
            return None, [bucket for _, bucket, _ in counters]
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors") or []
            if exc.details.get("writeConcernErrors") or not errors:
                raise
            if errors[0].get("code") != _DUPLICATE_KEY:
                raise
            full = int(errors[0]["index"])
        counted = [bucket for _, bucket, _ in counters[:full]]
        for limit, bucket, ends in counters[full:]:
            window = await rate_limits.find_one_and_update(
                {"_id": bucket},
                {"$inc": {"count": 1}, "$setOnInsert": {"expires_at": ends}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
            counted.append(bucket)
            if window is not None and not limit.admits(int(window["count"])):
                return limit.refusal(report.channel, report.external_id), counted
        return None, counted

    async def _uncount(self, counters: list[str]) -> None:
        """Take a report back out of the windows it was counted in (it was a resend)."""
        if counters:
            await self._ctx.store.db[RATE_LIMITS].update_many(
                {"_id": {"$in": counters}}, {"$inc": {"count": -1}}
            )

    def _counters(
        self, report: ReportSubmitted, prints: set[str]
    ) -> list[tuple[RateLimit, str, datetime]]:
        """Each limit that applies to ``report``: the limit, its counter's id, its end.

        ``prints``: the reporter's fingerprints (:func:`reporter_fingerprints`).
        """
        now = self._ctx.clock.now()
        counters: list[tuple[RateLimit, str, datetime]] = []
        for limit in self._limits:
            if limit.scope == "channel":
                key = report.channel
            else:
                if not prints:
                    continue  # nobody to count: an anonymous report without contacts
                key = min(prints)
            counters.append((limit, *limit.bucket(key, now)))
        return counters

    async def _find(self, channel: str, external_id: str) -> Document | None:
        return await self._complaints.find_one(
            {"channel": channel, "external_id": external_id},
            {
                "_id": 1,
                "channel": 1,
                "external_id": 1,
                "reporter": 1,
                "deadlines": 1,
                "kind": 1,
                "content_digest": 1,
            },
        )

    def _new_case(
        self, report: ReportSubmitted, raw: bytes, tracking_id: str, prints: set[str]
    ) -> tuple[Document, list[OutboxMessage]]:
        now = self._ctx.clock.now()
        receipt = Receipt(
            tracking_id=tracking_id,
            received_at=now,
            verification_deadline=self._verification_deadline(now),
            unknown_fields=tuple(unknown_fields(report)),
        )
        # Fields a channel added beyond the contract are kept as one JSON string: data,
        # never keys of the stored document ($ref/$id, NUL or dotted keys).
        stored = report.model_copy(
            update={
                "location": opaque_extras(report.location) if report.location else None,
                "attachments": [opaque_extras(a) for a in report.attachments],
            }
        )
        case = new_case(stored, raw, receipt, self._ctx.protector, prints)
        # What the report says, so that a reuse of its external_id with other content is
        # told apart from a resend.
        case["content_digest"] = content_digest(report)
        location = case["location"]
        received = ComplaintReceived(
            message_id=received_message_id(tracking_id),
            tracking_id=tracking_id,
            occurred_at=now,
            status=Status.RECEIVED,
            channel=report.channel,
            kind=report.kind,
            anonymous=report.anonymous,
            confidential=report.confidential,
            category_hint=report.category,
            agency_hint=report.agency,
            region_code=location.get("region_code") if location else None,
            verification_deadline=receipt.verification_deadline,
        )
        messages = [OutboxMessage.of(topology.EVENTS, "complaint.received", received)]
        # The receipt goes out with the event, from the same outbox (topology
        # ``NOTIFIED_AT_COMMIT``): intake is not told of its own event to send it.
        notice = self._notice(received, case, report.reporter or Reporter())
        if notice is not None:
            messages.append(notice)
        case |= pending_fields(messages, self._ctx.grace, self._ctx.outbox.protector)
        # Escalation is not told of a report received: its timer is stored with it.
        case["escalation"] = timer_of(case, self._ctx.settings.sla, self._ctx.calendar)
        return case, messages

    async def _acknowledge_resend(self, case: Document) -> str:
        """Tell the channel the tracking ID again; nothing new is created."""
        tracking_id: str = case["_id"]
        deadline = case["deadlines"]["verification"]
        received = ComplaintReceived(
            message_id=received_message_id(tracking_id),
            tracking_id=tracking_id,
            occurred_at=self._ctx.clock.now(),
            status=Status.RECEIVED,
            channel=case["channel"],
            kind=Kind(case.get("kind", Kind.PENGADUAN)),
            anonymous=False,
            confidential=False,
            verification_deadline=deadline,
        )
        await self._notify(received, case)
        log.info("report resent; same tracking ID", extra={"tracking_id": tracking_id})
        return tracking_id

    # --- quarantine -----------------------------------------------------------------

    async def quarantine(
        self, raw: bytes, routing_key: str, message_id: str | None, refused: ReportRefused
    ) -> str:
        """Keep a refused message, sealed, with its reason, and announce it."""
        # Content-addressed: a redelivered or resent identical message is one record.
        quarantine_id = "q-" + hashlib.sha256(routing_key.encode() + b"\0" + raw).hexdigest()[:32]
        now = self._ctx.clock.now()
        problems = [p.model_dump() for p in refused.problems]
        # A message too large to keep whole is kept as its first bytes and its digest.
        kept, digest = kept_raw(raw, self._max_bytes)
        await self._ctx.store.quarantine.update_one(
            {"_id": quarantine_id},
            {
                "$setOnInsert": {
                    "quarantined_at": now,
                    "routing_key": routing_key,
                    "channel": refused.channel or channel_of(routing_key),
                    "external_id": refused.external_id,
                    "message_id": message_id,
                    "reason": refused.reason,
                    "problems": problems,
                    "size": len(raw),
                    "raw_sha256": digest,
                    # Raw input may hold identity: sealed like every identity field.
                    "raw_sealed": self._ctx.protector.seal(kept, quarantine_id),
                },
                "$set": {"last_seen_at": now},
                "$inc": {"deliveries": 1},
            },
            upsert=True,
        )
        rejected = IntakeRejected(
            message_id=f"rejected:{quarantine_id}",
            quarantine_id=quarantine_id,
            occurred_at=now,
            routing_key=routing_key,
            channel=refused.channel or channel_of(routing_key),
            external_id=refused.external_id,
            reason=refused.reason,
            problems=refused.problems,
        )
        await self._ctx.outbox.deliver(
            None, [OutboxMessage.of(topology.EVENTS, "intake.rejected", rejected)]
        )
        log.warning(
            "report quarantined",
            extra={
                "quarantine_id": quarantine_id,
                "routing_key": routing_key,
                "reason": refused.reason,
                "fields": [p.field for p in refused.problems],
            },
        )
        return quarantine_id

    # --- telling the reporter -------------------------------------------------------

    async def relay_status(self, raw: bytes) -> None:
        """Send the reporter the notice for a status event, if it is one they may see."""
        try:
            event = parse_event(raw)
        except ValidationError as exc:
            # A newer service may publish events this version does not know: not ours.
            log.info("event not relayed: unknown shape", extra={"errors": exc.error_count()})
            return
        text = notice_for(event, self._ctx.settings.timezone)
        if text is None:
            return
        case = self._addresses.get(event.tracking_id)
        if case is None:
            case = await self._complaints.find_one({"_id": event.tracking_id}, _ADDRESS_FIELDS)
            if case is None:
                raise CaseNotFound(event.tracking_id)
            self._addresses.keep(case)
        await self._notify(event, case, text)

    async def _notify(self, event: ComplaintEvent, case: Document, text: str | None = None) -> None:
        """Send the reporter ``text`` (by default the event's notice, if it has one)."""
        notice = self._notice(event, case, text=text)
        if notice is not None:
            await self._ctx.outbox.deliver(None, [notice])

    def _notice(
        self,
        event: ComplaintEvent,
        case: Document,
        reporter: Reporter | None = None,
        text: str | None = None,
    ) -> OutboxMessage | None:
        """The notice of ``event`` on the reporter's channel (None: one they never see).

        ``reporter``: who sent the report, when at hand (a new case); otherwise opened
        from the case's sealed identity.
        """
        if text is None:
            text = notice_for(event, self._ctx.settings.timezone)
        if text is None:
            return None
        if reporter is None:
            identity = self._ctx.protector.open_json(case["reporter"]["sealed"], case["_id"])
            reporter = Reporter.model_validate(identity)
        link = tracking_url(self._ctx.settings.portal_public_url, event.tracking_id)
        if link:
            text = f"{text}\nPantau laporan Anda: {link}"
        notification = Notification(
            message_id=notification_id(event.message_id),
            tracking_id=event.tracking_id,
            channel=case["channel"],
            recipient=reporter,
            in_reply_to=case["external_id"],
            event=event.event,
            status=event.status,
            text=text,
            occurred_at=event.occurred_at,
            tracking_url=link,
        )
        return OutboxMessage.of(topology.OUTBOUND, f"channel.{case['channel']}", notification)
