"""Quarantined reports on the admin desk: read one, correct and resubmit it, or dismiss it.

Intake keeps a refused message sealed (it may hold identity) in ``quarantine``; the portal
never changes that record. Reading it opens the seal (an audited action, like an identity
reveal); a correction must be a valid ``ReportSubmitted`` for the *same* channel (the
reporter's replies must keep going back through it) and goes to ``lapor.intake`` as a new
message; a resubmission or dismissal is recorded in the portal's ``staff_quarantine_reviews``.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from shared.contract import ReportSubmitted
from shared.pii import IdentityProtector, IdentityUnreadable
from shared.storage import Document


class CorrectionRefused(ValueError):
    """The corrected report is still not valid; ``problems`` says which field and why."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def raw_text(doc: Document, protector: IdentityProtector) -> str:
    """The quarantined message as the channel sent it (pretty JSON when it is JSON)."""
    sealed = doc.get("raw_sealed")
    if not sealed:
        return ""
    try:
        raw = protector.open(bytes(sealed), str(doc["_id"]))
    except IdentityUnreadable:
        return ""
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.dumps(json.loads(text), ensure_ascii=False, indent=2)
    except ValueError:
        return text


def corrected_report(text: str, channel: str | None) -> dict[str, Any]:
    """The admin's correction as the JSON body to resubmit, if it is a valid report."""
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise CorrectionRefused([f"JSON tidak sah: {exc}"]) from None
    if not isinstance(body, dict):
        raise CorrectionRefused(["laporan harus berupa objek JSON"])
    try:
        report = ReportSubmitted.model_validate(body)
    except ValidationError as exc:
        raise CorrectionRefused(
            [
                f"{'.'.join(str(p) for p in e['loc']) or '(laporan)'}: {e['msg']}"
                for e in exc.errors()
            ]
        ) from None
    if channel and report.channel != channel:
        raise CorrectionRefused([f"channel: harus tetap {channel!r} (kanal asal pelapor)"])
    return body
