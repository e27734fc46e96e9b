"""The leaders' recap (*rekap*): per agency, how many cases came, are open, done, late.

For the agency heads (*pimpinan*) and the future dashboard, and printed by ``lapor
recap``. One row per agency (*OPD*) a case is currently dispatched to, one row for the
cases still with the central admin (not yet dispatched), and a total:

- ``received``: cases the holder has received (for an agency: dispatched to it);
- ``by_status``: those cases counted by status;
- ``in_progress``: still open with the holder (not resolved, closed or archived);
- ``resolved``: the agency gave its final answer (resolved or closed);
- ``overdue``: the deadline the case runs against now (as escalation sees it: see
  :mod:`shared.escalation_policy`) has passed — the reporter's reply window is not
  counted, it is not the government's delay;
- median time to first answer, from each disposition to that agency's first answer, in
  working days (the calendar's count, in the agency's zone) and in hours;
- SLA compliance: of the cases whose outcome is known (answered, or unanswered past the
  follow-up deadline), the share answered by ``deadlines.follow_up``.

Per hop (issue 12): every agency that ever held a case counts it in ``received``; a case it
handed on ("not our authority") counts as ``forwarded`` (*diteruskan*) for it, with its
time to forward, while the status columns above stay with the agency holding it now. The
time each agency held its cases, and per agency and overall the time each step took —
verification and disposition (the central admin's), first answer and resolution (the
agencies') — are medians in working days and hours. ``extended`` counts the cases with a
granted extension (*perpanjangan*), whose deadlines are the granted date; the admin's row
counts ``returned_late``: cases handed back to the admin desk and past its deadline.

Everything is derived from stored fields only; no identity is ever read.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.calendar import WorkingCalendar
from shared.escalation_policy import CaseClock, DeadlineKind, live_deadline
from shared.lifecycle import TERMINAL, Status
from shared.storage import Store

ADMIN_NAME = "Admin LAPOR (belum didisposisi)"
TOTAL_NAME = "Semua"

#: The fields the recap reads (never the reporter, never the report's content).
PROJECTION = {
    "status": 1,
    "agency": 1,
    "agency_name": 1,
    "agency_tz": 1,
    "dispatched_at": 1,
    "first_answer_at": 1,
    "deadlines": 1,
    # Per hop (issue 12): who held the case when, and the steps' times — not their notes.
    "received_at": 1,
    "verified_at": 1,
    "resolved_at": 1,
    "closed_at": 1,
    "close_reason": 1,
    "hops.agency": 1,
    "hops.agency_name": 1,
    "hops.at": 1,
    "hops.ended_at": 1,
    "hops.outcome": 1,
    "timeline.at": 1,
    "timeline.step": 1,
    "timeline.agency": 1,
    "extension.state": 1,
}

#: The timeline steps that are an agency's answer, and the one that is its final answer.
_ANSWER_STEPS = frozenset({"acknowledge", "follow_up", "resolve"})
_VERIFY_STEPS = frozenset({"verify", "auto_verify"})
FORWARDED = "not_our_authority"

#: The steps whose time the recap gives, in the order a case meets them.
STEP_NAMES = ("verification", "disposition", "first_answer", "resolution")

_DONE = frozenset({Status.RESOLVED, Status.CLOSED})
_NOT_IN_PROGRESS = _DONE | {Status.ARCHIVED}


@dataclass(frozen=True)
class Hop:
    """One agency's turn with a case: from its disposition until it handed the case on."""

    agency: str
    name: str | None
    start: dt.datetime
    end: dt.datetime | None = None  # None: it still holds the case
    outcome: str | None = None  # ``not_our_authority`` when it forwarded the case

    @property
    def forwarded(self) -> bool:
        """Whether the agency handed the case on ("not our authority")."""
        return self.outcome == FORWARDED


@dataclass(frozen=True)
class Moment:
    """One timeline entry as the recap reads it: when, which step, by which agency."""

    at: dt.datetime
    step: str
    agency: str | None = None


@dataclass(frozen=True)
class CaseFacts:
    """What the recap needs to know about one case."""

    clock: CaseClock
    agency_name: str | None = None
    hops: tuple[Hop, ...] = ()
    moments: tuple[Moment, ...] = ()
    received_at: dt.datetime | None = None
    verified_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    extended: bool = False
    withdrawn: bool = False  # closed because the reporter withdrew it, not answered

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> CaseFacts:
        """The recap's view of a stored complaint document."""
        clock = CaseClock.from_document(doc)
        moments = tuple(
            Moment(entry["at"], str(entry.get("step")), entry.get("agency"))
            for entry in doc.get("timeline") or ()
            if isinstance(entry, Mapping) and isinstance(entry.get("at"), dt.datetime)
        )
        verified_at = doc.get("verified_at") or next(
            (m.at for m in moments if m.step in _VERIFY_STEPS), None
        )
        return cls(
            clock,
            doc.get("agency_name"),
            hops=_hops_of(doc, clock),
            moments=moments,
            received_at=doc.get("received_at"),
            verified_at=verified_at,
            resolved_at=doc.get("resolved_at"),
            closed_at=doc.get("closed_at"),
            extended=(doc.get("extension") or {}).get("state") == "granted",
            withdrawn=doc.get("close_reason") == "withdrawn",
        )

    @property
    def agency(self) -> str | None:
        """The agency the case is dispatched to, if any."""
        return self.clock.agency

    def holders(self) -> set[str]:
        """Every agency that ever held the case."""
        return {hop.agency for hop in self.hops}


def _hops_of(doc: Mapping[str, Any], clock: CaseClock) -> tuple[Hop, ...]:
    """The stored hops; for a case stored without them, its one current agency."""
    stored = [h for h in doc.get("hops") or () if isinstance(h, Mapping) and h.get("agency")]
    if not stored:
        if clock.agency and clock.dispatched_at:
            return (Hop(clock.agency, doc.get("agency_name"), clock.dispatched_at),)
        return ()
    hops = []
    for i, hop in enumerate(stored):
        following = stored[i + 1]["at"] if i + 1 < len(stored) else None
        hops.append(
            Hop(
                agency=str(hop["agency"]),
                name=hop.get("agency_name"),
                start=hop["at"],
                end=hop.get("ended_at") or following,
                outcome=hop.get("outcome"),
            )
        )
    return tuple(hops)


@dataclass(frozen=True)
class StepTime:
    """How long one step took: medians over the cases that went through it."""

    count: int
    median_days: float | None
    median_hours: float | None

    def to_dict(self) -> dict[str, Any]:
        """As JSON-ready data."""
        return {
            "count": self.count,
            "median_days": self.median_days,
            "median_hours": self.median_hours,
        }


@dataclass(frozen=True)
class AgencyRecap:
    """One row of the recap."""

    agency: str | None  # None: the central admin's row, or the total
    name: str
    received: int
    by_status: Mapping[Status, int]
    in_progress: int
    resolved: int
    overdue: int
    answered: int  # cases with a first answer after their disposition
    median_first_answer_days: float | None
    median_first_answer_hours: float | None
    within_sla: int
    sla_decided: int
    forwarded: int = 0  # cases this agency handed on (diteruskan)
    extended: int = 0  # cases it holds with a granted extension (perpanjangan)
    returned_late: int = 0  # the admin's row: handed back and past the admin desk's deadline
    withdrawn: int = 0  # closed because the reporter withdrew it (not counted as resolved)
    held: StepTime | None = None  # how long it held its cases, hop by hop
    to_forward: StepTime | None = None  # how long it took to hand a case on
    steps: Mapping[str, StepTime] = field(default_factory=dict)  # see STEP_NAMES

    @property
    def sla_share(self) -> float | None:
        """The share of decided cases answered by the follow-up deadline (None: none yet)."""
        return self.within_sla / self.sla_decided if self.sla_decided else None

    def to_dict(self) -> dict[str, Any]:
        """As JSON-ready data (for the dashboard and ``lapor recap --json``)."""
        return {
            "agency": self.agency,
            "name": self.name,
            "received": self.received,
            "by_status": {str(s): n for s, n in self.by_status.items()},
            "in_progress": self.in_progress,
            "resolved": self.resolved,
            "overdue": self.overdue,
            "answered": self.answered,
            "median_first_answer_days": self.median_first_answer_days,
            "median_first_answer_hours": self.median_first_answer_hours,
            "within_sla": self.within_sla,
            "sla_decided": self.sla_decided,
            "sla_share": self.sla_share,
            "forwarded": self.forwarded,
            "extended": self.extended,
            "returned_late": self.returned_late,
            "withdrawn": self.withdrawn,
            "held": self.held.to_dict() if self.held else None,
            "to_forward": self.to_forward.to_dict() if self.to_forward else None,
            "steps": {name: time.to_dict() for name, time in self.steps.items()},
        }


@dataclass(frozen=True)
class Recap:
    """The recap at one instant: agencies by name, the admin's row (if any), the total."""

    at: dt.datetime
    rows: Sequence[AgencyRecap] = field(default_factory=list)
    total: AgencyRecap | None = None

    def to_dict(self) -> dict[str, Any]:
        """As JSON-ready data."""
        return {
            "at": self.at.isoformat(),
            "rows": [row.to_dict() for row in self.rows],
            "total": self.total.to_dict() if self.total else None,
        }


def median(values: Sequence[float]) -> float | None:
    """The median of ``values`` (the mean of the middle two for an even count), or None."""
    return float(statistics.median(values)) if values else None


def answered_within_sla(case: CaseFacts, now: dt.datetime) -> bool | None:
    """Whether the first answer met the follow-up deadline; None while it is not known."""
    deadline = case.clock.deadlines.get(DeadlineKind.FOLLOW_UP)
    answer = case.clock.first_answer_at
    start = case.clock.dispatched_at
    if answer is not None and start is not None and answer < start:
        answer = None  # an earlier agency's answer, before the case was forwarded
    if deadline is None:
        return None
    if answer is not None:
        return answer <= deadline
    return False if now > deadline else None


def is_overdue(case: CaseFacts, now: dt.datetime) -> bool:
    """Whether the deadline the case runs against now has passed (the reply window aside)."""
    live = live_deadline(case.clock)
    return live is not None and live.kind is not DeadlineKind.AUTO_CLOSE and now > live.at


def _span(
    calendar: WorkingCalendar, start: dt.datetime, end: dt.datetime, tz: str | None
) -> tuple[int, float]:
    return calendar.working_days_between(start, end, tz), (end - start).total_seconds() / 3600


def step_time(spans: Sequence[tuple[int, float]]) -> StepTime:
    """The medians of (working days, hours) spans."""
    return StepTime(len(spans), median([d for d, _ in spans]), median([h for _, h in spans]))


def _within(moment: Moment, hop: Hop) -> bool:
    return (
        moment.agency == hop.agency
        and moment.at >= hop.start
        and (hop.end is None or moment.at <= hop.end)
    )


def hop_first_answer(case: CaseFacts, hop: Hop) -> dt.datetime | None:
    """When the agency first answered during its hop (acknowledged, followed up, resolved)."""
    answers = [m.at for m in case.moments if m.step in _ANSWER_STEPS and _within(m, hop)]
    if answers:
        return min(answers)
    # A case stored without a timeline: its first answer, if it came in the last hop.
    answer = case.clock.first_answer_at
    if case.hops and hop is case.hops[-1] and answer is not None and answer >= hop.start:
        return answer
    return None


def hop_resolution(case: CaseFacts, hop: Hop) -> dt.datetime | None:
    """When the agency gave its final answer during its hop, if it did."""
    resolved = [m.at for m in case.moments if m.step == "resolve" and _within(m, hop)]
    if resolved:
        return min(resolved)
    at = case.resolved_at
    if case.hops and hop is case.hops[-1] and at is not None and at >= hop.start:
        return at
    return None


def hop_end(case: CaseFacts, hop: Hop, now: dt.datetime) -> dt.datetime:
    """When the agency stopped holding the case: handed on, answered in full, or closed."""
    if hop.end is not None:
        return hop.end
    resolved = hop_resolution(case, hop)
    if resolved is not None:
        return resolved
    if case.clock.status in TERMINAL and case.closed_at is not None:
        return case.closed_at
    return now


def returned_late(case: CaseFacts, now: dt.datetime) -> bool:
    """A case handed back to the admin desk and past the desk's deadline."""
    desk = case.clock.deadlines.get(DeadlineKind.ADMIN_DESK)
    return (
        case.clock.status is Status.AWAITING_ROUTING
        and bool(case.hops or case.clock.dispatched_at)
        and desk is not None
        and now > desk
    )


def _admin_steps(cases: Sequence[CaseFacts], calendar: WorkingCalendar) -> dict[str, StepTime]:
    verification, disposition = [], []
    for case in cases:
        if case.received_at and case.verified_at and case.verified_at >= case.received_at:
            verification.append(_span(calendar, case.received_at, case.verified_at, None))
        if case.verified_at and case.hops and case.hops[0].start >= case.verified_at:
            disposition.append(_span(calendar, case.verified_at, case.hops[0].start, None))
    return {"verification": step_time(verification), "disposition": step_time(disposition)}


def _agency_steps(
    hops: Sequence[tuple[CaseFacts, Hop]], calendar: WorkingCalendar
) -> dict[str, StepTime]:
    first, final = [], []
    for case, hop in hops:
        tz = case.clock.agency_tz if hop.agency == case.agency else None
        if (answer := hop_first_answer(case, hop)) is not None:
            first.append(_span(calendar, hop.start, answer, tz))
        if (resolved := hop_resolution(case, hop)) is not None:
            final.append(_span(calendar, hop.start, resolved, tz))
    return {"first_answer": step_time(first), "resolution": step_time(final)}


@dataclass(frozen=True)
class RowScope:
    """What one row of the recap covers: whose row it is and which cases it counts.

    ``cases``: every case the holder ever held (``received``); ``current``: those it holds
    now (the status columns; default ``cases``); ``hops``: its turns with them (default:
    every hop of ``cases``); ``admin_steps_over``: the cases whose verification and
    disposition times the row gives (the admin's row and the total).
    """

    agency: str | None  # None: the central admin's row, or the total
    name: str
    cases: Sequence[CaseFacts]
    current: Sequence[CaseFacts] | None = None
    hops: Sequence[tuple[CaseFacts, Hop]] | None = None
    admin_steps_over: Sequence[CaseFacts] | None = None

    def held_now(self) -> list[CaseFacts]:
        """The cases the holder holds now (the status columns)."""
        return list(self.cases if self.current is None else self.current)

    def turns(self) -> list[tuple[CaseFacts, Hop]]:
        """The holder's turns with its cases."""
        if self.hops is not None:
            return list(self.hops)
        return [(c, h) for c in self.cases for h in c.hops]


def summarise(scope: RowScope, now: dt.datetime, calendar: WorkingCalendar) -> AgencyRecap:
    """One row of the recap: the cases of ``scope`` at ``now``."""
    cases = scope.cases
    now_held = scope.held_now()
    turns = scope.turns()
    statuses = Counter(c.clock.status for c in now_held if c.clock.status is not None)
    sla = [v for v in (answered_within_sla(c, now) for c in now_held) if v is not None]
    steps = _agency_steps(turns, calendar)
    if scope.admin_steps_over is not None:
        steps = _admin_steps(scope.admin_steps_over, calendar) | steps
    first = steps["first_answer"]
    forwarded = [(c, h) for c, h in turns if h.forwarded and h.end is not None]
    return AgencyRecap(
        agency=scope.agency,
        name=scope.name,
        received=len(cases),
        by_status={s: statuses[s] for s in Status if statuses[s]},
        in_progress=sum(
            1
            for c in now_held
            if c.clock.status is not None and c.clock.status not in _NOT_IN_PROGRESS
        ),
        resolved=sum(1 for c in now_held if c.clock.status in _DONE and not c.withdrawn),
        overdue=sum(1 for c in now_held if is_overdue(c, now)),
        answered=first.count,
        median_first_answer_days=first.median_days,
        median_first_answer_hours=first.median_hours,
        within_sla=sum(sla),
        sla_decided=len(sla),
        forwarded=len({c.clock.tracking_id for c, _ in forwarded}),
        extended=sum(1 for c in now_held if c.extended),
        returned_late=sum(1 for c in now_held if returned_late(c, now)),
        withdrawn=sum(1 for c in now_held if c.withdrawn),
        held=step_time([_span(calendar, h.start, hop_end(c, h, now), None) for c, h in turns]),
        to_forward=step_time(
            [_span(calendar, h.start, h.end, None) for c, h in forwarded if h.end is not None]
        ),
        steps={name: steps[name] for name in STEP_NAMES if name in steps},
    )


def recap_of(cases: Iterable[CaseFacts], now: dt.datetime, calendar: WorkingCalendar) -> Recap:
    """The recap of ``cases`` at ``now``: a row per agency, the admin's row, the total.

    An agency's row counts every case it ever held; the status columns count the cases it
    holds now; a case it handed on is ``forwarded`` for it.
    """
    every = list(cases)
    held: dict[str, list[CaseFacts]] = {}
    names: dict[str, str] = {}
    for case in every:
        for hop in case.hops:
            if hop.name:
                names.setdefault(hop.agency, hop.name)
        for code in sorted(case.holders() | ({case.agency} if case.agency else set())):
            held.setdefault(code, []).append(case)
        if case.agency is not None and case.agency_name:
            names[case.agency] = case.agency_name
    agencies = sorted(held, key=lambda c: (names.get(c, c), c))
    rows = [
        summarise(
            RowScope(
                code,
                names.get(code, code),
                held[code],
                current=[c for c in held[code] if c.agency == code],
                hops=[(c, h) for c in held[code] for h in c.hops if h.agency == code],
            ),
            now,
            calendar,
        )
        for code in agencies
    ]
    with_admin = [c for c in every if c.agency is None]
    if with_admin:
        admin = RowScope(None, ADMIN_NAME, with_admin, hops=[], admin_steps_over=every)
        rows.append(summarise(admin, now, calendar))
    total = RowScope(None, TOTAL_NAME, every, admin_steps_over=every)
    return Recap(now, rows, summarise(total, now, calendar))


async def agency_recap(store: Store, calendar: WorkingCalendar, now: dt.datetime) -> Recap:
    """The recap of every stored case at ``now``."""
    cases = [CaseFacts.from_document(doc) async for doc in store.complaints.find({}, PROJECTION)]
    return recap_of(cases, now, calendar)
