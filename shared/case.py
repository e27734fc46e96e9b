"""The stored complaint (a *case*) as typed code reads it, and how intake creates one.

One place knows the document's shape (the field list, by writer, is in
:mod:`shared.storage`): :class:`Case` is a read-only typed view over a document as
MongoDB returns it (possibly projected: an absent field reads as its empty value), and
:func:`new_case` builds the document intake stores, so tests build cases with the very
same code (see ``tests/factories.py``).

The view wraps the document instead of copying it into a model: the services read a
handful of fields per message, and decoding every field of every case would cost more
than the whole decision.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.contract import Reporter, ReportSubmitted
from shared.lifecycle import Actor, Kind, Severity, Status
from shared.pii import IdentityProtector

Document = dict[str, Any]

#: The version of the document shape intake writes.
CONTRACT_VERSION = 1


def _empty(value: Any) -> Any:
    return {} if value is None else value


@dataclass(frozen=True, slots=True)
class Case:
    """A read-only typed view of one stored complaint document."""

    doc: Mapping[str, Any]

    # --- identity and status ---------------------------------------------------------

    @property
    def tracking_id(self) -> str:
        """The case's tracking ID (also its ``_id``)."""
        return str(self.doc["_id"])

    @property
    def status(self) -> Status:
        """Where the case is in its life (see :mod:`shared.lifecycle`)."""
        return Status(self.doc["status"])

    def has_applied(self, command_id: str) -> bool:
        """Whether the command with this message ID already changed the case."""
        return command_id in (self.doc.get("applied") or ())

    # --- the report ---------------------------------------------------------------------

    @property
    def channel(self) -> str:
        """The channel the report came in on."""
        return str(self.doc.get("channel") or "")

    @property
    def external_id(self) -> str:
        """The channel's own ID of the report."""
        return str(self.doc.get("external_id") or "")

    @property
    def kind(self) -> Kind:
        """Complaint, suggestion or request for information."""
        return Kind(self.doc.get("kind") or Kind.PENGADUAN)

    @property
    def title(self) -> str | None:
        """The report's title, if it has one."""
        title: str | None = self.doc.get("title")
        return title

    @property
    def description(self) -> str:
        """The report's text."""
        return str(self.doc.get("description") or "")

    @property
    def text(self) -> str:
        """Title and description: the words the checks read."""
        return "\n".join(part for part in (self.title, self.description) if part)

    @property
    def category_hint(self) -> str | None:
        """The category the channel suggested."""
        hint: str | None = self.doc.get("category_hint")
        return hint

    @property
    def agency_hint(self) -> str | None:
        """The agency the reporter (or the admin, when verifying) named."""
        hint: str | None = self.doc.get("agency_hint")
        return hint

    @property
    def location(self) -> Mapping[str, Any]:
        """Where the problem is (empty when the report has no location)."""
        location: Mapping[str, Any] = _empty(self.doc.get("location"))
        return location

    @property
    def region_code(self) -> str | None:
        """The Kemendagri region code of the location, if any."""
        code: str | None = self.location.get("region_code")
        return code

    @property
    def anonymous(self) -> bool:
        """*Anonim*: the reporter's identity is hidden from the agency and the public."""
        return bool(self.doc.get("anonymous"))

    @property
    def confidential(self) -> bool:
        """*Rahasia*: the whole report is hidden from the public."""
        return bool(self.doc.get("confidential"))

    @property
    def received_at(self) -> datetime:
        """When intake stored the report."""
        received: datetime = self.doc["received_at"]
        return received

    # --- the reporter (sealed) ----------------------------------------------------------

    @property
    def reporter_fingerprints(self) -> frozenset[str]:
        """Keyed hashes of the reporter's contacts (to recognise a reply or a repeat)."""
        return frozenset(_empty(self.doc.get("reporter")).get("fingerprints") or ())

    @property
    def sealed_identity(self) -> bytes | None:
        """The reporter's identity, encrypted (see :mod:`shared.pii`)."""
        sealed: bytes | None = _empty(self.doc.get("reporter")).get("sealed")
        return sealed

    # --- verification ---------------------------------------------------------------------

    @property
    def checks(self) -> list[Document]:
        """The findings of the automatic checks, as stored."""
        return list(self.doc.get("checks") or ())

    @property
    def suggestion(self) -> Mapping[str, Any]:
        """The checks' suggested category and severity (empty before the checks)."""
        suggestion: Mapping[str, Any] = _empty(self.doc.get("suggestion"))
        return suggestion

    @property
    def text_terms(self) -> frozenset[str] | None:
        """The report's terms as verification stored them, None before the checks."""
        terms = self.doc.get("text_terms")
        return None if terms is None else frozenset(terms)

    @property
    def duplicates(self) -> list[str]:
        """The cases archived as duplicates of this one."""
        return list(self.doc.get("duplicates") or ())

    @property
    def category(self) -> str | None:
        """The verified category."""
        category: str | None = self.doc.get("category")
        return category

    @property
    def severity(self) -> Severity | None:
        """The verified severity, or the latest hop's when the case has none of its own."""
        value = self.doc.get("severity") or (self.hops[-1].get("severity") if self.hops else None)
        return Severity(value) if value else None

    # --- routing ------------------------------------------------------------------------

    @property
    def agency(self) -> str | None:
        """The code of the agency holding the case."""
        agency: str | None = self.doc.get("agency")
        return agency

    @property
    def agency_name(self) -> str | None:
        """The name of the agency holding the case."""
        name: str | None = self.doc.get("agency_name")
        return name

    @property
    def agency_tz(self) -> str | None:
        """The time zone of the agency holding the case, when it has its own."""
        tz: str | None = self.doc.get("agency_tz")
        return tz

    @property
    def supporting_agencies(self) -> list[str]:
        """*koordinasi*: the agencies supporting the one holding the case (the lead)."""
        return list(self.doc.get("supporting_agencies") or ())

    @property
    def hop(self) -> int | None:
        """How many agencies the case was dispatched to (None: never dispatched)."""
        hop: int | None = self.doc.get("hop")
        return hop

    @property
    def hops(self) -> list[Document]:
        """Every dispatch of the case, in order."""
        return list(self.doc.get("hops") or ())

    @property
    def dispatched_at(self) -> datetime | None:
        """When the case was last dispatched."""
        at: datetime | None = self.doc.get("dispatched_at")
        return at

    @property
    def additions(self) -> list[Document]:
        """What the reporter added after the report (``{at, text, message_id}``)."""
        return list(self.doc.get("additions") or ())

    def deadline(self, name: str) -> datetime | None:
        """The stored deadline ``name`` (verification, follow_up, resolution, auto_close)."""
        at: datetime | None = _empty(self.doc.get("deadlines")).get(name)
        return at

    def with_fields(self, **fields: Any) -> Case:
        """A view of this case with ``fields`` replaced (for a decision that previews them)."""
        return Case({**self.doc, **fields})


@dataclass(frozen=True)
class Receipt:
    """What intake decides about a report it takes in: its ID, when, its first deadline."""

    tracking_id: str
    received_at: datetime
    verification_deadline: datetime
    unknown_fields: tuple[str, ...] = ()


def reporter_fingerprints(report: ReportSubmitted, protector: IdentityProtector) -> set[str]:
    """The fingerprints the report's reporter is recognised by (none without contacts)."""
    who = report.reporter or Reporter()
    return protector.contact_fingerprints(report.channel, who.phone, who.email, who.handle)


def new_case(
    report: ReportSubmitted,
    raw: bytes,
    receipt: Receipt,
    protector: IdentityProtector,
    fingerprints: Collection[str] | None = None,
) -> Document:
    """The document intake stores for a new report (identity only ever sealed).

    ``fingerprints``: :func:`reporter_fingerprints` of ``report`` when already made (a
    phone number's costs a parse), else made here.
    """
    tracking_id, now = receipt.tracking_id, receipt.received_at
    reporter = report.reporter or Reporter()
    if fingerprints is None:
        fingerprints = reporter_fingerprints(report, protector)
    prints = sorted(fingerprints)
    location = report.location.model_dump(exclude_none=True) if report.location else None
    return {
        "_id": tracking_id,
        "tracking_id": tracking_id,
        "contract_version": CONTRACT_VERSION,
        "channel": report.channel,
        "external_id": report.external_id,
        "kind": str(report.kind),
        "title": report.title,
        "description": report.description,
        "category_hint": report.category,
        "agency_hint": report.agency,
        "location": location,
        "attachments": [a.model_dump(exclude_none=True) for a in report.attachments],
        "anonymous": report.anonymous,
        "confidential": report.confidential,
        # Identity is only ever stored sealed, for every report; see shared.pii.
        "reporter": {
            "sealed": protector.seal_model(reporter, tracking_id),
            "fingerprints": prints,
            "has_contact": bool(reporter.phone or reporter.email or reporter.handle),
        },
        "raw_sealed": protector.seal(raw, tracking_id),
        "unknown_fields": list(receipt.unknown_fields),
        "status": str(Status.RECEIVED),
        "submitted_at": report.submitted_at or now,
        "received_at": now,
        "updated_at": now,
        "deadlines": {"verification": receipt.verification_deadline},
        "timeline": [
            {
                "at": now,
                "step": "receive",
                "actor": str(Actor.REPORTER),
                "to": str(Status.RECEIVED),
                "note": f"diterima melalui kanal {report.channel}",
            }
        ],
    }
