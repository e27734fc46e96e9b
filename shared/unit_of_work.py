"""One unit of work for every case change: load → decide → commit.

A use case is a pure function that reads a :class:`~shared.case.Case` and a command and
returns a :class:`CaseChange` (or a :class:`~shared.vocabulary.Refusal`, or None when
there is nothing to do). :class:`CaseStore` is the only place that knows MongoDB
operators, the outbox, retries and failpoints: :meth:`CaseStore.commit` stores a change
and the messages it implies as ONE update guarded by the status the change was decided
on (a status the lifecycle allows the step from), and by the command's ID not yet being
in ``applied[]``; then it publishes through the outbox. :meth:`CaseStore.apply` runs the
whole loop, deciding again when another replica changed the case in between.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from pymongo.asynchronous.collection import AsyncCollection

from shared import topology
from shared.calendar import WorkingCalendar
from shared.caps import CaseCaps, CaseFull, check_room, growth, no_room, room_filter
from shared.case import Case
from shared.contract import _Event as Event  # the common base of domain events
from shared.contract import event_routing_key
from shared.failpoints import Failpoints
from shared.lifecycle import Actor, Status, timeline_entry, transition
from shared.outbox import Outbox, OutboxMessage, with_pending
from shared.sla import SlaPolicy
from shared.timers import store_timer
from shared.vocabulary import CaseKeptChanging, CaseNotFound, Refusal

Document = dict[str, Any]
M = TypeVar("M", bound=BaseModel)

#: How often a use case re-reads a case that changed under it before giving up (the
#: message is then redelivered, and the delivery limit bounds the whole).
ATTEMPTS = 5


@dataclass(frozen=True)
class Sender:
    """Who sent a message, as the broker vouches for it (the AMQP ``user_id``)."""

    user_id: str | None = None


@dataclass(frozen=True)
class Command(Generic[M]):
    """A parsed command and who sent it: what a ``decide_…`` function is asked."""

    message: M
    sender: Sender = Sender()


def domain_event(event: Event) -> OutboxMessage:
    """A domain event for ``lapor.events``, on its ``complaint.<event>`` key."""
    return OutboxMessage.of(topology.EVENTS, event_routing_key(event), event)


@dataclass
class CaseChange:
    """One guarded change of a case: its fields, its timeline entry, its messages.

    The guard is the status the change was decided on (checked against the lifecycle
    when the change is made, see :meth:`step`), the command ID (a command applies once)
    and ``guard`` (whatever else the decision read). The timeline entry is derived from
    the step: who, when, from which status to which, plus ``entry``'s fields.
    """

    tracking_id: str
    step: str
    actor: Actor
    source: Status
    target: Status
    at: datetime
    fields: Document = field(default_factory=dict)
    unset: list[str] = field(default_factory=list)
    push: Document = field(default_factory=dict)
    inc: Document = field(default_factory=dict)
    minimum: Document = field(default_factory=dict)
    guard: Document = field(default_factory=dict)
    command_id: str | None = None
    messages: list[OutboxMessage] = field(default_factory=list)
    entry: Document = field(default_factory=dict)
    #: A record that is no lifecycle step (a reminder) names no source status.
    entry_from: bool = True
    summary: str = "case changed"
    details: dict[str, object] = field(default_factory=dict)
    failpoint: str | None = None
    #: The case this change stores the escalation timer of (see :mod:`shared.timers`).
    timer_from: Mapping[str, Any] | None = None

    @classmethod
    def step_of(cls, case: Case, step: str, actor: Actor, at: datetime) -> CaseChange:
        """Lifecycle step ``step`` by ``actor`` on ``case`` (raises StepNotAllowed)."""
        source = case.status
        target = transition(step, source, actor)
        return cls(case.tracking_id, step, actor, source, target, at)

    @classmethod
    def record(cls, case: Case, name: str, actor: Actor, at: datetime) -> CaseChange:
        """A change that keeps the status, recorded on the timeline as ``name``."""
        return cls(case.tracking_id, name, actor, case.status, case.status, at)

    def emit(self, *events: Event) -> CaseChange:
        """Add domain events to the change's outbox messages."""
        self.messages.extend(domain_event(e) for e in events)
        return self

    def with_timer(self, case: Case) -> CaseChange:
        """Store the case's escalation timer with this change (computed at commit)."""
        self.timer_from = case.doc
        return self

    def filter(self) -> Document:
        """The update's filter: the case as it was when the change was decided."""
        query: Document = {"_id": self.tracking_id, "status": str(self.source)} | self.guard
        if self.command_id is not None:
            query["applied"] = {"$ne": self.command_id}
        return query

    def timeline_entry(self) -> Document:
        """The case's timeline entry for this change."""
        source = self.source if self.entry_from else None
        return timeline_entry(self.at, self.step, self.actor, source, self.target, **self.entry)

    def update(self) -> Document:
        """The MongoDB update document (without the outbox part)."""
        sets: Document = {"updated_at": self.at} | self.fields
        if self.target != self.source:
            sets["status"] = str(self.target)
        pushes: Document = {"timeline": self.timeline_entry()} | self.push
        if self.command_id is not None:
            pushes["applied"] = self.command_id
        update: Document = {"$set": sets, "$push": pushes}
        if self.unset:
            update["$unset"] = dict.fromkeys(self.unset, "")
        if self.inc:
            update["$inc"] = self.inc
        if self.minimum:
            update["$min"] = self.minimum
        return update

    def caps(self, caps: CaseCaps) -> CaseCaps:
        """The caps this change meets (LAPOR's and the admin's steps have a reserve)."""
        return caps.for_step(self.actor, self.source, self.target)


#: What a use case returns: a change, a refusal, or nothing to do now.
Decision = CaseChange | Refusal | None


class CaseStore:
    """Loads cases and commits changes: the one place that writes a case after intake."""

    def __init__(
        self,
        complaints: AsyncCollection[Document],
        outbox: Outbox,
        failpoints: Failpoints,
        service: str,
        grace: timedelta,
    ) -> None:
        self._complaints = complaints
        self._outbox = outbox
        self._failpoints = failpoints
        self._after_store = f"{service}.after_store"
        # The service's own logger: a service's log reads as one story.
        self._log = logging.getLogger(f"lapor.{service}")
        self._grace = grace
        #: How much a case may hold (the service sets ``LAPOR_CASE_MAX_*``'s values).
        self.caps = CaseCaps()
        #: The deadlines policy a change's timer is computed with (the service sets it).
        self.timers: tuple[SlaPolicy, WorkingCalendar] | None = None

    async def find(self, tracking_id: str, projection: Mapping[str, Any] | None) -> Case | None:
        """The case ``tracking_id`` (only ``projection``'s fields), or None."""
        doc = await self._complaints.find_one({"_id": tracking_id}, projection)
        return None if doc is None else Case(doc)

    async def load(self, tracking_id: str, projection: Mapping[str, Any] | None) -> Case:
        """The case ``tracking_id``; raises CaseNotFound."""
        case = await self.find(tracking_id, projection)
        if case is None:
            raise CaseNotFound(tracking_id)
        return case

    async def commit(self, change: CaseChange) -> bool:
        """Store ``change`` and its messages as one guarded update, then publish them.

        False when the guard did not match: the case changed since it was read (or the
        command was applied meanwhile); nothing was written. Raises :class:`CaseFull` when
        the case has no room left for what the change adds (shared/caps.py): the cap is
        part of the filter, so racing replicas cannot pass it either.
        """
        if change.timer_from is not None:
            if self.timers is None:
                raise RuntimeError("a change stores its timer, but no deadlines policy is set")
            store_timer(change, change.timer_from, *self.timers)
            change.timer_from = None  # once, however often the change is committed
        update = change.update()
        adding = growth(update["$push"])
        caps = change.caps(self.caps)
        if change.messages:
            update = with_pending(update, change.messages, self._grace, self._outbox.protector)
        result = await self._complaints.update_one(
            change.filter() | room_filter(caps, **adding), update
        )
        if result.matched_count == 0:
            await self._raise_if_full(change.tracking_id, caps, adding)
            self._log.info(
                "case changed since it was read; nothing stored",
                extra={"tracking_id": change.tracking_id, "step": change.step},
            )
            return False
        await self._failpoints.reached(change.failpoint or self._after_store)
        await self._outbox.deliver(change.tracking_id, change.messages)
        if self._log.isEnabledFor(logging.INFO):
            self._log.info(
                change.summary,
                extra={
                    "tracking_id": change.tracking_id,
                    "step": change.step,
                    "from": str(change.source),
                    "to": str(change.target),
                    **change.details,
                },
            )
        return True

    async def _raise_if_full(self, tracking_id: str, caps: CaseCaps, adding: Document) -> None:
        """Tell "the case is full" apart from "the case changed" after a guard missed."""
        for name, count in adding.items():
            if await self._complaints.find_one(
                {"_id": tracking_id} | no_room(caps, name, count), {"_id": 1}
            ):
                self._log.warning(
                    "case is full; change refused",
                    extra={"tracking_id": tracking_id, "field": name, "cap": caps.of(name)},
                )
                raise CaseFull(name, caps.of(name))

    async def apply(
        self,
        tracking_id: str,
        decide: Callable[[Case], Decision],
        projection: Mapping[str, Any] | None = None,
    ) -> CaseChange | None:
        """Load → decide → commit, deciding again while the case changes under us.

        Returns the committed change, or None when the decision was "nothing to do";
        raises :class:`~shared.vocabulary.Refused` for a refusal and CaseKeptChanging
        when every attempt lost its race.
        """
        for _ in range(ATTEMPTS):
            case = await self.load(tracking_id, projection)
            decision = decide(case)
            if decision is None:
                return None
            if isinstance(decision, Refusal):
                raise decision.error()
            # Refused before a write when the loaded case shows it full (the filter in
            # commit is what holds against races and against projections without it).
            check_room(case.doc, decision.caps(self.caps), **growth(decision.update()["$push"]))
            if await self.commit(decision):
                return decision
        raise CaseKeptChanging(tracking_id)
