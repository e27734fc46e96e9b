"""Reporters' contacts in one canonical form, so the same person is recognised everywhere."""

from __future__ import annotations

import re
import unicodedata

import phonenumbers

# Characters that render as nothing (or only reorder text) yet split a word for a regex:
# zero-width spaces and joiners, word joiner and invisible operators, the byte-order mark,
# bidirectional controls and marks, the soft hyphen, the Mongolian vowel separator and the
# combining grapheme joiner. A name written with them must still be recognised.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
    "\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0]"
)


def normalise_text(text: str) -> str:
    """``text`` in the one form identity checks compare: NFKC, invisible characters removed.

    NFKC folds full-width and other compatibility forms (``Ｂｕｄｉ`` → ``Budi``); the
    invisible characters are removed after it because NFKC keeps them.
    """
    return _INVISIBLE.sub("", unicodedata.normalize("NFKC", text))


def normalise_phone(phone: str) -> str:
    """An Indonesian (or international) phone number in E.164, e.g. ``+6281234567890``."""
    try:
        number = phonenumbers.parse(normalise_text(phone), "ID")
    except phonenumbers.NumberParseException:
        raise ValueError("not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def contact_keys(
    channel: str, phone: str | None, email: str | None, handle: str | None
) -> list[tuple[str, str]]:
    """The (kind, value) pairs a reporter is recognised by; a handle counts per channel."""
    keys: list[tuple[str, str]] = []
    phone, email, handle = (normalise_text(v) if v else None for v in (phone, email, handle))
    if phone:
        try:
            keys.append(("phone", normalise_phone(phone)))
        except ValueError:
            keys.append(("phone", phone))
    if email:
        keys.append(("email", email))
    if handle:
        keys.append(("handle", f"{channel.lower()}:{handle}"))
    return keys
