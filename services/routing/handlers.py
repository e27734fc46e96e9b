"""Routing's handlers: dispatch verified cases, apply agencies' answers and reporters' replies.

Each handler reads load → decide → commit: the pure decisions are in
:mod:`services.routing.decisions`; :class:`~shared.unit_of_work.CaseStore` stores a change
with the messages it implies as ONE update guarded by the status it was decided on (and,
for a command, by its ID not yet being in ``applied[]``), then publishes them through the
outbox, deciding again when something else changed the case in between.

A command that can never be applied (malformed, from an agency that does not hold the
case, from someone who is not the reporter) is refused and dead-lettered. One that does
not apply now (already applied, or the case has moved on) is logged and acknowledged.
Logs carry tracking IDs and agency codes, never reporter identity or text.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from services.routing.decisions import Rules, decide_command, decide_route
from services.routing.registry import Agency, AgencyQueues, active_agencies
from shared.case import Case
from shared.contract import (
    ComplaintVerified,
    ExtensionDecide,
    OpdRespond,
    ReporterReply,
    RoutingDispose,
    parse_event,
)
from shared.pii import IdentityUnreadable, open_identity
from shared.runtime import ServiceContext
from shared.unit_of_work import Command, Sender
from shared.vocabulary import Reason, Refused

log = logging.getLogger("lapor.routing")

Document = dict[str, Any]

#: Routing reads the whole case but its sealed raw message and its pending messages.
CASE_FIELDS: Document = {"raw_sealed": 0, "outbox": 0}
#: How long the active agencies read from the registry are reused: ``lapor agencies
#: load`` reaches a running routing service within this time, and the registry is not
#: read again for every case.
AGENCY_CACHE_SECONDS = 10.0
_COMMANDS: Mapping[str, type[RoutingDispose | OpdRespond | ReporterReply | ExtensionDecide]] = {
    "routing.dispose": RoutingDispose,
    "opd.respond": OpdRespond,
    "reporter.reply": ReporterReply,
    "routing.extension": ExtensionDecide,
}


class Routing:
    """Routes verified cases to agencies and carries every answer back and forth."""

    def __init__(self, ctx: ServiceContext, rules: Rules, queues: AgencyQueues) -> None:
        self._ctx = ctx
        self._cases = ctx.cases
        self._queues = queues
        self._rules = dataclasses.replace(
            rules, identity=self._identity, fingerprints=self._fingerprints
        )
        self._agencies: Sequence[Agency] = ()
        self._agencies_read_at = -AGENCY_CACHE_SECONDS

    async def route_verified(self, raw: bytes) -> None:
        """Dispatch a newly verified case to its agency, or to the admin's manual queue."""
        try:
            event = parse_event(raw)
        except ValidationError as exc:
            raise Refused(Reason.INVALID_EVENT, errors=exc.error_count()) from None
        if not isinstance(event, ComplaintVerified):
            log.info("not a verified event; ignored", extra={"event": event.event})
            return
        rules, now = await self._current_rules(), self._ctx.clock.now()
        change = await self._cases.apply(
            event.tracking_id,
            lambda case: decide_route(case, event, now, rules),
            CASE_FIELDS,
        )
        if change is None:
            log.info("verified case already routed", extra={"tracking_id": event.tracking_id})

    async def handle_command(
        self, raw: bytes, routing_key: str, sender: Sender | None = None
    ) -> None:
        """Apply a ``routing.dispose``, ``routing.extension``, ``opd.respond`` or
        ``reporter.reply`` command."""
        model = _COMMANDS.get(routing_key)
        if model is None:
            raise Refused(Reason.UNKNOWN_COMMAND, routing_key=routing_key)
        try:
            message = model.model_validate_json(raw)
        except ValidationError as exc:
            fields = sorted(
                {".".join(str(p) for p in e["loc"]) or "(message)" for e in exc.errors()}
            )
            raise Refused(Reason.INVALID_COMMAND, routing_key=routing_key, fields=fields) from None
        command = Command(message, sender or Sender())
        rules, now = await self._current_rules(), self._ctx.clock.now()
        change = await self._cases.apply(
            message.tracking_id,
            lambda case: decide_command(case, command, now, rules),
            CASE_FIELDS,
        )
        if change is None:
            log.info(
                "command already applied or does not apply now; acknowledged",
                extra={"tracking_id": message.tracking_id, "command": routing_key},
            )

    async def _current_rules(self) -> Rules:
        """The rules with the active agencies, whose queues exist before anything is stored.

        A Disposition to a queue that does not exist yet would be dropped: every active
        agency's queue is declared (once per process) before a case can be sent to it.
        """
        if time.monotonic() - self._agencies_read_at >= AGENCY_CACHE_SECONDS:
            self._agencies = await active_agencies(self._ctx.store)
            self._agencies_read_at = time.monotonic()
            await self._queues.ensure(a.code for a in self._agencies)
        return dataclasses.replace(self._rules, agencies=self._agencies)

    def _identity(self, case: Case) -> Mapping[str, object]:
        """The reporter identity, or :class:`IdentityUnreadable` (never ``{}``: fail closed)."""
        try:
            return open_identity(self._ctx.protector, case.doc)
        except IdentityUnreadable:
            log.warning("reporter identity does not open", extra={"tracking_id": case.tracking_id})
            raise

    def _fingerprints(self, reply: ReporterReply) -> set[str]:
        who = reply.reporter
        return self._ctx.protector.contact_fingerprints(
            reply.channel, who.phone, who.email, who.handle
        )
