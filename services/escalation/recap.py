"""The leaders' recap (*rekap*): per agency, how many cases came, are open, done, late.

For the agency heads (*pimpinan*) and the future dashboard, and printed by ``lapor
recap``. One row per agency (*OPD*) a case is currently dispatched to, one row for the
cases still with the central admin (not yet dispatched), and a total:

- ``received``: cases the holder has received (for an agency: dispatched to it);
- ``by_status``: those cases counted by status;
- ``in_progress``: still open with the holder (not resolved, closed or archived);
- ``resolved``: the agency gave its final answer (resolved or closed);
- ``overdue``: the deadline the case runs against now (as escalation sees it: see
  :mod:`services.escalation.policy`) has passed — the reporter's reply window is not
  counted, it is not the government's delay;
- median time to first answer, from disposition to the agency's first answer, in working
  days (the calendar's count, in the agency's zone) and in hours;
- SLA compliance: of the cases whose outcome is known (answered, or unanswered past the
  follow-up deadline), the share answered by ``deadlines.follow_up``.

Everything is derived from stored fields only; no identity is ever read.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from services.escalation.policy import CaseClock, DeadlineKind, live_deadline
from shared.calendar import WorkingCalendar
from shared.lifecycle import Status
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
}

_DONE = frozenset({Status.RESOLVED, Status.CLOSED})
_NOT_IN_PROGRESS = _DONE | {Status.ARCHIVED}


@dataclass(frozen=True)
class CaseFacts:
    """What the recap needs to know about one case."""

    clock: CaseClock
    agency_name: str | None = None

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> CaseFacts:
        """The recap's view of a stored complaint document."""
        return cls(CaseClock.from_document(doc), doc.get("agency_name"))

    @property
    def agency(self) -> str | None:
        """The agency the case is dispatched to, if any."""
        return self.clock.agency


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


def first_answer_delay(case: CaseFacts, calendar: WorkingCalendar) -> tuple[int, float] | None:
    """Working days and hours from disposition to the first answer, if there was one."""
    start, answer = case.clock.dispatched_at, case.clock.first_answer_at
    if start is None or answer is None or answer < start:
        return None
    days = calendar.working_days_between(start, answer, case.clock.agency_tz)
    return days, (answer - start).total_seconds() / 3600


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


def summarise(
    agency: str | None,
    name: str,
    cases: Sequence[CaseFacts],
    now: dt.datetime,
    calendar: WorkingCalendar,
) -> AgencyRecap:
    """One row of the recap over ``cases``."""
    statuses = Counter(c.clock.status for c in cases if c.clock.status is not None)
    delays = [d for d in (first_answer_delay(c, calendar) for c in cases) if d is not None]
    sla = [v for v in (answered_within_sla(c, now) for c in cases) if v is not None]
    return AgencyRecap(
        agency=agency,
        name=name,
        received=len(cases),
        by_status={s: statuses[s] for s in Status if statuses[s]},
        in_progress=sum(
            1
            for c in cases
            if c.clock.status is not None and c.clock.status not in _NOT_IN_PROGRESS
        ),
        resolved=sum(1 for c in cases if c.clock.status in _DONE),
        overdue=sum(1 for c in cases if is_overdue(c, now)),
        answered=len(delays),
        median_first_answer_days=median([d for d, _ in delays]),
        median_first_answer_hours=median([h for _, h in delays]),
        within_sla=sum(sla),
        sla_decided=len(sla),
    )


def recap_of(cases: Iterable[CaseFacts], now: dt.datetime, calendar: WorkingCalendar) -> Recap:
    """The recap of ``cases`` at ``now``: a row per agency, the admin's row, the total."""
    every = list(cases)
    by_agency: dict[str | None, list[CaseFacts]] = {}
    names: dict[str, str] = {}
    for case in every:
        by_agency.setdefault(case.agency, []).append(case)
        if case.agency is not None and case.agency_name:
            names[case.agency] = case.agency_name
    agencies = sorted(
        (code for code in by_agency if code is not None), key=lambda c: (names.get(c, c), c)
    )
    rows = [summarise(c, names.get(c, c), by_agency[c], now, calendar) for c in agencies]
    if None in by_agency:
        rows.append(summarise(None, ADMIN_NAME, by_agency[None], now, calendar))
    return Recap(now, rows, summarise(None, TOTAL_NAME, every, now, calendar))


async def agency_recap(store: Store, calendar: WorkingCalendar, now: dt.datetime) -> Recap:
    """The recap of every stored case at ``now``."""
    cases = [CaseFacts.from_document(doc) async for doc in store.complaints.find({}, PROJECTION)]
    return recap_of(cases, now, calendar)
