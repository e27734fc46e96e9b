"""Reading a raw report: parse, validate, normalise — pure, no IO.

Every refusal names the field and the reason, so the quarantine record tells an
operator (and the channel's developer) exactly what to fix — and never repeats what the
channel sent, which may hold a reporter's identity.

Keys a channel supplies are data, never structure: a ``$``-prefixed, dotted or NUL key
anywhere in a report is refused (MongoDB would read ``{"$ref": …, "$id": …}`` back as a
DBRef, and a NUL key fails in the driver), the fields of ``location`` and of each
attachment that this contract does not know are kept as one opaque JSON string
(``extra_json``), and nesting deeper than :data:`MAX_DEPTH` is refused before it can
reach the store.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from shared.contacts import normalise_phone
from shared.contract import Attachment, FieldProblem, Location, Reporter, ReportSubmitted

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
    #: A ``$``-prefixed, dotted or NUL key: data posing as database structure.
    UNSAFE_KEYS = "unsafe_keys"
    TOO_DEEP = "too_deep"
    #: The same ``(channel, external_id)`` again, with different content: not a resend.
    EXTERNAL_ID_CONFLICT = "external_id_conflict"
    RATE_LIMITED = "rate_limited"
    #: The store refused to keep the report (too large, a value BSON cannot hold).
    STORE_REFUSED = "store_refused"
    #: Not from the channel's own broker user (shared/senders.py). Quarantined rather than
    #: dead-lettered, so that its body is kept sealed like every other refused report.
    UNAUTHORISED = "unauthorised"


#: How deeply a report's JSON may nest (the contract needs 3; MongoDB refuses past 100).
MAX_DEPTH = 32
#: Where a model's unknown fields are kept, as one JSON string.
EXTRA_JSON = "extra_json"
_Extended = TypeVar("_Extended", Location, Attachment)
#: MongoDB's integers are signed 64-bit.
_INT64 = range(-(2**63), 2**63)


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
    # Nesting never exceeds the number of opening brackets: most reports need no count.
    openers = raw.count(b"{") + raw.count(b"[")
    if openers > MAX_DEPTH and (depth := json_depth(raw)) > MAX_DEPTH:
        raise ReportRefused(
            Reason.TOO_DEEP,
            [FieldProblem(field="(message)", problem=f"nested {depth} deep; at most {MAX_DEPTH}")],
        )
    try:
        data = json.loads(raw.decode("utf-8"))
    except json.JSONDecodeError as exc:  # its message names a position, never content
        raise ReportRefused(
            Reason.BAD_JSON,
            [FieldProblem(field="(message)", problem=f"not JSON: {exc.msg} at {exc.pos}")],
        ) from None
    except UnicodeDecodeError as exc:
        raise ReportRefused(
            Reason.BAD_JSON,
            [FieldProblem(field="(message)", problem=f"not UTF-8 at byte {exc.start}")],
        ) from None
    except RecursionError:  # json_depth counts only brackets; never trust one check alone
        raise ReportRefused(
            Reason.TOO_DEEP, [FieldProblem(field="(message)", problem="nested too deep")]
        ) from None
    if not isinstance(data, dict):
        raise ReportRefused(
            Reason.NOT_AN_OBJECT,
            [FieldProblem(field="(message)", problem="must be a JSON object")],
        )
    channel, external_id = _best_effort_str(data, "channel"), _best_effort_str(data, "external_id")
    if unsafe := unsafe_keys(data):
        raise ReportRefused(Reason.UNSAFE_KEYS, unsafe, channel, external_id)
    try:
        report = ReportSubmitted.model_validate(data)
    except ValidationError as exc:
        problems = [problem_of(err) for err in exc.errors(include_url=False, include_input=True)]
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
        "location": opaque_extras(report.location) if report.location else None,
        "attachments": [opaque_extras(a) for a in report.attachments],
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
            names += [f"{part}.{name}" for name in _extra_names(model)]
    for n, attachment in enumerate(report.attachments):
        names += [f"attachments.{n}.{name}" for name in _extra_names(attachment)]
    return names


def _extra_names(model: BaseModel) -> list[str]:
    extra = dict(model.model_extra or {})
    opaque = extra.pop(EXTRA_JSON, None)
    if isinstance(opaque, str) and set(extra) == set():
        try:
            return sorted(json.loads(opaque))
        except (json.JSONDecodeError, TypeError):
            pass
    return sorted(model.model_extra or {})


# --- keys are data, never structure --------------------------------------------------------


def json_depth(raw: bytes) -> int:
    """How deeply ``raw`` nests objects and arrays, counted without parsing it."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def _walk(value: Any, path: str) -> Iterator[tuple[str, str | None, Any]]:
    """(path, key, value) for every key and value below ``value`` (iteratively)."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        current, where = stack.pop()
        if isinstance(current, dict):
            for key, inner in current.items():
                below = f"{where}.{key}" if where else str(key)
                yield below, str(key), inner
                stack.append((inner, below))
        elif isinstance(current, list):
            for n, inner in enumerate(current):
                below = f"{where}.{n}" if where else str(n)
                yield below, None, inner
                stack.append((inner, below))


def _printable(text: str, limit: int = 60) -> str:
    """A key as it may appear in a reason: control characters shown, length bounded."""
    shown = text.encode("unicode_escape").decode("ascii")
    return shown if len(shown) <= limit else shown[:limit] + "…"


def unsafe_keys(data: dict[str, Any]) -> list[FieldProblem]:
    """Every ``$``-prefixed, dotted or NUL key in ``data``, and integers MongoDB cannot hold."""
    problems: list[FieldProblem] = []
    for path, key, value in _walk(data, ""):
        if key is not None and (key.startswith("$") or "." in key or "\x00" in key):
            problems.append(
                FieldProblem(
                    field=_printable(path),
                    problem="a key may not start with '$' or contain '.' or NUL",
                )
            )
        elif isinstance(value, int) and not isinstance(value, bool) and value not in _INT64:
            problems.append(
                FieldProblem(field=_printable(path), problem="integer out of 64-bit range")
            )
    return problems[:20]


def opaque_extras(model: _Extended) -> _Extended:
    """``model`` with the fields this contract does not know folded into one JSON string."""
    extra = dict(model.model_extra or {})
    if not extra or set(extra) == {EXTRA_JSON}:
        return model
    known = model.model_dump(exclude=set(extra), exclude_none=True)
    return type(model).model_validate(
        known | {EXTRA_JSON: json.dumps(extra, ensure_ascii=False, sort_keys=True)}
    )


# --- refusals that never repeat the input ------------------------------------------------


def problem_of(error: ErrorDetails) -> FieldProblem:
    """A validation error as a field problem whose text never contains the input."""
    where = ".".join(_printable(str(p)) for p in error["loc"]) or "(message)"
    message = error["msg"]
    given = error.get("input")
    if isinstance(given, str | int | float) and not isinstance(given, bool):
        text = str(given)
        if len(text) >= 3 and text in message:
            message = f"invalid value ({error['type']})"
    return FieldProblem(field=where, problem=message)


# --- one report per (channel, external_id) -------------------------------------------------


def content_digest(report: ReportSubmitted) -> str:
    """A digest of what a report says (not when it was sent): equal for a true resend."""
    content = report.model_dump(mode="json", exclude={"submitted_at"}, exclude_none=True)
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_resend(stored_digest: str | None, report: ReportSubmitted) -> None:
    """Refuse a reused ``(channel, external_id)`` whose content differs from the stored case.

    A case stored before digests existed (``None``) counts as a resend, as it always did.
    """
    if stored_digest is not None and stored_digest != content_digest(report):
        raise ReportRefused(
            Reason.EXTERNAL_ID_CONFLICT,
            [
                FieldProblem(
                    field="external_id",
                    problem="already used for a report with different content",
                )
            ],
            report.channel,
            report.external_id,
        )


def kept_raw(raw: bytes, max_bytes: int, prefix_bytes: int = 4096) -> tuple[bytes, str | None]:
    """What quarantine keeps of ``raw``: all of it, or when too large its first bytes and
    its SHA-256 (so the record stays small yet the message can still be recognised)."""
    if len(raw) <= max_bytes:
        return raw, None
    return raw[:prefix_bytes], hashlib.sha256(raw).hexdigest()


def store_refused(report: ReportSubmitted, error: str) -> ReportRefused:
    """The quarantine reason of a report the store would not take (``error``: a class name)."""
    return ReportRefused(
        Reason.STORE_REFUSED,
        [FieldProblem(field="(message)", problem=f"the store refused it ({error})")],
        report.channel,
        report.external_id,
    )


def unauthorised(routing_key: str, why: str) -> ReportRefused:
    """The quarantine reason of a report its sender may not submit (``why``: no identity)."""
    return ReportRefused(
        Reason.UNAUTHORISED,
        [FieldProblem(field="(sender)", problem=why)],
        channel_of(routing_key),
    )


# --- rate limits ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RateLimit:
    """At most ``limit`` reports per ``window`` for one scope (a channel, or a reporter)."""

    scope: str
    limit: int
    window: timedelta

    def bucket(self, key: str, now: datetime) -> tuple[str, datetime]:
        """The counter's id for ``key`` at ``now`` and when that window ends (fixed windows)."""
        seconds = int(self.window.total_seconds())
        start = int(now.timestamp()) // seconds * seconds
        ends = datetime.fromtimestamp(start + seconds, tz=now.tzinfo)
        digest = hashlib.sha256(key.encode()).hexdigest()[:24]  # no identity in the id
        return f"{self.scope}:{digest}:{start}", ends

    def admits(self, count_in_window: int) -> bool:
        """Whether the report that made the count ``count_in_window`` may go on."""
        return count_in_window <= self.limit

    def refusal(self, channel: str | None, external_id: str | None) -> ReportRefused:
        """The quarantine reason of a report over the limit: parked, never dropped."""
        return ReportRefused(
            Reason.RATE_LIMITED,
            [
                FieldProblem(
                    field="(message)",
                    problem=f"more than {self.limit} reports per {self.window} for one "
                    f"{self.scope}; kept in quarantine",
                )
            ],
            channel,
            external_id,
        )
