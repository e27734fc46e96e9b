"""E-mail <-> LAPOR contract messages: pure functions, standard library only, no IO.

What an e-mail becomes:

- a new e-mail (no tracking ID in its subject) -> a ``ReportSubmitted``: Message-ID as
  ``external_id``, From as the reporter (address and display name), Subject as ``title``,
  the text body as ``description``;
- a reply whose subject carries a tracking ID (``Re: [LAPOR 7KQM-X3RT-9DHV] ...``) -> a
  ``ReporterReply`` command: ``TERIMA`` accepts the answer, ``BUKA <reason>`` reopens the
  case, a single digit 1-5 rates the answer, anything else adds information;
- a ``Notification`` from LAPOR -> an e-mail to the reporter, threaded under their report.

The field names are LAPOR's public contract v1 (docs/channels.md, docs/asyncapi.yaml);
this module does not import LAPOR: an outside system codes against the contract only.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from html.parser import HTMLParser
from typing import Any

CHANNEL = "email"
#: Routing keys: reports go to ``lapor.intake``, notifications come on ``lapor.outbound``.
ROUTING_KEY = f"channel.{CHANNEL}"

# The contract's bounds (ReportSubmitted, ReporterReply): longer text is cut here, with a
# note, rather than refused by LAPOR.
MAX_TITLE = 200
MAX_DESCRIPTION = 5000
MAX_ID = 200
MAX_REPLY_MESSAGE = 5000

# A LAPOR tracking ID: three groups of four from an alphabet without 0/O, 1/I/L or U.
_SYMBOL = "[23456789ABCDEFGHJKMNPQRSTVWXYZ]"
TRACKING_ID = re.compile(rf"\b({_SYMBOL}{{4}}-{_SYMBOL}{{4}}-{_SYMBOL}{{4}})\b", re.IGNORECASE)
_RATING = re.compile(r"^[1-5]$")
_REOPEN = re.compile(r"^BUKA\b[\s:,.-]*(.*)$", re.IGNORECASE | re.DOTALL)
# The whole first line: "Terima kasih, tapi ..." (thank you, but ...) is not an acceptance.
_ACCEPT = re.compile(r"^TERIMA[.!]*$", re.IGNORECASE)
# Where a mail client starts quoting the message being answered.
_QUOTE_START = re.compile(
    r"^(On .+ wrote:|Pada .+ menulis:|-----\s*Original Message\s*-----|-- )\s*$",
    re.IGNORECASE,
)

#: The subject line of the e-mail sent for each LAPOR event (Bahasa Indonesia).
SUBJECTS = {
    "received": "Laporan Anda telah diterima",
    "verified": "Laporan Anda telah diverifikasi",
    "deferred": "Laporan Anda memerlukan informasi tambahan",
    "archived": "Laporan Anda tidak dapat diproses lebih lanjut",
    "dispatched": "Laporan Anda telah diteruskan kepada instansi",
    "forwarded": "Laporan Anda sedang dialihkan",
    "followed_up": "Tindak lanjut laporan Anda",
    "resolved": "Laporan Anda telah selesai ditindaklanjuti",
    "reopened": "Laporan Anda dibuka kembali",
    "information_added": "Informasi tambahan telah diterima",
    "rated": "Terima kasih atas penilaian Anda",
    "closed": "Laporan Anda telah ditutup",
}


class UnusableEmail(ValueError):
    """The e-mail can be neither a report nor a reply (no sender address)."""


@dataclass(frozen=True)
class Incoming:
    """What an incoming e-mail becomes: a report or a reply, and its body to publish."""

    kind: str  # "report" or "reply"
    body: dict[str, Any]
    message_id: str  # the AMQP message_id to publish with


def _stable_id(value: str) -> str:
    """``value`` if it fits the contract's id fields, else a digest of it."""
    if 0 < len(value) <= MAX_ID:
        return value
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()


def _message_id(message: EmailMessage, raw: bytes) -> str:
    """The Message-ID without brackets; for a message without one, a digest of its bytes
    (so the same file sent twice is still one report)."""
    header = str(message.get("Message-ID", "")).strip().strip("<>").strip()
    if header:
        return _stable_id(header)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _sender(message: EmailMessage) -> dict[str, str]:
    """The reporter as the channel knows them: address (domain lower-cased) and name."""
    header = message.get("From")
    addresses = getattr(header, "addresses", ())
    if not addresses or not addresses[0].addr_spec or "@" not in addresses[0].addr_spec:
        raise UnusableEmail("the e-mail has no sender address")
    address = addresses[0]
    local, _, domain = address.addr_spec.rpartition("@")
    reporter = {"email": f"{local}@{domain.lower()}"}
    if address.display_name:
        reporter["name"] = address.display_name
    return reporter


class _TextOfHtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in ("br", "p", "div", "li", "tr"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def body_text(message: EmailMessage) -> str:
    """The message's text: the plain part, else the HTML part's text."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = part.get_content()
    text = content if isinstance(content, str) else ""
    if part.get_content_subtype() == "html":
        parser = _TextOfHtml()
        parser.feed(text)
        text = "".join(parser.parts)
    return text.replace("\r\n", "\n").strip()


def own_words(text: str) -> str:
    """A reply's own words: the quoted message it answers (``>`` lines, "On ... wrote:")
    and the signature are left out."""
    kept: list[str] = []
    for line in text.splitlines():
        if _QUOTE_START.match(line.strip()):
            break
        if not line.lstrip().startswith(">"):
            kept.append(line)
    return "\n".join(kept).strip()


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 2].rstrip() + " …"


def parse(raw: bytes) -> Incoming:
    """Read an RFC 5322 message: a reply if its subject names a tracking ID, else a report."""
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)  # policy.default makes EmailMessage objects
    subject = str(message.get("Subject", "")).strip()
    if match := TRACKING_ID.search(subject):
        return reply(message, raw, match.group(1).upper())
    return report(message, raw, subject)


def report(message: EmailMessage, raw: bytes, subject: str) -> Incoming:
    """A ``ReportSubmitted`` for a new e-mail."""
    external_id = _message_id(message, raw)
    text = body_text(message) or subject
    body: dict[str, Any] = {
        "channel": CHANNEL,
        "external_id": external_id,
        "description": _cut(text, MAX_DESCRIPTION),
        "reporter": _sender(message),
    }
    if subject:
        body["title"] = _cut(subject, MAX_TITLE)
    date = message.get("Date")
    moment = getattr(date, "datetime", None)
    if moment is not None and moment.tzinfo is not None:
        body["submitted_at"] = moment.isoformat()
    # Fields the contract does not know are kept with the case by LAPOR, never refused.
    if len(text) > MAX_DESCRIPTION:
        body["email_body_chars"] = len(text)
    attachments = [p for p in message.iter_attachments() if p.get_filename()]
    if attachments:
        body["email_attachments"] = [str(p.get_filename()) for p in attachments][:20]
    return Incoming("report", body, f"{CHANNEL}:{external_id}")


def reply(message: EmailMessage, raw: bytes, tracking_id: str) -> Incoming:
    """A ``ReporterReply`` for a reply about case ``tracking_id``."""
    words = own_words(body_text(message))
    first_line = words.splitlines()[0].strip() if words else ""
    body: dict[str, Any] = {
        "message_id": f"{CHANNEL}-reply:{_message_id(message, raw)}"[:MAX_ID],
        "tracking_id": tracking_id,
        "channel": CHANNEL,
        "reporter": _sender(message),
    }
    if _ACCEPT.match(first_line):
        body["action"] = "accept"
    elif reopen := _REOPEN.match(words):
        body["action"] = "reopen"
        if reason := reopen.group(1).strip():
            body["message"] = _cut(reason, MAX_REPLY_MESSAGE)
    elif _RATING.match(words):
        body["action"] = "rate"
        body["rating"] = int(words)
    else:
        body["action"] = "add_information"
        body["message"] = _cut(words or str(message.get("Subject", "")), MAX_REPLY_MESSAGE)
    return Incoming("reply", body, body["message_id"])


def notification_email(notification: dict[str, Any], sender: str) -> EmailMessage:
    """The e-mail that carries a LAPOR ``Notification`` to its reporter.

    Threaded under the report (In-Reply-To its Message-ID) with the tracking ID in the
    subject, so that the reporter's reply comes back as a reply to that case.
    """
    recipient = notification.get("recipient") or {}
    address = recipient.get("email")
    if not address:
        raise UnusableEmail("the notification has no e-mail address to send to")
    tracking_id = notification["tracking_id"]
    subject = SUBJECTS.get(notification["event"], "Perkembangan laporan Anda")
    email = EmailMessage()
    email["From"] = sender
    email["To"] = Address(display_name=recipient.get("name") or "", addr_spec=address)
    email["Subject"] = f"[LAPOR {tracking_id}] {subject}"
    digest = hashlib.sha256(notification["message_id"].encode()).hexdigest()[:32]
    email["Message-ID"] = f"<{digest}@{sender.rpartition('@')[2].strip('>') or 'lapor'}>"
    if original := notification.get("in_reply_to"):
        email["In-Reply-To"] = f"<{original}>"
        email["References"] = f"<{original}>"
    email["X-LAPOR-Tracking-ID"] = tracking_id
    email["X-LAPOR-Event"] = notification["event"]
    if occurred := notification.get("occurred_at"):
        from datetime import datetime

        email["Date"] = format_datetime(datetime.fromisoformat(occurred))
    email.set_content(
        f"{notification['text']}\n\n"
        f"--\nNomor pelacakan: {tracking_id}\n"
        "Balas e-mail ini (tanpa mengubah subjeknya) untuk menambah informasi. Setelah "
        "laporan selesai ditindaklanjuti: balas TERIMA jika Anda puas, BUKA dan alasannya "
        "jika belum, atau satu angka 1 sampai 5 untuk memberi nilai.\n"
    )
    return email
