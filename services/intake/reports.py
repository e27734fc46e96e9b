"""Reading a raw report: parse, validate, normalise — pure, no IO.

Every refusal names the field and the reason, so the quarantine record tells an
operator (and the channel's developer) exactly what to fix.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field

from pydantic import ValidationError

from shared.contacts import normalise_phone
from shared.contract import FieldProblem, Reporter, ReportSubmitted

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Reason:
    """Reason codes of a quarantined report."""

    OVERSIZE = "oversize"
    BAD_JSON = "bad_json"
    NOT_AN_OBJECT = "not_an_object"
    INVALID_FIELDS = "invalid_fields"
    CHANNEL_MISMATCH = "channel_mismatch"


@dataclass
class ReportRefused(Exception):
    """The raw message cannot become a report; it goes to quarantine."""

    reason: str
    problems: list[FieldProblem] = field(default_factory=list)
    channel: str | None = None
    external_id: str | None = None

    def __str__(self) -> str:
        details = "; ".join(f"{p.field}: {p.problem}" for p in self.problems)
        return f"{self.reason}: {details}" if details else self.reason


def channel_of(routing_key: str) -> str | None:
    """The channel a routing key ``channel.<name>`` names."""
    prefix, _, name = routing_key.partition(".")
    return name if prefix == "channel" and name else None


def _best_effort_str(data: dict[str, object], key: str) -> str | None:
    value = data.get(key)
    return value[:200] if isinstance(value, str) else None


def parse_report(raw: bytes, routing_key: str, max_bytes: int) -> ReportSubmitted:
    """The validated report in ``raw``, or :class:`ReportRefused` saying why not."""
    if len(raw) > max_bytes:
        raise ReportRefused(
            Reason.OVERSIZE,
            [FieldProblem(field="(message)", problem=f"{len(raw)} bytes; at most {max_bytes}")],
        )
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportRefused(
            Reason.BAD_JSON, [FieldProblem(field="(message)", problem=f"not UTF-8 JSON: {exc}")]
        ) from None
    if not isinstance(data, dict):
        raise ReportRefused(
            Reason.NOT_AN_OBJECT,
            [FieldProblem(field="(message)", problem="must be a JSON object")],
        )
    channel, external_id = _best_effort_str(data, "channel"), _best_effort_str(data, "external_id")
    try:
        report = ReportSubmitted.model_validate(data)
    except ValidationError as exc:
        problems = [
            FieldProblem(
                field=".".join(str(p) for p in err["loc"]) or "(message)", problem=err["msg"]
            )
            for err in exc.errors(include_url=False, include_input=False)
        ]
        raise ReportRefused(Reason.INVALID_FIELDS, problems, channel, external_id) from None
    expected = channel_of(routing_key)
    if report.channel != expected:
        raise ReportRefused(
            Reason.CHANNEL_MISMATCH,
            [
                FieldProblem(
                    field="channel",
                    problem=f"{report.channel!r} but the routing key is {routing_key!r}",
                )
            ],
            report.channel,
            report.external_id,
        )
    return normalise(report)


def clean_text(text: str) -> str:
    """Text with control characters removed, spaces folded and line ends unified."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _CONTROL.sub("", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _normalise_reporter(reporter: Reporter) -> Reporter:
    updates: dict[str, str | None] = {}
    problems: list[FieldProblem] = []
    if reporter.phone:
        try:
            updates["phone"] = normalise_phone(reporter.phone)
        except ValueError as exc:
            problems.append(FieldProblem(field="reporter.phone", problem=str(exc)))
    if reporter.email:
        if not _EMAIL.match(reporter.email):
            problems.append(FieldProblem(field="reporter.email", problem="not an e-mail address"))
        else:
            local, _, domain = reporter.email.rpartition("@")
            updates["email"] = f"{local}@{domain.lower()}"
    if reporter.name is not None:
        updates["name"] = clean_text(reporter.name) or None
    if problems:
        raise ReportRefused(Reason.INVALID_FIELDS, problems)
    return reporter.model_copy(update=updates)


def normalise(report: ReportSubmitted) -> ReportSubmitted:
    """The report with clean text and contacts in canonical form."""
    description = clean_text(report.description)
    if not description:
        raise ReportRefused(
            Reason.INVALID_FIELDS,
            [FieldProblem(field="description", problem="empty after removing control characters")],
            report.channel,
            report.external_id,
        )
    updates: dict[str, object] = {
        "description": description,
        "title": clean_text(report.title) or None if report.title else None,
    }
    if report.reporter is not None:
        try:
            updates["reporter"] = _normalise_reporter(report.reporter)
        except ReportRefused as refused:
            refused.channel, refused.external_id = report.channel, report.external_id
            raise
    return report.model_copy(update=updates)


def unknown_fields(report: ReportSubmitted) -> list[str]:
    """The names of the fields a channel sent that this contract version does not know."""
    names = sorted(report.model_extra or {})
    for part, model in (("reporter", report.reporter), ("location", report.location)):
        if model is not None:
            names += [f"{part}.{name}" for name in sorted(model.model_extra or {})]
    return names
