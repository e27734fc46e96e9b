"""Refused messages that name a reporter are dead-lettered sealed: what the seal keeps."""

from __future__ import annotations

import json
import os

import pytest

from shared.pii import IdentityProtector, IdentityUnreadable
from shared.sealed_letters import carries_identity, open_sealed, sealed_body

pytestmark = pytest.mark.unit

KEY = IdentityProtector(os.urandom(32))
REPLY = {
    "message_id": "r-1",
    "tracking_id": "7KQM-X3RT-9DHV",
    "channel": "sms",
    "reporter": {"name": "Siti Aminah", "phone": "+6281277889900", "email": "siti@contoh.id"},
    "action": "add_information",
    "message": "Masih rusak.",
}


@pytest.mark.parametrize(
    ("key", "named"),
    [
        ("reporter.reply", True),
        ("channel.sms", True),
        ("channel.web", True),
        ("opd.respond", False),
        ("verification.decide", False),
        ("complaint.verified", False),
    ],
)
def test_what_names_a_reporter(key: str, named: bool) -> None:
    assert carries_identity(key) is named


def test_a_sealed_dead_letter_shows_the_case_and_no_contact_and_opens_with_the_key() -> None:
    raw = json.dumps(REPLY).encode()
    sealed = sealed_body(KEY, raw, "r-1")
    text = sealed.decode()
    for contact in ("Siti", "Aminah", "6281277889900", "siti@contoh.id", "Masih"):
        assert contact not in text
    assert json.loads(sealed)["tracking_id"] == "7KQM-X3RT-9DHV"
    assert open_sealed(KEY, sealed, "r-1") == raw
    with pytest.raises(IdentityUnreadable):
        open_sealed(IdentityProtector(os.urandom(32)), sealed, "r-1")
    with pytest.raises(IdentityUnreadable):  # bound to its message: not swappable
        open_sealed(KEY, sealed, "r-2")


def test_a_body_that_is_not_json_is_sealed_whole() -> None:
    raw = b"\xff not json Siti Aminah"
    sealed = sealed_body(KEY, raw, None)
    assert "Siti" not in sealed.decode()
    assert set(json.loads(sealed)) == {"sealed"}
    assert open_sealed(KEY, sealed, None) == raw
