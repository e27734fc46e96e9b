"""The public message contract (v1): every message that crosses RabbitMQ, in one module.

Outside systems — channel adapters, agency systems, consoles — code against these
shapes. Field names are fixed; adding an optional field is compatible, anything else
needs a version bump (``CONTRACT_VERSION``) and a note in the README.

All messages are JSON (UTF-8) with a ``message_id``; times are RFC 3339 with an offset.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    field_validator,
)

from shared.lifecycle import ArchiveReason, EscalationTarget, Kind, Severity, Status

CONTRACT_VERSION = 1

CHANNEL_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
AGENCY_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_SYMBOL = "[23456789ABCDEFGHJKMNPQRSTVWXYZ]"
TRACKING_ID = rf"^{_SYMBOL}{{4}}-{_SYMBOL}{{4}}-{_SYMBOL}{{4}}$"

TrackingId = Annotated[str, Field(pattern=TRACKING_ID, description="e.g. 7KQM-X3RT-9DHV")]
AgencyCode = Annotated[str, Field(pattern=AGENCY_CODE.pattern, description="e.g. dinkes-sumsel")]


class _Message(BaseModel):
    """A message LAPOR itself publishes: strict, nothing unknown."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --- intake -------------------------------------------------------------------------------


class Reporter(BaseModel):
    """Who sent the report, as the channel knows them. Confidential: never logged."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=254)
    handle: str | None = Field(default=None, max_length=200, description="channel user id")


class Location(BaseModel):
    """Where the problem is."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    address: str | None = Field(default=None, max_length=500)
    region_code: str | None = Field(
        default=None, pattern=r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$", description="Kemendagri"
    )
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)


class Attachment(BaseModel):
    """A file the reporter attached, kept by the channel and referenced by URL."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    url: str = Field(pattern=r"^https?://\S+$", max_length=2000)
    content_type: str | None = Field(default=None, max_length=100)
    size: int | None = Field(default=None, ge=0, le=100 * 1024 * 1024)


class ReportSubmitted(BaseModel):
    """A report from any channel, on ``lapor.intake`` with routing key ``channel.<name>``.

    Unknown fields are accepted and kept with the case (a channel may know more than
    LAPOR does); ``(channel, external_id)`` is the idempotency key.
    """

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    channel: str = Field(description="the channel's name, as in the routing key")
    external_id: str = Field(min_length=1, max_length=200)
    submitted_at: AwareDatetime | None = None
    kind: Kind = Kind.PENGADUAN
    title: str | None = Field(default=None, max_length=200)
    description: str = Field(min_length=1, max_length=5000)
    reporter: Reporter | None = None
    anonymous: bool = Field(default=False, description="anonim: identity hidden from agencies")
    confidential: bool = Field(default=False, description="rahasia: report hidden from public")
    location: Location | None = None
    category: str | None = Field(default=None, max_length=100)
    agency: str | None = Field(default=None, max_length=64, description="agency-code hint")
    attachments: list[Attachment] = Field(default_factory=list, max_length=10)

    @field_validator("channel")
    @classmethod
    def _channel_name(cls, value: str) -> str:
        value = value.strip().lower()
        if not CHANNEL_NAME.match(value):
            raise ValueError("must be 1-40 characters: lowercase letters, digits, - or _")
        return value

    @field_validator("description")
    @classmethod
    def _meaningful(cls, value: str) -> str:
        if not any(ch.isalnum() for ch in value):
            raise ValueError("must contain words, not only spaces or punctuation")
        return value


class Notification(_Message):
    """A message to one reporter, on ``lapor.outbound`` ``channel.<name>``.

    Only the reporter's own channel receives it: it carries the reply address.
    """

    message_id: str
    tracking_id: TrackingId
    channel: str
    recipient: Reporter
    in_reply_to: str | None = Field(default=None, description="the report's external_id")
    event: str
    status: Status
    text: str = Field(description="Bahasa Indonesia, ready to send")
    occurred_at: AwareDatetime
    tracking_url: str | None = Field(
        default=None,
        description="the case's public tracking page (/lacak/<tracking-id>), when the "
        "deployment has a portal; also the last line of ``text``",
    )


class FieldProblem(_Message):
    """Why one field of a report was refused."""

    field: str
    problem: str


class IntakeRejected(_Message):
    """``lapor.events`` ``intake.rejected``: a report was quarantined instead of taken in."""

    message_id: str
    quarantine_id: str
    occurred_at: AwareDatetime
    routing_key: str
    channel: str | None = None
    external_id: str | None = None
    reason: str
    problems: list[FieldProblem] = Field(default_factory=list)


# --- domain events ------------------------------------------------------------------------


class _Event(_Message):
    """Common shape of ``lapor.events`` ``complaint.<event>``."""

    message_id: str
    tracking_id: TrackingId
    occurred_at: AwareDatetime
    status: Status
    #: What the reporter is told, if this event carries words for them (Bahasa Indonesia).
    reporter_message: str | None = None


class ComplaintReceived(_Event):
    """Intake stored a new report."""

    event: Literal["received"] = "received"
    channel: str
    kind: Kind
    anonymous: bool
    confidential: bool
    category_hint: str | None = None
    agency_hint: str | None = None
    region_code: str | None = None
    verification_deadline: AwareDatetime


class CheckFinding(_Message):
    """One automatic check's result, by reason code."""

    code: str
    detail: str = ""


class ComplaintNeedsReview(_Event):
    """Verification holds the case for an admin decision."""

    event: Literal["needs_review"] = "needs_review"
    findings: list[CheckFinding] = Field(default_factory=list)
    suggested_category: str | None = None
    suggested_severity: Severity | None = None
    review_deadline: AwareDatetime | None = None


class ComplaintVerified(_Event):
    """The case is accepted: automatically or by an admin."""

    event: Literal["verified"] = "verified"
    kind: Kind
    category: str | None = None
    severity: Severity
    agency_hint: str | None = None
    anonymous: bool
    confidential: bool
    by: Literal["system", "admin"]


class ComplaintDeferred(_Event):
    """The admin asked the reporter for more information (``reporter_message``)."""

    event: Literal["deferred"] = "deferred"
    #: The last instant the reporter may answer; after it the case is archived ``no_reply``.
    deferral_deadline: AwareDatetime | None = None


class ComplaintArchived(_Event):
    """The case will not be handled further."""

    event: Literal["archived"] = "archived"
    reason: ArchiveReason
    duplicate_of: TrackingId | None = None


class ComplaintNeedsRouting(_Event):
    """No agency was chosen automatically: the case waits in the admin's manual queue."""

    event: Literal["needs_routing"] = "needs_routing"
    reason: str
    #: When the admin desk must have disposed it (a case handed back or not placed).
    admin_desk_deadline: AwareDatetime | None = None


class ComplaintDispatched(_Event):
    """The case is on an agency's queue."""

    event: Literal["dispatched"] = "dispatched"
    agency: AgencyCode
    agency_name: str
    hop: int = Field(ge=1)
    follow_up_deadline: AwareDatetime
    resolution_deadline: AwareDatetime
    severity: Severity
    #: *koordinasi*: the agencies supporting ``agency`` (the lead); empty for one agency.
    supporting_agencies: list[AgencyCode] = Field(default_factory=list)


class ComplaintForwarded(_Event):
    """An agency said "not our authority"; the case moves on (or back to the admin)."""

    event: Literal["forwarded"] = "forwarded"
    from_agency: AgencyCode
    to_agency: AgencyCode | None = None
    reason: str
    hop: int = Field(ge=1)


class ComplaintFollowedUp(_Event):
    """The agency acknowledged the case or followed it up."""

    event: Literal["followed_up"] = "followed_up"
    agency: AgencyCode
    acknowledged_only: bool = False


class ComplaintResolved(_Event):
    """The agency gave its final answer (``reporter_message``)."""

    event: Literal["resolved"] = "resolved"
    agency: AgencyCode
    auto_close_at: AwareDatetime


class ComplaintReopened(_Event):
    """The reporter was not satisfied; the agency must answer again."""

    event: Literal["reopened"] = "reopened"
    agency: AgencyCode
    reason: str
    follow_up_deadline: AwareDatetime


class ComplaintInformationAdded(_Event):
    """The reporter added information to an open case."""

    event: Literal["information_added"] = "information_added"


class ComplaintRated(_Event):
    """The reporter rated the final answer."""

    event: Literal["rated"] = "rated"
    rating: int = Field(ge=1, le=5)


class ComplaintClosed(_Event):
    """The case is finished."""

    event: Literal["closed"] = "closed"
    #: ``withdrawn``: the reporter withdrew the report before it was resolved (kept, closed).
    reason: Literal["accepted", "no_reply", "withdrawn"]


class ComplaintReminder(_Event):
    """A deadline is near."""

    event: Literal["reminder"] = "reminder"
    deadline_kind: str
    deadline: AwareDatetime
    agency: AgencyCode | None = None
    target: EscalationTarget = EscalationTarget.PENGHUBUNG


class ComplaintEscalated(_Event):
    """A deadline was missed; the case climbs the ladder."""

    event: Literal["escalated"] = "escalated"
    level: int = Field(ge=1, le=3)
    target: EscalationTarget
    deadline_kind: str
    deadline: AwareDatetime
    agency: AgencyCode | None = None


class ComplaintExtensionRequested(_Event):
    """The agency asked, once, for a later resolution date (*perpanjangan*)."""

    event: Literal["extension_requested"] = "extension_requested"
    agency: AgencyCode
    requested_until: AwareDatetime
    current_deadline: AwareDatetime
    reason: str


class ComplaintExtensionGranted(_Event):
    """The admin granted the extension: ``resolution_deadline`` is the new deadline."""

    event: Literal["extension_granted"] = "extension_granted"
    agency: AgencyCode
    resolution_deadline: AwareDatetime
    previous_deadline: AwareDatetime


class ComplaintExtensionRefused(_Event):
    """The admin refused the extension: the old resolution deadline stands."""

    event: Literal["extension_refused"] = "extension_refused"
    agency: AgencyCode
    reason: str


class ComplaintAgencyInformationAdded(_Event):
    """A supporting agency (*koordinasi*) added information for the lead agency."""

    event: Literal["agency_information_added"] = "agency_information_added"
    agency: AgencyCode  # the supporting agency that wrote it
    lead_agency: AgencyCode


ComplaintEvent = Annotated[
    ComplaintReceived
    | ComplaintNeedsReview
    | ComplaintVerified
    | ComplaintDeferred
    | ComplaintArchived
    | ComplaintNeedsRouting
    | ComplaintDispatched
    | ComplaintForwarded
    | ComplaintFollowedUp
    | ComplaintResolved
    | ComplaintReopened
    | ComplaintInformationAdded
    | ComplaintRated
    | ComplaintClosed
    | ComplaintReminder
    | ComplaintEscalated
    | ComplaintExtensionRequested
    | ComplaintExtensionGranted
    | ComplaintExtensionRefused
    | ComplaintAgencyInformationAdded,
    Field(discriminator="event"),
]
EVENTS: TypeAdapter[ComplaintEvent] = TypeAdapter(ComplaintEvent)
#: Every domain event's name (``complaint.<name>`` is its routing key).
EVENT_NAMES: tuple[str, ...] = tuple(
    str(model.model_fields["event"].default) for model in get_args(get_args(ComplaintEvent)[0])
)


def parse_event(body: bytes | str) -> ComplaintEvent:
    """Any domain event from its JSON."""
    return EVENTS.validate_json(body)


def event_routing_key(event: _Event) -> str:
    """``complaint.<event>``."""
    return f"complaint.{event.event}"  # type: ignore[attr-defined]


# --- agency-facing ------------------------------------------------------------------------


class Disposition(_Message):
    """The case as an agency may see it, on ``lapor.opd`` ``opd.<agency-code>``.

    Never the reporter's contacts (all talk goes through the central admin); the name
    only when the report is not *anonim*.
    """

    message_id: str
    tracking_id: TrackingId
    agency: AgencyCode
    hop: int = Field(ge=1)
    kind: Kind
    title: str | None = None
    description: str
    category: str | None = None
    severity: Severity
    location: Location | None = None
    attachments: list[Attachment] = Field(default_factory=list)
    submitted_at: AwareDatetime
    dispatched_at: AwareDatetime
    follow_up_deadline: AwareDatetime
    resolution_deadline: AwareDatetime
    anonymous: bool
    confidential: bool
    reporter_name: str | None = None
    note: str | None = Field(default=None, description="the admin's or previous hop's note")
    #: *koordinasi*: ``lead`` answers and resolves; ``supporting`` only adds information.
    role: Literal["lead", "supporting"] = "lead"
    lead_agency: AgencyCode | None = Field(default=None, description="set in koordinasi")
    supporting_agencies: list[AgencyCode] = Field(default_factory=list)


class AgencyNotice(_Message):
    """Something an agency must know about a case it has, on ``lapor.opd`` ``opd.<code>``.

    Told apart from a :class:`Disposition` by its ``notice`` field: ``withdrawn`` (the
    reporter withdrew the case: stop work), ``information_added`` (a supporting agency
    wrote to the lead), ``extension_granted`` / ``extension_refused`` (the admin's answer).
    """

    message_id: str
    tracking_id: TrackingId
    agency: AgencyCode  # the recipient
    notice: Literal["withdrawn", "information_added", "extension_granted", "extension_refused"]
    occurred_at: AwareDatetime
    text: str = Field(description="Bahasa Indonesia")
    from_agency: AgencyCode | None = None
    resolution_deadline: AwareDatetime | None = None


# --- commands -----------------------------------------------------------------------------


class _Command(BaseModel):
    """A command from outside; unknown fields are refused so typos are caught."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    message_id: str = Field(min_length=1, max_length=200)
    tracking_id: TrackingId


class Decision(StrEnum):
    """An admin's verification decision."""

    VERIFY = "verify"
    DEFER = "defer"
    NOT_OUR_AUTHORITY = "not_our_authority"
    ARCHIVE = "archive"


class VerificationDecide(_Command):
    """``lapor.commands`` ``verification.decide``: the admin's decision."""

    decision: Decision
    admin: str = Field(min_length=1, max_length=100)
    note: str | None = Field(default=None, max_length=2000)
    kind: Kind | None = None
    category: str | None = None
    severity: Severity | None = None
    agency: AgencyCode | None = None
    anonymous: bool | None = None
    confidential: bool | None = None
    #: The admin confirms the anonim / rahasia flags when verifying.
    flags_confirmed: bool = False
    archive_reason: ArchiveReason | None = None
    #: For ``defer``: what the reporter is asked (Bahasa Indonesia).
    question: str | None = Field(default=None, max_length=2000)


class RoutingDispose(_Command):
    """``lapor.commands`` ``routing.dispose``: the admin routes a case by hand.

    With ``supporting``, a *koordinasi*: ``agency`` leads and resolves; every supporting
    agency gets the Disposition too and may only add information.
    """

    agency: AgencyCode
    admin: str = Field(min_length=1, max_length=100)
    note: str | None = Field(default=None, max_length=2000)
    supporting: list[AgencyCode] = Field(default_factory=list, max_length=10)

    @field_validator("supporting")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("each supporting agency once")
        return value


class AgencyAction(StrEnum):
    """What an agency answers."""

    ACKNOWLEDGE = "acknowledge"
    FOLLOW_UP = "follow_up"
    RESOLVE = "resolve"
    NOT_OUR_AUTHORITY = "not_our_authority"
    #: Ask once for a later resolution date (``extend_until``, reason in ``message``).
    REQUEST_EXTENSION = "request_extension"
    #: A supporting agency (*koordinasi*) adds information for the lead (``message``).
    ADD_INFORMATION = "add_information"


class OpdRespond(_Command):
    """``lapor.commands`` ``opd.respond``: an agency's answer about a case it holds."""

    agency: AgencyCode
    action: AgencyAction
    liaison: str = Field(min_length=1, max_length=100, description="the penghubung")
    message: str | None = Field(default=None, max_length=5000)
    suggested_agency: AgencyCode | None = None
    #: For ``request_extension``: the new resolution date (the agency's local day).
    extend_until: date | None = None


class ReporterAction(StrEnum):
    """What a reporter can do about their case."""

    ADD_INFORMATION = "add_information"
    RATE = "rate"
    ACCEPT = "accept"
    REOPEN = "reopen"
    #: Withdraw a report not yet resolved: closed ``withdrawn``, kept, the agency told.
    WITHDRAW = "withdraw"


class ReporterReply(_Command):
    """``lapor.commands`` ``reporter.reply``: a reporter's reply, relayed by their channel.

    ``reporter`` is who the channel says sent it; it must match the case's reporter.
    """

    channel: str
    reporter: Reporter
    action: ReporterAction
    message: str | None = Field(default=None, max_length=5000)
    rating: int | None = Field(default=None, ge=1, le=5)


class ExtensionDecide(_Command):
    """``lapor.commands`` ``routing.extension``: the admin grants or refuses an extension."""

    admin: str = Field(min_length=1, max_length=100)
    grant: bool
    note: str | None = Field(default=None, max_length=2000)


class OversightAcknowledge(_Command):
    """``lapor.commands`` ``oversight.acknowledge``: an oversight office has taken note of
    an escalation notice (*pimpinan*, Inspektorat, Ombudsman).

    Sent by the portal for the logged-in person (``by``, from the session); escalation
    records it once per notice on the case's timeline (step ``acknowledge_escalation``).
    """

    notice_id: str = Field(min_length=1, max_length=200, description="the notice's message_id")
    target: EscalationTarget
    level: int = Field(ge=0, le=3)
    by: str = Field(min_length=1, max_length=100, description="who took note")
    at: AwareDatetime


# --- oversight ----------------------------------------------------------------------------


class EscalationNotice(_Message):
    """``lapor.oversight`` ``<target>.<agency-code>``: a late case for an oversight office."""

    message_id: str
    tracking_id: TrackingId
    level: int = Field(ge=0, le=3)
    target: EscalationTarget
    agency: AgencyCode | None = None
    deadline_kind: str
    deadline: AwareDatetime
    occurred_at: AwareDatetime
    summary: str


def to_json_dict(message: BaseModel) -> dict[str, Any]:
    """A message as the JSON-compatible dict that is published (for the outbox)."""
    return message.model_dump(mode="json", exclude_none=True)


def utc_iso(moment: datetime) -> str:
    """An aware datetime as RFC 3339."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return moment.isoformat()
