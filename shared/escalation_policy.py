"""Which deadline of a case is running, and which escalation steps it implies — pure, no IO.

A case has at most one *live* deadline at a time, read from its stored document (never
from the order events arrived in):

============================  =====================================================
status                        live deadline
============================  =====================================================
received, needs_review        ``deadlines.verification`` (the central admin's)
awaiting_routing              ``deadlines.admin_desk`` when set (issue 12: a case
                              handed back or not placed; the admin desk's ladder,
                              keyed ``<target>.admin``); else
                              ``deadlines.verification`` while the case was never
                              dispatched (the admin's 3 working days cover verifying
                              *and* disposing); else none
dispatched                    ``deadlines.follow_up``, unless ``first_answer_at`` is
                              later than it (answered late, then back with the
                              agency): ``deadlines.resolution``. A forward or a
                              reopen sets a new follow-up deadline, which an earlier
                              answer precedes, so the agency owes an answer again
in_progress                   ``deadlines.resolution``
resolved                      ``deadlines.auto_close``, the instant the case closes
                              itself (``SlaPolicy.auto_close_at``); no ladder
deferred                      ``deadlines.deferral`` (issue 12): the reporter's
                              window; a reminder *to the reporter* half-way, then
                              the case expires (archived ``no_reply``); no ladder
verified                      none: routing's automatic step, not a person's duty
closed, archived              none
============================  =====================================================

A live deadline other than ``auto_close`` has a ladder (``SlaPolicy.escalation_ladder``):
level 0 reminds the liaison (*penghubung*) before it, level 1 tells the agency head
(*pimpinan*) when it passes, level 2 the Inspectorate (*Inspektorat*) and level 3 the
Ombudsman after further working days. For the verification deadline the chain is the
central admin's own (its desk, the head of the office running LAPOR, the regional
Inspectorate, the Ombudsman); oversight notices for it are keyed ``<target>.admin``.

An extension (*perpanjangan*) needs no rule of its own: granting one replaces
``deadlines.resolution`` with the granted day's end (``SlaPolicy.extended_deadline``), so
the ladder of the new date has new keys and escalation moves exactly to it. In a
*koordinasi* case ``agency`` is the lead: every agency step watches the lead only; the
supporting agencies (``supporting_agencies``) are never reminded or escalated.

Every step has a key ``<kind>:<deadline>:L<level>``. A case keeps the keys of the steps
already fired, so a step fires once; a new live deadline has new keys, so the unfired
steps of the old one are simply never due again (a case answered late stops climbing).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from shared.calendar import TICK, WorkingCalendar
from shared.lifecycle import EscalationTarget, Status
from shared.sla import SlaPolicy

ADMIN = "admin"  # the routing-key suffix of notices about the central admin's deadline


class DeadlineKind(StrEnum):
    """Which of a case's deadlines is running (the key under ``deadlines``)."""

    VERIFICATION = "verification"
    FOLLOW_UP = "follow_up"
    RESOLUTION = "resolution"
    AUTO_CLOSE = "auto_close"
    DEFERRAL = "deferral"  # the reporter's window to add information (issue 12)
    ADMIN_DESK = "admin_desk"  # the admin re-disposes a returned / unplaced case (issue 12)


#: Deadlines of the central admin or the reporter: no agency owns them, days in the
#: calendar's own zone.
_ADMIN_OR_REPORTER = frozenset(
    {DeadlineKind.VERIFICATION, DeadlineKind.ADMIN_DESK, DeadlineKind.DEFERRAL}
)

#: The stored fields the rules read; an update made on a reading of them is guarded by them.
POLICY_FIELDS = (
    "status",
    "agency",
    "agency_tz",
    "dispatched_at",
    "first_answer_at",
    *(f"deadlines.{kind}" for kind in DeadlineKind),
)


#: For each status, the stored fields its plan reads (a subset of ``POLICY_FIELDS``; the
#: fired keys aside): the rest of the case cannot change its timer. Follows
#: :func:`_live_kind` and :func:`live_deadline` (a unit test holds them together).
PLAN_INPUTS: Mapping[Status, tuple[str, ...]] = {
    Status.RECEIVED: ("deadlines.verification",),
    Status.NEEDS_REVIEW: ("deadlines.verification",),
    Status.AWAITING_ROUTING: (
        "deadlines.admin_desk",
        "dispatched_at",
        "deadlines.verification",
    ),
    Status.DEFERRED: ("deadlines.deferral",),
    Status.DISPATCHED: (
        "deadlines.follow_up",
        "first_answer_at",
        "deadlines.resolution",
        "agency_tz",
    ),
    Status.IN_PROGRESS: ("deadlines.resolution", "agency_tz"),
    Status.RESOLVED: ("deadlines.auto_close",),
    Status.VERIFIED: (),
    Status.CLOSED: (),
    Status.ARCHIVED: (),
}


def field_value(doc: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted ``path`` of a document, or None where it is absent."""
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


@dataclass(frozen=True)
class CaseClock:
    """What the escalation rules need to know about one case."""

    tracking_id: str
    status: Status | None  # None: a status this version does not know
    deadlines: Mapping[DeadlineKind, dt.datetime] = field(default_factory=dict)
    agency: str | None = None
    agency_tz: str | None = None
    dispatched_at: dt.datetime | None = None
    first_answer_at: dt.datetime | None = None
    fired: frozenset[str] = frozenset()
    #: *koordinasi*: the agencies supporting the lead (``agency``); never watched.
    supporting: frozenset[str] = frozenset()
    #: The case's one extension request, if any: ``requested``, ``granted`` or ``refused``.
    extension_state: str | None = None

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> CaseClock:
        """The rules' view of a stored complaint document."""
        try:
            status: Status | None = Status(str(doc.get("status")))
        except ValueError:
            status = None
        stored = doc.get("deadlines") or {}
        escalation = doc.get("escalation") or {}
        return cls(
            tracking_id=str(doc["_id"]),
            status=status,
            deadlines={
                kind: _end_of_day_restored(stored[kind])
                for kind in DeadlineKind
                if stored.get(kind) is not None
            },
            agency=doc.get("agency"),
            agency_tz=doc.get("agency_tz"),
            dispatched_at=doc.get("dispatched_at"),
            first_answer_at=doc.get("first_answer_at"),
            fired=frozenset(escalation.get("fired") or ()),
            supporting=frozenset(doc.get("supporting_agencies") or ()),
            extension_state=(doc.get("extension") or {}).get("state"),
        )


def _end_of_day_restored(moment: dt.datetime) -> dt.datetime:
    """A stored deadline with the precision MongoDB dropped given back.

    MongoDB keeps milliseconds, so the calendar's end of day (``23:59:59.999999``) comes
    back as ``23:59:59.999``; without the lost microseconds, level 1 (one tick after the
    deadline) would fire a millisecond before the day actually ends.
    """
    if moment.microsecond == 999_000:
        return moment.replace(microsecond=999_999)
    return moment


@dataclass(frozen=True)
class LiveDeadline:
    """The deadline a case runs against now, and the zone its days are counted in."""

    kind: DeadlineKind
    at: dt.datetime  # for auto_close: the instant the case closes itself
    tz: str | None = None


@dataclass(frozen=True)
class Rung:
    """One escalation step of one deadline: who is told, from when."""

    key: str
    level: int
    target: EscalationTarget
    due_at: dt.datetime
    deadline: LiveDeadline

    @property
    def is_reminder(self) -> bool:
        """Level 0 is a reminder before the deadline, not an escalation."""
        return self.level == 0


@dataclass(frozen=True)
class Plan:
    """The escalation state of a case: its live deadline and the steps not yet fired."""

    live: LiveDeadline | None
    pending: tuple[Rung, ...] = ()
    #: When the case expires by itself (a deferral archived ``no_reply``); None: never.
    expires_at: dt.datetime | None = None

    @property
    def closes_itself(self) -> bool:
        """Whether the live deadline is the automatic close."""
        return self.live is not None and self.live.kind is DeadlineKind.AUTO_CLOSE

    @property
    def next_at(self) -> dt.datetime | None:
        """When something is next due for this case (None: nothing, ever, as it stands)."""
        if self.live is None:
            return None
        if self.closes_itself:
            return self.live.at
        times = [rung.due_at for rung in self.pending]
        if self.expires_at is not None:
            times.append(self.expires_at)
        return min(times, default=None)

    def expiry_due(self, now: dt.datetime) -> bool:
        """Whether the case should expire at ``now`` (a deferral left unanswered)."""
        return self.expires_at is not None and now >= self.expires_at

    def due(self, now: dt.datetime) -> list[Rung]:
        """The unfired steps due at ``now``, lowest level first."""
        return [rung for rung in self.pending if rung.due_at <= now]

    def auto_close_due(self, now: dt.datetime) -> bool:
        """Whether the case should close itself at ``now``."""
        return self.closes_itself and self.live is not None and now >= self.live.at


def step_key(kind: DeadlineKind, deadline: dt.datetime, level: int) -> str:
    """``follow_up:2026-11-09T16:59:59.999+00:00:L1`` — the same for every reading.

    Milliseconds, because that is what MongoDB keeps of a stored deadline.
    """
    moment = deadline.astimezone(dt.UTC).isoformat(timespec="milliseconds")
    return f"{kind}:{moment}:L{level}"


def live_deadline(case: CaseClock) -> LiveDeadline | None:
    """The deadline ``case`` runs against now (see the module's table), if any."""
    kind = _live_kind(case)
    if kind is None or kind not in case.deadlines:
        return None
    tz = None if kind in _ADMIN_OR_REPORTER else case.agency_tz
    return LiveDeadline(kind, case.deadlines[kind], tz)


def _live_kind(case: CaseClock) -> DeadlineKind | None:
    match case.status:
        case Status.RECEIVED | Status.NEEDS_REVIEW:
            return DeadlineKind.VERIFICATION
        case Status.AWAITING_ROUTING if DeadlineKind.ADMIN_DESK in case.deadlines:
            return DeadlineKind.ADMIN_DESK
        case Status.AWAITING_ROUTING if case.dispatched_at is None:
            return DeadlineKind.VERIFICATION
        case Status.DEFERRED:
            return DeadlineKind.DEFERRAL
        case Status.DISPATCHED:
            follow_up = case.deadlines.get(DeadlineKind.FOLLOW_UP)
            answer = case.first_answer_at
            if answer is None or follow_up is None or answer <= follow_up:
                return DeadlineKind.FOLLOW_UP
            return DeadlineKind.RESOLUTION
        case Status.IN_PROGRESS:
            return DeadlineKind.RESOLUTION
        case Status.RESOLVED:
            return DeadlineKind.AUTO_CLOSE
    return None


def ladder(sla: SlaPolicy, calendar: WorkingCalendar, live: LiveDeadline) -> list[Rung]:
    """Every escalation step of a live deadline, lowest level first (none for auto_close)."""
    if live.kind is DeadlineKind.AUTO_CLOSE:
        return []
    if live.kind is DeadlineKind.DEFERRAL:
        # The reporter's turn: one reminder to them, half-way; the expiry is not a rung.
        due = sla.deferral_reminder_at(calendar, live.at)
        key = step_key(live.kind, live.at, 0)
        return [Rung(key, 0, EscalationTarget.PELAPOR, due, live)]
    if live.kind is DeadlineKind.ADMIN_DESK:
        steps = sla.escalation_ladder(
            calendar, live.at, None, reminder_days_before=sla.admin_desk_reminder_days_before
        )
        return [
            Rung(step_key(live.kind, live.at, s.level), s.level, s.target, s.due_at, live)
            for s in steps
        ]
    return [
        Rung(step_key(live.kind, live.at, s.level), s.level, s.target, s.due_at, live)
        for s in sla.escalation_ladder(calendar, live.at, live.tz)
    ]


def plan(sla: SlaPolicy, calendar: WorkingCalendar, case: CaseClock) -> Plan:
    """The case's live deadline and its steps not yet fired."""
    live = live_deadline(case)
    if live is None:
        return Plan(None)
    pending = tuple(r for r in ladder(sla, calendar, live) if r.key not in case.fired)
    expires_at = live.at + TICK if live.kind is DeadlineKind.DEFERRAL else None
    return Plan(live, pending, expires_at)


def oversight_routing_key(target: EscalationTarget, agency: str | None) -> str:
    """``<target>.<agency-code>``, or ``<target>.admin`` for the central admin's deadline."""
    return f"{target}.{agency or ADMIN}"


def responsible_agency(case: CaseClock, live: LiveDeadline) -> str | None:
    """The agency a step is about: the lead in *koordinasi*; none for the admin's or the
    reporter's own deadlines (verification, admin desk, deferral)."""
    return None if live.kind in _ADMIN_OR_REPORTER else case.agency


def notifies_oversight(rung: Rung) -> bool:
    """Whether a step sends an oversight notice; the reporter's reminder goes to them only."""
    return rung.target is not EscalationTarget.PELAPOR
