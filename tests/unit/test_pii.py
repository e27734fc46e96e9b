"""Identity protection: sealed at rest, bound to its case, fingerprints for look-ups."""

import os

import pytest

from shared.contract import Reporter
from shared.logs import redact
from shared.pii import IdentityProtector, IdentityUnreadable

pytestmark = pytest.mark.unit


@pytest.fixture
def protector() -> IdentityProtector:
    return IdentityProtector(os.urandom(32))


def test_sealed_identity_is_unreadable_and_opens_only_for_its_case(
    protector: IdentityProtector,
) -> None:
    reporter = Reporter(name="Siti Aminah", phone="+6281277889900")
    sealed = protector.seal_model(reporter, "AAAA-BBBB-CCCC")
    assert b"Siti" not in sealed and b"+62812" not in sealed
    assert protector.open_json(sealed, "AAAA-BBBB-CCCC") == {
        "name": "Siti Aminah",
        "phone": "+6281277889900",
    }
    with pytest.raises(IdentityUnreadable):
        protector.open(sealed, "DDDD-EEEE-FFFF")  # moved to another case: refused


def test_another_key_cannot_open_it(protector: IdentityProtector) -> None:
    sealed = protector.seal(b"secret", "AAAA-BBBB-CCCC")
    with pytest.raises(IdentityUnreadable):
        IdentityProtector(os.urandom(32)).open(sealed, "AAAA-BBBB-CCCC")


def test_fingerprints_match_equal_contacts_only(protector: IdentityProtector) -> None:
    a = protector.fingerprint("email", "Budi@Example.id ")
    assert a == protector.fingerprint("email", "budi@example.id")
    assert a != protector.fingerprint("email", "budi2@example.id")
    assert a != protector.fingerprint("phone", "budi@example.id")
    assert "budi" not in a


def test_a_key_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        IdentityProtector(b"short")


def test_logs_mask_phone_numbers_and_email_addresses() -> None:
    text = "from budi.santoso@example.id via 081277889900 and +62 812-7788-9900, case 16.71"
    masked = redact(text)
    assert "budi" not in masked and "7788" not in masked
    assert masked.count("[phone]") == 2 and "[email]" in masked
    assert "16.71" in masked
