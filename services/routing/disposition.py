"""The case as an agency may see it (the *disposisi*) — pure, no IO.

*Satu pintu* ("one door"): every word between a reporter and an agency passes through the
central admin, so an agency never receives the reporter's contacts — not as fields (the
:class:`~shared.contract.Disposition` has none) and not inside the text either: contacts
the reporter typed into the report are masked. For an *anonim* report the agency also
gets no name, and the reporter's name is masked wherever it occurs in the text.

Every Disposition is the complete current view of the case (description, every piece of
information the reporter added, the latest note), so an agency system can simply keep
the last one it received for a tracking ID.

Masking fails closed: text is normalised first (NFKC, invisible characters removed, see
:func:`~shared.contacts.normalise_text`), so a full-width or zero-width-split name is
still found; attachment URLs are read percent-decoded and masked too; and a case whose
identity cannot be opened is not turned into a Disposition at all
(:func:`~shared.pii.open_identity` raises instead of returning nothing to mask).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote_plus
from zoneinfo import ZoneInfo

from shared.contacts import normalise_text
from shared.contract import Attachment, Disposition, Location
from shared.lifecycle import Kind, Severity
from shared.logs import redact

CONCEALED = "[disamarkan]"
_LOCATION_FIELDS = ("address", "region_code", "lat", "lon")
_ATTACHMENT_FIELDS = ("url", "content_type", "size")
_MIN_SECRET = 3  # shorter strings would mask ordinary words


def _phone_variants(phone: str) -> list[str]:
    digits = re.sub(r"\D", "", phone)
    variants = [phone, digits]
    if digits.startswith("62"):
        variants += ["0" + digits[2:], "+" + digits, digits[2:]]
    return variants


def secrets_of(identity: Mapping[str, object], anonymous: bool) -> list[str]:
    """The strings an agency must never read: contacts always, the name when *anonim*."""
    found: list[str] = []
    for key in ("phone", "email", "handle", "name"):
        value = identity.get(key)
        if not isinstance(value, str) or (key == "name" and not anonymous):
            continue
        value = normalise_text(value)
        found += _phone_variants(value) if key == "phone" else [value]
        if key == "name":  # "Budi" alone still names Budi Santoso: each part is masked too
            found += value.split()
            found.append("".join(value.split()))  # "BudiSantoso", once spaces are gone
        if key == "handle" and ":" in value:  # "tg:5501234": the id alone identifies too
            found.append(value.split(":", 1)[1])
    # Longest first, so a name is masked before any shorter part of it.
    unique = {s.strip() for s in found if len(s.strip()) >= _MIN_SECRET}
    return sorted(unique, key=len, reverse=True)


#: Runs of ASCII characters that have no case (digits, ``@``, ``.``, ``+`` …).
_CASELESS = re.compile(r"[\x00-\x40\x5b-\x60\x7b-\x7f]+")


def _cannot_occur(secret: str, text: str) -> bool:
    """True when ``secret`` cannot match anywhere in ``text``, however its letters are cased.

    A case-insensitive pattern still matches a character that has no case (an ASCII digit
    or punctuation mark) only by itself, so every run of them in the secret occurs as it
    is in any text the secret occurs in. Most secrets are phone numbers, e-mail addresses
    and handles: when such a run is missing, the masking pattern (compiled anew for each
    reporter) is not needed at all; whatever might match still goes through it.
    """
    return any(run not in text for run in _CASELESS.findall(secret))


def conceal(text: str, secrets: Sequence[str], *, underscore_joins: bool = False) -> str:
    """``text`` (normalised) with each secret (any case, whole words) and contacts masked.

    ``underscore_joins``: an underscore separates words too (``budi_santoso``), as in URLs.
    """
    text = normalise_text(text)
    # A secret must not continue a word; in URLs "_" is a separator, not part of a word.
    word = r"[^\W_]" if underscore_joins else r"\w"
    for secret in secrets:
        literal = normalise_text(secret)
        if _cannot_occur(literal, text):
            continue  # nothing to mask: the substitution would change nothing
        pattern = rf"(?<!{word}){re.escape(literal)}(?!{word})"
        text = re.sub(pattern, CONCEALED, text, flags=re.IGNORECASE)
    return redact(text)


#: Characters a masked URL keeps as they are (its structure); everything else is escaped.
_URL_SAFE = ":/?#[]@!$&'()*+,;=-._~%"


def conceal_url(url: str, secrets: Sequence[str]) -> str:
    """``url`` with identities masked, also percent-encoded ones and ones joined by ``_``.

    A URL is returned unchanged when nothing in it is secret; otherwise its decoded,
    masked form is re-encoded (so it stays a URL without spaces).
    """
    decoded = normalise_text(unquote_plus(url))
    masked = conceal(decoded, secrets, underscore_joins=True)
    if masked == decoded:
        return url
    return quote(masked, safe=_URL_SAFE)


def _local(moment: datetime, tz: str) -> str:
    return moment.astimezone(ZoneInfo(tz)).strftime("%d-%m-%Y %H:%M")


def compose_note(
    headline: str | None, additions: Sequence[Mapping[str, Any]], tz: str
) -> str | None:
    """The Disposition's note: the headline, then every addition from the reporter."""
    parts = [headline] if headline else []
    parts += [
        f"Informasi tambahan dari pelapor ({_local(a['at'], tz)}): {a['text']}" for a in additions
    ]
    return "\n\n".join(parts) or None


@dataclass(frozen=True)
class DispositionFacts:
    """What routing decided about one Disposition: to whom, which hop, which deadlines."""

    message_id: str
    agency: str
    hop: int
    severity: Severity
    dispatched_at: datetime
    follow_up_deadline: datetime
    resolution_deadline: datetime
    headline: str | None
    tz: str


def agency_view(
    case: Mapping[str, Any], facts: DispositionFacts, identity: Mapping[str, object]
) -> Disposition:
    """The Disposition for ``agency``: only what it may see of ``case``."""
    anonymous = bool(case.get("anonymous"))
    secrets = secrets_of(identity, anonymous)
    location = case.get("location") or None
    attachments = case.get("attachments") or []
    note = compose_note(facts.headline, case.get("additions") or [], facts.tz)
    name = identity.get("name")
    return Disposition(
        message_id=facts.message_id,
        tracking_id=case["_id"],
        agency=facts.agency,
        hop=facts.hop,
        kind=Kind(case.get("kind") or Kind.PENGADUAN),
        title=conceal(case["title"], secrets) if case.get("title") else None,
        description=conceal(case["description"], secrets),
        category=case.get("category") or case.get("category_hint"),
        severity=facts.severity,
        location=Location(
            **{
                k: conceal(v, secrets) if isinstance(v, str) and k == "address" else v
                for k, v in location.items()
                if k in _LOCATION_FIELDS and v is not None
            }
        )
        if location
        else None,
        attachments=[
            Attachment(
                **{
                    k: conceal_url(a[k], secrets) if k == "url" else a[k]
                    for k in _ATTACHMENT_FIELDS
                    if a.get(k) is not None
                }
            )
            for a in attachments
        ],
        submitted_at=case["submitted_at"],
        dispatched_at=facts.dispatched_at,
        follow_up_deadline=facts.follow_up_deadline,
        resolution_deadline=facts.resolution_deadline,
        anonymous=anonymous,
        confidential=bool(case.get("confidential")),
        reporter_name=name if isinstance(name, str) and name and not anonymous else None,
        note=conceal(note, secrets) if note else None,
    )
