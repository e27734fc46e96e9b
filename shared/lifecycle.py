"""The complaint lifecycle: every status, every allowed transition and who may trigger it.

This is the one place a reader finds how a case moves from intake to closing. Services
never write a status directly: they ask :func:`transition` for the target status of a
named step, and store it with an update guarded by the expected current status, so
replicas and redeliveries cannot apply the same step twice.

Indonesian domain words kept as they are: *OPD* (organisasi perangkat daerah) is the
responsible regional agency; its *penghubung* is the liaison who answers; *pimpinan*
is the agency head; *anonim* hides the reporter's identity, *rahasia* hides the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """Where a case is in its life."""

    RECEIVED = "received"  # stored by intake, waiting for the automatic checks
    NEEDS_REVIEW = "needs_review"  # held for an admin decision (3 working days)
    DEFERRED = "deferred"  # the admin asked the reporter for more information
    VERIFIED = "verified"  # accepted, waiting to be routed
    AWAITING_ROUTING = "awaiting_routing"  # no agency found: the admin's manual queue
    DISPATCHED = "dispatched"  # on an agency's queue, waiting for its first answer
    IN_PROGRESS = "in_progress"  # the agency acknowledged or followed up
    RESOLVED = "resolved"  # the agency gave its final answer; the reporter may reply
    CLOSED = "closed"  # finished: accepted, or no reply in time
    ARCHIVED = "archived"  # not handled further, with a reason


TERMINAL = frozenset({Status.CLOSED, Status.ARCHIVED})
OPEN = frozenset(Status) - TERMINAL


class Actor(StrEnum):
    """Who triggers a step."""

    SYSTEM = "system"  # a service's automatic rule
    ADMIN = "admin"  # the central admin (satu pintu)
    AGENCY = "agency"  # the OPD's liaison
    REPORTER = "reporter"
    CLOCK = "clock"  # a deadline passing


class Severity(StrEnum):
    """How heavy a case is; it sets the resolution deadline."""

    RINGAN = "ringan"  # light
    SEDANG = "sedang"  # medium
    BERAT = "berat"  # heavy, about one month


class Kind(StrEnum):
    """What the citizen sends."""

    PENGADUAN = "pengaduan"  # complaint
    ASPIRASI = "aspirasi"  # suggestion
    PERMINTAAN_INFORMASI = "permintaan_informasi"  # request for information


class EscalationTarget(StrEnum):
    """Who is told about a late case, by ladder level."""

    PENGHUBUNG = "penghubung"  # level 0: the agency's liaison, reminded before the deadline
    PIMPINAN = "pimpinan"  # level 1: the agency head, once the deadline has passed
    INSPEKTORAT = "inspektorat"  # level 2: the regional Inspectorate
    OMBUDSMAN = "ombudsman"  # level 3: the Ombudsman


class ArchiveReason(StrEnum):
    """The fixed list of reasons a case may be archived for."""

    WRONG_FORMAT = "wrong_format"
    TOO_GENERAL = "too_general"
    NOT_GOVERNMENT = "not_government_performance"
    PRIVATE_SECTOR = "private_sector"
    DUPLICATE = "duplicate"
    ABUSIVE = "abusive"


@dataclass(frozen=True)
class Step:
    """A named transition: from which statuses, to which status, by whom."""

    name: str
    sources: frozenset[Status]
    target: Status
    actors: frozenset[Actor]


def _step(name: str, sources: set[Status], target: Status, *actors: Actor) -> Step:
    return Step(name, frozenset(sources), target, frozenset(actors))


_S = Status
_A = Actor

#: Every step of a case's life. The step name is also the domain event it emits
#: (``complaint.<name>``), except where the event says more (see ``EVENT_OF_STEP``).
STEPS: dict[str, Step] = {
    s.name: s
    for s in (
        _step("auto_verify", {_S.RECEIVED}, _S.VERIFIED, _A.SYSTEM),
        _step("hold_for_review", {_S.RECEIVED}, _S.NEEDS_REVIEW, _A.SYSTEM),
        _step("auto_archive", {_S.RECEIVED}, _S.ARCHIVED, _A.SYSTEM),
        _step("verify", {_S.RECEIVED, _S.NEEDS_REVIEW, _S.DEFERRED}, _S.VERIFIED, _A.ADMIN),
        _step("defer", {_S.RECEIVED, _S.NEEDS_REVIEW}, _S.DEFERRED, _A.ADMIN),
        _step("resume", {_S.DEFERRED}, _S.NEEDS_REVIEW, _A.REPORTER),
        _step(
            "refer",
            {_S.RECEIVED, _S.NEEDS_REVIEW, _S.DEFERRED},
            _S.AWAITING_ROUTING,
            _A.ADMIN,
        ),
        _step(
            "archive",
            {_S.RECEIVED, _S.NEEDS_REVIEW, _S.DEFERRED, _S.AWAITING_ROUTING},
            _S.ARCHIVED,
            _A.ADMIN,
        ),
        _step("dispatch", {_S.VERIFIED}, _S.DISPATCHED, _A.SYSTEM),
        _step("route_manually", {_S.VERIFIED}, _S.AWAITING_ROUTING, _A.SYSTEM),
        _step("dispose", {_S.AWAITING_ROUTING}, _S.DISPATCHED, _A.ADMIN),
        _step("acknowledge", {_S.DISPATCHED}, _S.IN_PROGRESS, _A.AGENCY),
        _step("follow_up", {_S.DISPATCHED, _S.IN_PROGRESS}, _S.IN_PROGRESS, _A.AGENCY),
        _step("resolve", {_S.DISPATCHED, _S.IN_PROGRESS}, _S.RESOLVED, _A.AGENCY),
        _step("forward", {_S.DISPATCHED, _S.IN_PROGRESS}, _S.DISPATCHED, _A.AGENCY),
        _step(
            "return_to_admin",
            {_S.DISPATCHED, _S.IN_PROGRESS},
            _S.AWAITING_ROUTING,
            _A.AGENCY,
            _A.SYSTEM,
        ),
        _step("rate", {_S.RESOLVED, _S.CLOSED}, _S.RESOLVED, _A.REPORTER),
        _step("add_information", set(OPEN), _S.RECEIVED, _A.REPORTER),
        _step("accept", {_S.RESOLVED}, _S.CLOSED, _A.REPORTER),
        _step("reopen", {_S.RESOLVED}, _S.DISPATCHED, _A.REPORTER),
        _step("auto_close", {_S.RESOLVED}, _S.CLOSED, _A.CLOCK),
    )
}

# ``rate`` keeps a closed case closed and ``add_information`` keeps the status: the
# target above is only a placeholder for them; see :func:`transition`.
_STATUS_KEEPING_STEPS = frozenset({"rate", "add_information"})


class LifecycleError(Exception):
    """Base of the domain errors about the lifecycle."""


class UnknownStep(LifecycleError):
    """The step name is not part of the lifecycle."""


class StepNotAllowed(LifecycleError):
    """The step cannot be taken from the case's status, or not by this actor."""

    def __init__(self, step: str, status: Status, actor: Actor) -> None:
        super().__init__(f"step {step!r} is not allowed from status {status!r} by {actor!r}")
        self.step = step
        self.status = status
        self.actor = actor


def step(name: str) -> Step:
    """The step called ``name``."""
    try:
        return STEPS[name]
    except KeyError:
        raise UnknownStep(name) from None


def transition(name: str, current: Status, actor: Actor) -> Status:
    """The status a case in ``current`` has after ``actor`` takes step ``name``."""
    s = step(name)
    if current not in s.sources or actor not in s.actors:
        raise StepNotAllowed(name, current, actor)
    if name in _STATUS_KEEPING_STEPS:
        return current
    return s.target


def can_take(name: str, current: Status, actor: Actor) -> bool:
    """Whether ``actor`` may take step ``name`` from ``current``."""
    try:
        transition(name, current, actor)
    except LifecycleError:
        return False
    return True


def sources_of(name: str) -> list[str]:
    """The statuses step ``name`` may start from, as stored strings (for status guards)."""
    return sorted(str(s) for s in step(name).sources)


def timeline_entry(
    at: datetime,
    step: str,
    actor: Actor,
    from_status: Status | None,
    to_status: Status,
    **more: Any,
) -> dict[str, Any]:
    """One entry of a case's timeline: who did what, when, from which status to which, why.

    ``more`` adds ``by`` (who exactly), ``note`` (why) and any other detail; absent
    values (None, an empty note) are left out.
    """
    entry: dict[str, Any] = {"at": at, "step": step, "actor": str(actor), "to": str(to_status)}
    if from_status is not None:
        entry["from"] = str(from_status)
    return entry | {
        key: value
        for key, value in more.items()
        if value is not None and not (key == "note" and not value)
    }
