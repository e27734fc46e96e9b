"""Routing's use cases: dispatch verified cases, apply agencies' answers and reporters' replies.

Each use case loads the case, asks the pure rules (:mod:`services.routing.rules`) and the
lifecycle what happens, and stores the change together with the messages it implies as
ONE conditional update, guarded by the status it read (and, for a command, by its ID not
yet being in ``applied[]``), then publishes through the outbox. When the guard fails
because something else changed the case in between, the case is read again and the
decision retaken.

A command that can never be applied (malformed, from an agency that does not hold the
case, from someone who is not the reporter) raises :class:`Refused` and is dead-lettered.
One that does not apply now (already applied, or the case has moved on) is logged and
acknowledged. Logs carry tracking IDs and agency codes, never reporter identity or text.

Every answer for the reporter leaves as a domain event; intake turns it into a notice on
the reporter's own channel (the one door). Routing never writes to ``lapor.outbound``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from services.routing.disposition import agency_view
from services.routing.registry import Agency, AgencyQueues, active_agencies
from services.routing.rules import CaseFacts, Choice, choose_agency, choose_next_agency
from shared import topology
from shared.contract import (
    AgencyAction,
    ComplaintClosed,
    ComplaintDispatched,
    ComplaintFollowedUp,
    ComplaintForwarded,
    ComplaintInformationAdded,
    ComplaintNeedsRouting,
    ComplaintRated,
    ComplaintReopened,
    ComplaintResolved,
    ComplaintVerified,
    OpdRespond,
    ReporterAction,
    ReporterReply,
    RoutingDispose,
    parse_event,
)
from shared.lifecycle import Actor, Severity, Status, can_take, timeline_entry, transition
from shared.outbox import OutboxMessage, with_pending
from shared.pii import IdentityUnreadable
from shared.runtime import ServiceContext

log = logging.getLogger("lapor.routing")

Document = dict[str, Any]

#: How often a use case re-reads a case that changed under it before giving up
#: (the message is then redelivered).
ATTEMPTS = 5
ADMIN_RULE = "admin"
_AGENCY_STEPS = {
    AgencyAction.ACKNOWLEDGE: "acknowledge",
    AgencyAction.FOLLOW_UP: "follow_up",
    AgencyAction.RESOLVE: "resolve",
    AgencyAction.NOT_OUR_AUTHORITY: "forward",
}
_REPORTER_STEPS = {
    ReporterAction.ADD_INFORMATION: "add_information",
    ReporterAction.RATE: "rate",
    ReporterAction.ACCEPT: "accept",
    ReporterAction.REOPEN: "reopen",
}
_HOLDING = frozenset({Status.DISPATCHED, Status.IN_PROGRESS})


class Refused(Exception):
    """A message that can never be processed: dead-letter it with this reason."""

    def __init__(self, reason: str, **details: object) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details


class CaseKeptChanging(RuntimeError):
    """The case changed under every attempt; the message is redelivered."""


@dataclass
class Change:
    """One conditional update of a case and the messages it implies."""

    tracking_id: str
    filter: Document
    update: Document
    messages: list[OutboxMessage]
    summary: str
    details: dict[str, object] = field(default_factory=dict)


def _event(exchange: str, routing_key: str, message: BaseModel) -> OutboxMessage:
    return OutboxMessage.of(exchange, routing_key, message)


def _domain(event: BaseModel) -> OutboxMessage:
    return _event(topology.EVENTS, f"complaint.{getattr(event, 'event')}", event)  # noqa: B009


class Routing:
    """Routes verified cases to agencies and carries every answer back and forth."""

    def __init__(
        self,
        ctx: ServiceContext,
        *,
        hop_limit: int,
        default_severity: Severity,
        queues: AgencyQueues,
    ) -> None:
        self._ctx = ctx
        self._complaints = ctx.store.complaints
        self._hop_limit = hop_limit
        self._default_severity = default_severity
        self._queues = queues

    # --- entry points -----------------------------------------------------------------

    async def route_verified(self, raw: bytes) -> None:
        """Dispatch a newly verified case to its agency, or to the admin's manual queue."""
        try:
            event = parse_event(raw)
        except ValidationError as exc:
            raise Refused("not a domain event", errors=exc.error_count()) from None
        if not isinstance(event, ComplaintVerified):
            log.info("not a verified event; ignored", extra={"event": event.event})
            return
        for _ in range(ATTEMPTS):
            case = await self._load(event.tracking_id)
            if case["status"] != Status.VERIFIED:
                log.info(
                    "verified case already routed",
                    extra={"tracking_id": event.tracking_id, "status": case["status"]},
                )
                return
            change = await self._route_new(case, event)
            if await self._commit(change):
                return
        raise CaseKeptChanging(event.tracking_id)

    async def handle_command(self, raw: bytes, routing_key: str) -> None:
        """Apply a ``routing.dispose``, ``opd.respond`` or ``reporter.reply`` command."""
        model: type[RoutingDispose | OpdRespond | ReporterReply]
        if routing_key == "routing.dispose":
            model = RoutingDispose
        elif routing_key == "opd.respond":
            model = OpdRespond
        elif routing_key == "reporter.reply":
            model = ReporterReply
        else:
            raise Refused("unknown command", routing_key=routing_key)
        try:
            command = model.model_validate_json(raw)
        except ValidationError as exc:
            fields = sorted(
                {".".join(str(p) for p in e["loc"]) or "(message)" for e in exc.errors()}
            )
            raise Refused("invalid command", routing_key=routing_key, fields=fields) from None
        for _ in range(ATTEMPTS):
            case = await self._load(command.tracking_id)
            if command.message_id in case.get("applied", []):
                log.info(
                    "command already applied",
                    extra={"tracking_id": command.tracking_id, "command": routing_key},
                )
                return
            change = await self._decide(case, command)
            if change is None or await self._commit(change):
                return
        raise CaseKeptChanging(command.tracking_id)

    async def _decide(
        self, case: Document, command: RoutingDispose | OpdRespond | ReporterReply
    ) -> Change | None:
        if isinstance(command, RoutingDispose):
            return await self._dispose(case, command)
        if isinstance(command, OpdRespond):
            return await self._respond(case, command)
        return await self._reply(case, command)

    # --- storing ----------------------------------------------------------------------

    async def _load(self, tracking_id: str) -> Document:
        case = await self._complaints.find_one({"_id": tracking_id}, {"raw_sealed": 0, "outbox": 0})
        if case is None:
            raise Refused("unknown case", tracking_id=tracking_id)
        return case

    async def _commit(self, change: Change) -> bool:
        """Store ``change`` with its messages (one update), then publish them."""
        agencies = [
            m.routing_key.removeprefix("opd.")
            for m in change.messages
            if m.exchange == topology.OPD
        ]
        # Before storing: a Disposition to a queue that does not exist yet would be dropped.
        await self._queues.ensure(agencies)
        update = with_pending(change.update, change.messages, self._ctx.grace)
        result = await self._complaints.update_one(change.filter, update)
        if result.matched_count == 0:
            log.info(
                "case changed meanwhile; deciding again",
                extra={"tracking_id": change.tracking_id},
            )
            return False
        await self._ctx.failpoints.reached("routing.after_store")
        await self._ctx.outbox.deliver(change.tracking_id, change.messages)
        log.info(change.summary, extra={"tracking_id": change.tracking_id, **change.details})
        return True

    def _not_now(self, case: Document, what: str, **details: object) -> None:
        log.info(
            "command does not apply now; acknowledged",
            extra={
                "tracking_id": case["_id"],
                "status": case["status"],
                "command": what,
                **details,
            },
        )

    # --- reading a case ---------------------------------------------------------------

    def _identity(self, case: Document) -> dict[str, object]:
        sealed = (case.get("reporter") or {}).get("sealed")
        if sealed is None:
            return {}
        try:
            return self._ctx.protector.open_json(sealed, case["_id"])
        except IdentityUnreadable:
            log.warning("reporter identity does not open", extra={"tracking_id": case["_id"]})
            return {}

    def _facts(self, case: Document, event: ComplaintVerified | None = None) -> CaseFacts:
        location = case.get("location") or {}
        texts = [case.get("title") or "", case.get("description") or ""]
        texts += [a["text"] for a in case.get("additions") or []]
        admin_hint = event.agency_hint if event is not None and event.by == "admin" else None
        category = (event.category if event else None) or case.get("category")
        hint = (event.agency_hint if event else None) or case.get("agency_hint")
        return CaseFacts(
            category=category or case.get("category_hint"),
            region_code=location.get("region_code"),
            agency_hint=hint,
            hint_from_admin=admin_hint is not None,
            text="\n".join(texts),
        )

    def _severity(self, case: Document, override: Severity | None = None) -> Severity:
        hops = case.get("hops") or [{}]
        value = override or case.get("severity") or hops[-1].get("severity")
        return Severity(value) if value else self._default_severity

    def _tz(self, agency_tz: str | None) -> str:
        return agency_tz or self._ctx.settings.timezone

    @staticmethod
    def _closed_hops(case: Document, closing: Document | None) -> list[Document]:
        hops = [dict(h) for h in case.get("hops") or []]
        if closing and hops:
            hops[-1] |= closing
        return hops

    @staticmethod
    def _applied(command_id: str | None) -> tuple[Document, Document]:
        """The filter and ``$push`` parts that make a command apply at most once."""
        if command_id is None:
            return {}, {}
        return {"applied": {"$ne": command_id}}, {"applied": command_id}

    # --- dispatching ------------------------------------------------------------------

    async def _route_new(self, case: Document, event: ComplaintVerified) -> Change:
        choice = choose_agency(self._facts(case, event), await active_agencies(self._ctx.store))
        if choice.agency is None:
            return self._to_admin(
                case,
                step="route_manually",
                actor=Actor.SYSTEM,
                reason=choice.reason,
                cause="route_manually",
            )
        return self._dispatch(
            case,
            choice.agency,
            step="dispatch",
            actor=Actor.SYSTEM,
            rule=str(choice.rule),
            reason=choice.reason,
            severity=event.severity,
        )

    def _dispatch(
        self,
        case: Document,
        agency: Agency,
        *,
        step: str,
        actor: Actor,
        rule: str,
        reason: str,
        severity: Severity | None = None,
        by: str | None = None,
        headline: str | None = None,
        command_id: str | None = None,
        closing: Document | None = None,
        before: list[OutboxMessage] | None = None,
        timeline_note: str | None = None,
        extra_filter: Document | None = None,
    ) -> Change:
        """Put the case on ``agency``'s queue: a new hop, its deadlines, its Disposition."""
        tid = case["_id"]
        now = self._ctx.clock.now()
        current = Status(case["status"])
        target = transition(step, current, actor)
        hop = (case.get("hop") or 0) + 1
        severity = self._severity(case, severity)
        sla, calendar = self._ctx.settings.sla, self._ctx.calendar
        follow_up = sla.follow_up_deadline(calendar, now, agency.timezone)
        resolution = sla.resolution_deadline(calendar, now, severity, agency.timezone)
        disposition = agency_view(
            case,
            message_id=f"disposition:{tid}:{hop}",
            agency=agency.code,
            hop=hop,
            severity=severity,
            dispatched_at=now,
            follow_up_deadline=follow_up,
            resolution_deadline=resolution,
            headline=headline,
            identity=self._identity(case),
            tz=self._tz(agency.timezone),
        )
        dispatched = ComplaintDispatched(
            message_id=f"dispatched:{tid}:{hop}",
            tracking_id=tid,
            occurred_at=now,
            status=target,
            agency=agency.code,
            agency_name=agency.name,
            hop=hop,
            follow_up_deadline=follow_up,
            resolution_deadline=resolution,
            severity=severity,
        )
        new_hop = {
            "hop": hop,
            "agency": agency.code,
            "agency_name": agency.name,
            "at": now,
            "rule": rule,
            "reason": reason,
            "severity": str(severity),
        } | ({"by": by} if by else {})
        guard, push = self._applied(command_id)
        return Change(
            tracking_id=tid,
            filter={"_id": tid, "status": str(current), "hop": case.get("hop")}
            | guard
            | (extra_filter or {}),
            update={
                "$set": {
                    "status": str(target),
                    "agency": agency.code,
                    "agency_name": agency.name,
                    "agency_tz": agency.timezone,
                    "hop": hop,
                    "hops": [*self._closed_hops(case, closing), new_hop],
                    "dispatched_at": now,
                    "deadlines.follow_up": follow_up,
                    "deadlines.resolution": resolution,
                    "updated_at": now,
                },
                "$push": {
                    "timeline": timeline_entry(
                        now,
                        step,
                        actor,
                        current,
                        target,
                        by=by,
                        agency=agency.code,
                        note=timeline_note or reason,
                        rule=rule,
                    ),
                    **push,
                },
            },
            messages=[
                *(before or []),
                _event(topology.OPD, f"opd.{agency.code}", disposition),
                _domain(dispatched),
            ],
            summary="case dispatched",
            details={"agency": agency.code, "hop": hop, "rule": rule, "step": step},
        )

    def _to_admin(
        self,
        case: Document,
        *,
        step: str,
        actor: Actor,
        reason: str,
        cause: str,
        by: str | None = None,
        agency: str | None = None,
        command_id: str | None = None,
        closing: Document | None = None,
        before: list[OutboxMessage] | None = None,
        timeline_note: str | None = None,
        extra_filter: Document | None = None,
    ) -> Change:
        """Put the case in the admin's manual queue (``admin.review``), with the reason."""
        tid = case["_id"]
        now = self._ctx.clock.now()
        current = Status(case["status"])
        target = transition(step, current, actor)
        needs_routing = ComplaintNeedsRouting(
            message_id=f"needs_routing:{tid}:{cause}",
            tracking_id=tid,
            occurred_at=now,
            status=target,
            reason=reason,
        )
        guard, push = self._applied(command_id)
        set_fields: Document = {"status": str(target), "updated_at": now}
        if closing:
            set_fields["hops"] = self._closed_hops(case, closing)
        return Change(
            tracking_id=tid,
            filter={"_id": tid, "status": str(current), "hop": case.get("hop")}
            | guard
            | (extra_filter or {}),
            update={
                "$set": set_fields,
                # The case has no agency while it waits: no agency deadline runs.
                "$unset": {
                    "agency": "",
                    "agency_name": "",
                    "agency_tz": "",
                    "deadlines.follow_up": "",
                    "deadlines.resolution": "",
                },
                "$push": {
                    "timeline": timeline_entry(
                        now,
                        step,
                        actor,
                        current,
                        target,
                        by=by,
                        agency=agency,
                        note=timeline_note or reason,
                        rule="manual",
                    ),
                    **push,
                },
            },
            messages=[*(before or []), _domain(needs_routing)],
            summary="case sent to the admin's manual queue",
            details={"step": step},
        )

    async def _dispose(self, case: Document, command: RoutingDispose) -> Change | None:
        """The admin routes a case by hand."""
        if not can_take("dispose", Status(case["status"]), Actor.ADMIN):
            self._not_now(case, "routing.dispose")
            return None
        agencies = {a.code: a for a in await active_agencies(self._ctx.store)}
        agency = agencies.get(command.agency)
        if agency is None:
            raise Refused(
                "unknown or inactive agency", tracking_id=case["_id"], agency=command.agency
            )
        return self._dispatch(
            case,
            agency,
            step="dispose",
            actor=Actor.ADMIN,
            rule=ADMIN_RULE,
            reason=f"dipilih admin: {agency.name}",
            by=command.admin,
            headline=command.note,
            command_id=command.message_id,
            timeline_note=command.note or f"dipilih admin: {agency.name}",
        )

    # --- agencies' answers ------------------------------------------------------------

    async def _respond(self, case: Document, command: OpdRespond) -> Change | None:
        """An agency's answer: acknowledge, follow up, resolve, or "not our authority"."""
        if case.get("agency") != command.agency:
            raise Refused(
                "the agency does not hold the case",
                tracking_id=case["_id"],
                agency=command.agency,
                action=str(command.action),
            )
        if command.action is not AgencyAction.ACKNOWLEDGE and not command.message:
            raise Refused(
                "this answer needs a message",
                tracking_id=case["_id"],
                action=str(command.action),
            )
        step = _AGENCY_STEPS[command.action]
        current = Status(case["status"])
        if not can_take(step, current, Actor.AGENCY):
            self._not_now(case, "opd.respond", action=str(command.action))
            return None
        if command.action is AgencyAction.NOT_OUR_AUTHORITY:
            return await self._forward(case, command)
        return self._answer(case, command, step, current)

    def _answer(self, case: Document, command: OpdRespond, step: str, current: Status) -> Change:
        tid, now = case["_id"], self._ctx.clock.now()
        target = transition(step, current, Actor.AGENCY)
        set_fields: Document = {"status": str(target), "updated_at": now}
        event: BaseModel
        if command.action is AgencyAction.RESOLVE:
            auto_close = self._ctx.settings.sla.auto_close_at(
                self._ctx.calendar, now, case.get("agency_tz")
            )
            set_fields |= {
                "resolved_at": now,
                "deadlines.auto_close": auto_close,
                "final_answer": {
                    "at": now,
                    "agency": command.agency,
                    "by": command.liaison,
                    "text": command.message,
                },
            }
            event = ComplaintResolved(
                message_id=f"resolved:{tid}:{command.message_id}",
                tracking_id=tid,
                occurred_at=now,
                status=target,
                reporter_message=command.message,
                agency=command.agency,
                auto_close_at=auto_close,
            )
        else:
            acknowledged_only = command.action is AgencyAction.ACKNOWLEDGE
            event = ComplaintFollowedUp(
                message_id=f"followed_up:{tid}:{command.message_id}",
                tracking_id=tid,
                occurred_at=now,
                status=target,
                reporter_message=None if acknowledged_only else command.message,
                agency=command.agency,
                acknowledged_only=acknowledged_only,
            )
        guard, push = self._applied(command.message_id)
        return Change(
            tracking_id=tid,
            filter={"_id": tid, "status": str(current), "agency": command.agency} | guard,
            update={
                "$set": set_fields,
                "$min": {"first_answer_at": now},
                "$push": {
                    "timeline": timeline_entry(
                        now,
                        step,
                        Actor.AGENCY,
                        current,
                        target,
                        by=command.liaison,
                        agency=command.agency,
                        note=command.message,
                    ),
                    **push,
                },
            },
            messages=[_domain(event)],
            summary="agency answer applied",
            details={"agency": command.agency, "step": step},
        )

    async def _forward(self, case: Document, command: OpdRespond) -> Change:
        """ "Not our authority": on to the next agency, or to the admin."""
        tid, now = case["_id"], self._ctx.clock.now()
        reason = command.message or ""
        tried = [h["agency"] for h in case.get("hops") or []]
        choice: Choice[Agency] = choose_next_agency(
            self._facts(case),
            await active_agencies(self._ctx.store),
            tried,
            command.suggested_agency,
            self._hop_limit,
        )
        closing = {
            "ended_at": now,
            "outcome": "not_our_authority",
            "outcome_reason": reason,
            "outcome_by": command.liaison,
        }
        from_name = case.get("agency_name") or command.agency
        common: dict[str, Any] = {
            "by": command.liaison,
            "command_id": command.message_id,
            "closing": closing,
            "extra_filter": {"agency": command.agency},
        }
        if choice.agency is not None:
            hop = (case.get("hop") or 0) + 1
            forwarded = ComplaintForwarded(
                message_id=f"forwarded:{tid}:{command.message_id}",
                tracking_id=tid,
                occurred_at=now,
                status=transition("forward", Status(case["status"]), Actor.AGENCY),
                from_agency=command.agency,
                to_agency=choice.agency.code,
                reason=reason,
                hop=hop,
            )
            return self._dispatch(
                case,
                choice.agency,
                step="forward",
                actor=Actor.AGENCY,
                rule=str(choice.rule),
                reason=choice.reason,
                headline=f"Dialihkan dari {from_name} (bukan kewenangannya): {reason}",
                before=[_domain(forwarded)],
                timeline_note=(
                    f"bukan kewenangan {command.agency}: {reason} — dialihkan ke "
                    f"{choice.agency.code} ({choice.reason})"
                ),
                **common,
            )
        forwarded = ComplaintForwarded(
            message_id=f"forwarded:{tid}:{command.message_id}",
            tracking_id=tid,
            occurred_at=now,
            status=Status.AWAITING_ROUTING,
            from_agency=command.agency,
            reason=reason,
            hop=max(case.get("hop") or 1, 1),
        )
        return self._to_admin(
            case,
            step="return_to_admin",
            actor=Actor.AGENCY,
            reason=f"{from_name} menyatakan bukan kewenangannya ({reason}); {choice.reason}",
            cause=command.message_id,
            agency=command.agency,
            before=[_domain(forwarded)],
            timeline_note=(
                f"bukan kewenangan {command.agency}: {reason} — ke admin: {choice.reason}"
            ),
            **common,
        )

    # --- reporters' replies -----------------------------------------------------------

    def _reply_fingerprints(self, reply: ReporterReply) -> set[str]:
        who = reply.reporter
        return self._ctx.protector.contact_fingerprints(
            reply.channel, who.phone, who.email, who.handle
        )

    def _from_reporter(self, case: Document, reply: ReporterReply) -> bool:
        known = set((case.get("reporter") or {}).get("fingerprints") or [])
        return bool(known & self._reply_fingerprints(reply))

    async def _reply(self, case: Document, command: ReporterReply) -> Change | None:
        """The reporter adds information, rates the answer, accepts it, or reopens."""
        if not self._from_reporter(case, command):
            raise Refused(
                "the reply does not come from the case's reporter",
                tracking_id=case["_id"],
                action=str(command.action),
            )
        if command.action is ReporterAction.ADD_INFORMATION and not command.message:
            raise Refused("add_information needs a message", tracking_id=case["_id"])
        if command.action is ReporterAction.RATE and command.rating is None:
            raise Refused("rate needs a rating", tracking_id=case["_id"])
        step = _REPORTER_STEPS[command.action]
        current = Status(case["status"])
        if not can_take(step, current, Actor.REPORTER):
            self._not_now(case, "reporter.reply", action=str(command.action))
            return None
        if command.action is ReporterAction.ADD_INFORMATION:
            return self._add_information(case, command, current)
        if command.action is ReporterAction.REOPEN:
            return self._reopen(case, command, current)
        return self._rate_or_accept(case, command, step, current)

    def _add_information(self, case: Document, command: ReporterReply, current: Status) -> Change:
        tid, now = case["_id"], self._ctx.clock.now()
        addition = {"at": now, "text": command.message, "message_id": command.message_id}
        added = ComplaintInformationAdded(
            message_id=f"information_added:{tid}:{command.message_id}",
            tracking_id=tid,
            occurred_at=now,
            status=current,
        )
        messages = [_domain(added)]
        agency = case.get("agency")
        if current in _HOLDING and agency:
            # The agency holding the case gets the new information at once.
            updated = case | {"additions": [*(case.get("additions") or []), addition]}
            deadlines = case.get("deadlines") or {}
            disposition = agency_view(
                updated,
                message_id=f"disposition:{tid}:info:{command.message_id}",
                agency=agency,
                hop=case.get("hop") or 1,
                severity=self._severity(case),
                dispatched_at=case.get("dispatched_at") or now,
                follow_up_deadline=deadlines.get("follow_up") or now,
                resolution_deadline=deadlines.get("resolution") or now,
                headline="Pembaruan: pelapor menambahkan informasi (lihat di bawah).",
                identity=self._identity(case),
                tz=self._tz(case.get("agency_tz")),
            )
            messages.append(_event(topology.OPD, f"opd.{agency}", disposition))
        guard, push = self._applied(command.message_id)
        return Change(
            tracking_id=tid,
            filter={"_id": tid, "status": str(current), "agency": agency} | guard,
            update={
                "$set": {"updated_at": now},
                "$push": {
                    "additions": addition,
                    "timeline": timeline_entry(
                        now,
                        "add_information",
                        Actor.REPORTER,
                        current,
                        current,
                        agency=agency,
                        note="pelapor menambahkan informasi",
                    ),
                    **push,
                },
            },
            messages=messages,
            summary="reporter added information",
            details={"forwarded_to_agency": len(messages) > 1},
        )

    def _reopen(self, case: Document, command: ReporterReply, current: Status) -> Change:
        tid, now = case["_id"], self._ctx.clock.now()
        target = transition("reopen", current, Actor.REPORTER)
        agency, agency_tz = case["agency"], case.get("agency_tz")
        reason = command.message or "Pelapor belum puas dengan jawaban instansi."
        follow_up = self._ctx.settings.sla.follow_up_deadline(self._ctx.calendar, now, agency_tz)
        deadlines = case.get("deadlines") or {}
        # The resolution deadline stays: a reopened case is measured against the first promise.
        resolution = deadlines.get("resolution") or follow_up
        reopened = ComplaintReopened(
            message_id=f"reopened:{tid}:{command.message_id}",
            tracking_id=tid,
            occurred_at=now,
            status=target,
            agency=agency,
            reason=reason,
            follow_up_deadline=follow_up,
        )
        disposition = agency_view(
            case,
            message_id=f"disposition:{tid}:reopen:{command.message_id}",
            agency=agency,
            hop=case.get("hop") or 1,
            severity=self._severity(case),
            dispatched_at=now,
            follow_up_deadline=follow_up,
            resolution_deadline=resolution,
            headline=f"Dibuka kembali oleh pelapor: {reason}",
            identity=self._identity(case),
            tz=self._tz(agency_tz),
        )
        guard, push = self._applied(command.message_id)
        return Change(
            tracking_id=tid,
            filter={"_id": tid, "status": str(current), "agency": agency} | guard,
            update={
                "$set": {
                    "status": str(target),
                    "reopened_at": now,
                    "deadlines.follow_up": follow_up,
                    "updated_at": now,
                },
                "$unset": {"deadlines.auto_close": ""},
                "$inc": {"reopen_count": 1},
                "$push": {
                    "timeline": timeline_entry(
                        now,
                        "reopen",
                        Actor.REPORTER,
                        current,
                        target,
                        agency=agency,
                        note=reason,
                    ),
                    **push,
                },
            },
            messages=[_event(topology.OPD, f"opd.{agency}", disposition), _domain(reopened)],
            summary="case reopened",
            details={"agency": agency},
        )

    def _rate_or_accept(
        self, case: Document, command: ReporterReply, step: str, current: Status
    ) -> Change:
        tid, now = case["_id"], self._ctx.clock.now()
        target = transition(step, current, Actor.REPORTER)
        set_fields: Document = {"updated_at": now}
        messages: list[OutboxMessage] = []
        if command.rating is not None:
            set_fields |= {"rating": command.rating, "rated_at": now}
            rated = ComplaintRated(
                message_id=f"rated:{tid}:{command.message_id}",
                tracking_id=tid,
                occurred_at=now,
                status=target,
                rating=command.rating,
            )
            messages.append(_domain(rated))
        if step == "accept":
            set_fields |= {"status": str(target), "closed_at": now, "close_reason": "accepted"}
            closed = ComplaintClosed(
                message_id=f"closed:{tid}:{command.message_id}",
                tracking_id=tid,
                occurred_at=now,
                status=target,
                reason="accepted",
            )
            messages.append(_domain(closed))
        note = f"nilai {command.rating}/5" if command.rating is not None else None
        guard, push = self._applied(command.message_id)
        return Change(
            tracking_id=tid,
            filter={"_id": tid, "status": str(current)} | guard,
            update={
                "$set": set_fields,
                "$push": {
                    "timeline": timeline_entry(
                        now,
                        step,
                        Actor.REPORTER,
                        current,
                        target,
                        agency=case.get("agency"),
                        note=note,
                    ),
                    **push,
                },
            },
            messages=messages,
            summary="reporter reply applied",
            details={"step": step},
        )
