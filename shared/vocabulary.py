"""One vocabulary for what can go wrong with a message: case look-ups and refusals.

Every service refuses a message for one of the :class:`Reason` values below; the value
is what the dead-letter log line says (``reason``), so an operator reads the same word
whichever service refused it. A refusal is final: the message is dead-lettered once, not
redelivered, and nothing about the case changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Reason(StrEnum):
    """Why a message is refused (dead-lettered without redelivery)."""

    INVALID_EVENT = "invalid_event"  # not a domain event this version can read
    INVALID_COMMAND = "invalid_command"  # a command with missing or malformed fields
    UNKNOWN_COMMAND = "unknown_command"  # a routing key no service handles
    UNKNOWN_CASE = "unknown_tracking_id"  # no case with this tracking ID is stored
    STEP_NOT_ALLOWED = "step_not_allowed"  # the case's status does not allow the step
    UNKNOWN_AGENCY = "unknown_agency"  # no active agency with this code
    NOT_HOLDING_AGENCY = "agency_does_not_hold_case"  # an answer from another agency
    NOT_THE_REPORTER = "not_the_reporter"  # a reply from someone else than the reporter
    MESSAGE_REQUIRED = "message_required"  # an answer or an addition without its text
    RATING_REQUIRED = "rating_required"  # a rating without its value
    FLAGS_NOT_CONFIRMED = "flags_not_confirmed"  # verify without confirming the checks' flags
    QUESTION_REQUIRED = "question_required"  # defer without a question for the reporter
    REASON_REQUIRED = "reason_required"  # "not our authority" without saying why
    ARCHIVE_REASON_REQUIRED = "archive_reason_required"  # archive without a listed reason
    UNAUTHORISED = "unauthorised"  # the sender may not send this (issue 10)
    EXTENSION_REFUSED = "extension_refused"  # asked twice, no reason, too late a date, none waiting
    INVALID_KOORDINASI = "invalid_koordinasi"  # supporting agencies empty or including the lead
    IDENTITY_UNREADABLE = "identity_unreadable"  # the reporter identity does not open
    CASE_FULL = "case_full"  # the case holds its maximum of timeline entries, commands or additions


@dataclass(frozen=True)
class Refusal:
    """A decision that the message can never be applied, and why (no IO; see ``Refused``)."""

    reason: Reason
    details: dict[str, object] = field(default_factory=dict)

    def error(self) -> Refused:
        """The exception a handler raises for this refusal."""
        return Refused(self.reason, **self.details)


class Refused(Exception):
    """A message that can never be processed: dead-letter it with ``reason``."""

    def __init__(self, reason: Reason, **details: object) -> None:
        super().__init__(str(reason))
        self.reason = reason
        self.details = details


class CaseNotFound(Refused):
    """A message names a case that is not stored."""

    def __init__(self, tracking_id: str) -> None:
        super().__init__(Reason.UNKNOWN_CASE, tracking_id=tracking_id)
        self.tracking_id = tracking_id


class CaseKeptChanging(RuntimeError):
    """The case changed under every attempt to apply a step; the message is redelivered."""
