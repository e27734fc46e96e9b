"""Reporters' contacts in one canonical form, so the same person is recognised everywhere."""

from __future__ import annotations

import phonenumbers


def normalise_phone(phone: str) -> str:
    """An Indonesian (or international) phone number in E.164, e.g. ``+6281234567890``."""
    try:
        number = phonenumbers.parse(phone, "ID")
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
