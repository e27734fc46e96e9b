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

from collections.abc import Iterable, Mapping
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
#: Open and not yet answered in full: what a reporter may still withdraw.
PRE_RESOLUTION = OPEN - {Status.RESOLVED}


class Actor(StrEnum):
    """Who triggers a step."""

    SYSTEM = "system"  # a service's automatic rule
    ADMIN = "admin"  # the central admin (satu pintu)
    AGENCY = "agency"  # the OPD's liaison
    REPORTER = "reporter"
    CLOCK = "clock"  # a deadline passing
    #: An oversight office (pimpinan, Inspektorat, Ombudsman) taking note of an escalation.
    OVERSIGHT = "oversight"


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
    PELAPOR = "pelapor"  # the reporter, reminded of their own deadline (a deferral)


class ArchiveReason(StrEnum):
    """The fixed list of reasons a case may be archived for."""

    WRONG_FORMAT = "wrong_format"
    TOO_GENERAL = "too_general"
    NOT_GOVERNMENT = "not_government_performance"
    PRIVATE_SECTOR = "private_sector"
    DUPLICATE = "duplicate"
    ABUSIVE = "abusive"
    NO_REPLY = "no_reply"  # a deferred case the reporter did not complete in time (clock)


class CloseReason(StrEnum):
    """Why a case was closed."""

    ACCEPTED = "accepted"  # the reporter accepted the final answer
    NO_REPLY = "no_reply"  # no reply from the reporter after the final answer
    WITHDRAWN = "withdrawn"  # the reporter withdrew the report before it was resolved


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
        # --- issue 12: every case has an owner and a clock ---
        # The reporter let the deferral window pass: archived with reason ``no_reply``.
        _step("expire_deferral", {_S.DEFERRED}, _S.ARCHIVED, _A.CLOCK),
        # *perpanjangan*: the agency asks once for a later resolution date; the admin
        # grants or refuses. None of them moves the case: only its deadline may move.
        _step("request_extension", {_S.DISPATCHED, _S.IN_PROGRESS}, _S.IN_PROGRESS, _A.AGENCY),
        _step("grant_extension", {_S.DISPATCHED, _S.IN_PROGRESS}, _S.IN_PROGRESS, _A.ADMIN),
        _step("refuse_extension", {_S.DISPATCHED, _S.IN_PROGRESS}, _S.IN_PROGRESS, _A.ADMIN),
        # *koordinasi*: the admin dispatches one case to a lead agency and supporting ones.
        _step("coordinate", {_S.VERIFIED, _S.AWAITING_ROUTING}, _S.DISPATCHED, _A.ADMIN),
        # A supporting agency adds what it knows; the lead sees it, the status stays.
        _step("support", {_S.DISPATCHED, _S.IN_PROGRESS}, _S.IN_PROGRESS, _A.AGENCY),
        # The reporter withdraws a case not yet answered in full; it is kept, closed.
        _step("withdraw", set(PRE_RESOLUTION), _S.CLOSED, _A.REPORTER),
    )
}

# ``rate`` keeps a closed case closed and ``add_information`` keeps the status: the
# target above is only a placeholder for them; see :func:`transition`.
_STATUS_KEEPING_STEPS = frozenset(
    {
        "rate",
        "add_information",
        "request_extension",
        "grant_extension",
        "refuse_extension",
        "support",
    }
)


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


# --- issue 12: the rules around the new steps (pure; the handlers call them) ----------------


class DeferralExpired(LifecycleError):
    """The reporter's information came after the deferral window closed."""

    def __init__(self, deadline: datetime, at: datetime) -> None:
        super().__init__(f"the deferral window ended at {deadline.isoformat()}, reply at {at}")
        self.deadline = deadline
        self.at = at


def check_reply_in_time(deferral_deadline: datetime | None, at: datetime) -> None:
    """A deferred case is revived (step ``resume``) only by a reply within its window."""
    if deferral_deadline is not None and at > deferral_deadline:
        raise DeferralExpired(deferral_deadline, at)


class ExtensionState(StrEnum):
    """Where a case's one extension request (*perpanjangan*) stands."""

    REQUESTED = "requested"
    GRANTED = "granted"
    REFUSED = "refused"


class ExtensionRefused(LifecycleError):
    """An extension request or decision that cannot be taken, with a reason code."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


def check_can_request_extension(
    existing: Mapping[str, Any] | None,
    current_deadline: datetime,
    requested_until: datetime,
    cap: datetime,
    reason: str | None,
) -> None:
    """An agency may ask once per case, with a reason, for a later date within the cap.

    ``existing`` is the case's stored ``extension`` (None: never asked); ``cap`` the latest
    date the policy allows (:meth:`shared.sla.SlaPolicy.extension_cap`).
    """
    if existing:
        raise ExtensionRefused(
            "extension_already_requested",
            f"this case already had an extension request ({existing.get('state')})",
        )
    if not (reason or "").strip():
        raise ExtensionRefused("reason_required", "an extension request needs a reason")
    if requested_until <= current_deadline:
        raise ExtensionRefused(
            "not_later", "the requested date is not after the current resolution deadline"
        )
    if requested_until > cap:
        raise ExtensionRefused(
            "beyond_cap", f"the requested date is after the latest allowed ({cap.isoformat()})"
        )


def check_can_decide_extension(existing: Mapping[str, Any] | None) -> None:
    """The admin grants or refuses a request that is waiting, once."""
    state = (existing or {}).get("state")
    if state != ExtensionState.REQUESTED:
        raise ExtensionRefused(
            "no_pending_request",
            "there is no extension request waiting"
            + (f" (it was {state})" if state else " for this case"),
        )


class AgencyRole(StrEnum):
    """An agency's part in a case (*koordinasi*: one lead, any supporting)."""

    LEAD = "lead"  # the agency the case is dispatched to; it answers and resolves
    SUPPORTING = "supporting"  # adds information the lead sees; never resolves


class NotHolding(LifecycleError):
    """The agency has no part in the case, or not the part the step needs."""

    def __init__(self, agency: str, step: str, role: AgencyRole | None) -> None:
        part = f"is a {role} agency" if role else "has no part in the case"
        super().__init__(f"agency {agency!r} {part}: it may not take step {step!r}")
        self.agency = agency
        self.step = step
        self.role = role


#: What each part may do: the lead everything an agency may, a supporting agency only add.
_AGENCY_STEPS_OF_ROLE = {
    AgencyRole.LEAD: frozenset(
        {
            "acknowledge",
            "follow_up",
            "resolve",
            "forward",
            "return_to_admin",
            "request_extension",
            "support",
        }
    ),
    AgencyRole.SUPPORTING: frozenset({"support"}),
}


def check_koordinasi(lead: str, supporting: Iterable[str]) -> frozenset[str]:
    """The supporting agencies of a *koordinasi* dispatch, checked: some, none the lead."""
    others = frozenset(supporting)
    if not others:
        raise LifecycleError("a koordinasi dispatch needs at least one supporting agency")
    if lead in others:
        raise LifecycleError(f"the lead agency {lead!r} cannot also be a supporting agency")
    return others


def agency_role(agency: str, lead: str | None, supporting: Iterable[str] = ()) -> AgencyRole | None:
    """The part ``agency`` has in a case whose lead is ``lead`` (None: none)."""
    if agency == lead:
        return AgencyRole.LEAD
    return AgencyRole.SUPPORTING if agency in frozenset(supporting) else None


def check_agency_step(
    step_name: str, agency: str, lead: str | None, supporting: Iterable[str] = ()
) -> AgencyRole:
    """The agency's role, if it may take ``step_name``: only the lead resolves."""
    role = agency_role(agency, lead, supporting)
    if role is None or step_name not in _AGENCY_STEPS_OF_ROLE[role]:
        raise NotHolding(agency, step_name, role)
    return role
