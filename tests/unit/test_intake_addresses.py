"""The status relay's reply addresses: what it keeps of a case, and for how many cases."""

from __future__ import annotations

import pytest

from services.intake.handlers import _Addresses

pytestmark = pytest.mark.unit


def _case(tid: str) -> dict[str, object]:
    return {
        "_id": tid,
        "channel": "whatsapp",
        "external_id": f"wa-{tid}",
        "reporter": {"sealed": b"...", "fingerprints": ["fp"]},
        "description": "never kept",
        "outbox": [{"message_id": "m"}],
    }


def test_only_the_reply_address_is_kept() -> None:
    addresses = _Addresses(size=3)
    addresses.keep(_case("A"))
    assert addresses.get("A") == {
        "_id": "A",
        "channel": "whatsapp",
        "external_id": "wa-A",
        "reporter": {"sealed": b"...", "fingerprints": ["fp"]},
    }
    assert addresses.get("B") is None


def test_the_least_recently_used_address_goes_first() -> None:
    addresses = _Addresses(size=2)
    addresses.keep(_case("A"))
    addresses.keep(_case("B"))
    assert addresses.get("A") is not None  # A used: B is now the oldest
    addresses.keep(_case("C"))
    assert addresses.get("B") is None
    assert addresses.get("A") is not None and addresses.get("C") is not None
