"""Escalation's use cases: keep each case's next due step, fire every step once, auto-close.

The timer of a case is ``escalation.next_at`` on its document (indexed). Three things
move it: the steps every report takes (received, verified, dispatched), which store it
in their own update (``shared/timers.py``); any other ``complaint.*`` event
(:meth:`Escalation.reschedule` re-reads the case and recomputes it; a fresh event that
names every field its status's plan reads writes the timer straight away, guarded by
those fields, and reads only when the guard misses); and the scanner
(:meth:`Escalation.scan_once`), which claims cases whose time has come, fires their due
steps and stores the next time.

Exactly once, with any number of replicas: a step is fired by ONE conditional update that
records its key in ``escalation.fired`` (guarded by "key not yet there" and by the fields
the step was computed from) and adds its messages to the outbox; only the replica whose
update matched publishes them. The claim is a lease (``next_at`` moved into the future),
so replicas do not work on the same case at once, and a replica that dies holding one
only delays it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from typing import Any

from faststream.rabbit.message import RabbitMessage
from pydantic import BaseModel, ConfigDict, ValidationError
from pymongo import ReturnDocument

from services.escalation.decisions import (
    decide_acknowledge,
    decide_auto_close,
    decide_expire_deferral,
    decide_fire,
    presume,
    read_guard,
)
from shared.case import Case
from shared.contract import OversightAcknowledge, TrackingId
from shared.escalation_policy import CaseClock, Plan, Rung, plan
from shared.lifecycle import Status
from shared.runtime import ServiceContext, refuse
from shared.timers import live_document, timer_update
from shared.unit_of_work import Command, Sender
from shared.vocabulary import Reason, Refused

log = logging.getLogger("lapor.escalation")

Document = dict[str, Any]

#: What the rules read: never the reporter, never the report's content.
_PROJECTION = {
    "status": 1,
    "agency": 1,
    "agency_tz": 1,
    "dispatched_at": 1,
    "first_answer_at": 1,
    "deadlines": 1,
    "escalation": 1,
}
#: Statuses that may have a timer (see the table in :mod:`shared.escalation_policy`).
_TIMED = [
    str(s)
    for s in (
        Status.RECEIVED,
        Status.NEEDS_REVIEW,
        Status.DEFERRED,
        Status.AWAITING_ROUTING,
        Status.DISPATCHED,
        Status.IN_PROGRESS,
        Status.RESOLVED,
    )
]
_RESCHEDULE_ATTEMPTS = 5
_MILLISECOND = timedelta(milliseconds=1)


class _EventRef(BaseModel):
    """Which case a ``complaint.*`` event is about; its other fields are kept as sent (a
    field this version does not know, or cannot read, is no reason to refuse it)."""

    model_config = ConfigDict(extra="allow")

    tracking_id: TrackingId


def _same(stored: Any, computed: Any) -> bool:
    """Whether a stored value equals a computed one, to MongoDB's millisecond precision."""
    if isinstance(stored, datetime) and isinstance(computed, datetime):
        return abs(stored - computed) < _MILLISECOND
    if isinstance(stored, dict) and isinstance(computed, dict):
        return stored.keys() == computed.keys() and all(
            _same(stored[k], computed[k]) for k in stored
        )
    return bool(stored == computed)


class Escalation:
    """Keeps every case's timer and fires reminders, escalations and automatic closes."""

    def __init__(self, ctx: ServiceContext, lease: timedelta, batch: int) -> None:
        self._ctx = ctx
        self._complaints = ctx.store.complaints
        self._lease = lease
        self._batch = batch

    def _plan(self, doc: Document) -> tuple[CaseClock, Plan]:
        case = CaseClock.from_document(doc)
        return case, plan(self._ctx.settings.sla, self._ctx.calendar, case)

    # --- events: recompute the timer ----------------------------------------------------

    async def on_event(self, raw: bytes, message: RabbitMessage) -> None:
        """Recompute the timer of the case a ``complaint.*`` event is about."""
        try:
            ref = _EventRef.model_validate_json(raw)
        except ValidationError as exc:
            await refuse(message, Reason.INVALID_EVENT, errors=exc.error_count())
            return
        if await self._store_presumed(ref.tracking_id, ref.model_extra or {}):
            return
        await self.reschedule(ref.tracking_id)

    async def _store_presumed(self, tracking_id: str, event: Document) -> bool:
        """Write the timer ``event`` implies, if it implies one and the case is still as
        the event says (one guarded update instead of a read and a write)."""
        ctx = self._ctx
        presumed = presume(tracking_id, event, ctx.clock.now(), ctx.settings.sla, ctx.calendar)
        if presumed is None:
            return False
        result = await self._complaints.update_one(presumed.filter(), presumed.update())
        return result.matched_count == 1

    async def reschedule(self, tracking_id: str) -> datetime | None:
        """Store when the case's next step is due, from the case as it is stored now."""
        for _ in range(_RESCHEDULE_ATTEMPTS):
            doc = await self._complaints.find_one({"_id": tracking_id}, _PROJECTION)
            if doc is None:
                log.info(
                    "event about an unknown case; no timer", extra={"tracking_id": tracking_id}
                )
                return None
            case, the_plan = self._plan(doc)
            if case.status is None:
                log.warning(
                    "case has a status this version does not know; no timer",
                    extra={"tracking_id": tracking_id, "status": str(doc.get("status"))},
                )
            if await self._store_next(doc, the_plan):
                return the_plan.next_at
        # Someone changes the case faster than we read it: their event brings us back.
        log.warning(
            "case kept changing; timer left for its next event", extra={"tracking_id": tracking_id}
        )
        return None

    async def _store_next(self, doc: Document, the_plan: Plan) -> bool:
        """Write the plan's next time, unless the case changed since ``doc`` was read."""
        stored = doc.get("escalation") or {}
        live = live_document(the_plan.live)
        next_at = the_plan.next_at
        if (
            "live" in stored
            and _same(stored["live"], live)
            and _same(stored.get("next_at"), next_at)
        ):
            return True  # nothing to write (the usual answer to our own events)
        result = await self._complaints.update_one(read_guard(doc), timer_update(the_plan))
        return result.matched_count == 1

    async def backfill(self) -> int:
        """Give a timer to every open case that has none: older than this service, or
        moved by an older routing or intake that did not store the timer with the step
        (``shared/timers.py``) while this version already took no such event."""
        count = 0
        cursor = self._complaints.find(
            {
                "status": {"$in": _TIMED},
                "$or": [{"escalation": {"$exists": False}}, {"escalation.live": None}],
            },
            {"_id": 1},
        )
        async for doc in cursor:
            await self.reschedule(str(doc["_id"]))
            count += 1
        if count:
            log.info("timers set for cases that had none", extra={"count": count})
        return count

    # --- commands: an oversight office took note of a notice ----------------------------

    async def acknowledge(self, raw: bytes, sender: Sender | None = None) -> None:
        """Record an ``oversight.acknowledge`` on the case's timeline (once per notice).

        The sender was checked before (an admin command: ``shared/sender_check.py``).
        """
        try:
            ack = OversightAcknowledge.model_validate_json(raw)
        except ValidationError as exc:
            fields = sorted(
                {".".join(str(p) for p in e["loc"]) or "(message)" for e in exc.errors()}
            )
            raise Refused(Reason.INVALID_COMMAND, fields=fields) from None
        command, now = Command(ack, sender or Sender()), self._ctx.clock.now()
        change = await self._ctx.cases.apply(
            ack.tracking_id,
            lambda case: decide_acknowledge(case, command, now),
            {"status": 1, "escalation": 1},
        )
        if change is None:
            log.info(
                "acknowledgement already recorded; acknowledged",
                extra={"tracking_id": ack.tracking_id, "target": str(ack.target)},
            )

    # --- the scanner: fire what is due ----------------------------------------------------

    async def scan_once(self) -> int:
        """Claim and handle every case whose next step is due now; how many were handled."""
        handled = 0
        while handled < self._batch:
            now = self._ctx.clock.now()
            doc = await self._complaints.find_one_and_update(
                {"escalation.next_at": {"$lte": now}},
                # The claim: other replicas skip the case until the lease ends.
                {"$set": {"escalation.next_at": now + self._lease}},
                sort=[("escalation.next_at", 1)],
                projection=_PROJECTION,
                return_document=ReturnDocument.AFTER,
            )
            if doc is None:
                break
            handled += 1
            try:
                await self._handle_due(doc, now)
            except Exception:
                # The lease keeps the case until it ends; then any replica tries again.
                log.exception(
                    "due case not handled; retried when its claim ends",
                    extra={"tracking_id": str(doc["_id"])},
                )
        return handled

    async def run(self, stop: asyncio.Event, interval: float) -> None:
        """Scan until ``stop`` is set: at start (catching up), then every ``interval`` s."""
        try:
            await self.backfill()
        except Exception:
            log.exception("backfill of timers failed; events and the next start retry it")
        while not stop.is_set():
            try:
                await self.scan_once()
            except Exception:
                log.exception("escalation scan failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)

    async def _handle_due(self, doc: Document, now: datetime) -> None:
        case, the_plan = self._plan(doc)
        if the_plan.auto_close_due(now):
            await self._auto_close(doc, now)
        elif the_plan.expiry_due(now):
            await self._expire_deferral(doc, now)
        else:
            # In ladder order; a step that cannot be recorded (another replica did, or the
            # case changed) ends this pass: the next claim sees the case as it is then.
            for rung in the_plan.due(now):
                if not await self._fire(doc, case, rung, now):
                    break
        await self.reschedule(case.tracking_id)

    async def _fire(self, doc: Document, case: CaseClock, rung: Rung, now: datetime) -> bool:
        """Record step ``rung`` as fired and publish its event and notice, once."""
        change = decide_fire(Case(doc), case, rung, now, self._ctx.settings.timezone)
        if await self._ctx.cases.commit(change):
            return True
        log.info(
            "step not fired: already fired or the case changed",
            extra={"tracking_id": case.tracking_id, "step": rung.key},
        )
        return False

    async def _auto_close(self, doc: Document, now: datetime) -> None:
        """Close a resolved case the reporter did not reply to in time (step ``auto_close``)."""
        change = decide_auto_close(Case(doc), now)
        if change is None or not await self._ctx.cases.commit(change):
            log.info(
                "automatic close not applied: the case changed", extra={"tracking_id": doc["_id"]}
            )

    async def _expire_deferral(self, doc: Document, now: datetime) -> None:
        """Archive a deferred case whose window passed unanswered (step ``expire_deferral``)."""
        change = decide_expire_deferral(Case(doc), now)
        if change is None or not await self._ctx.cases.commit(change):
            log.info(
                "deferral expiry not applied: the case changed", extra={"tracking_id": doc["_id"]}
            )
