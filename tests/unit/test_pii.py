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


# --- issue 10: key ids, rotation, failing closed ------------------------------------------

from shared.pii import open_identity  # noqa: E402


def test_sealed_data_names_its_key_and_the_key_id_is_bound_in() -> None:
    protector = IdentityProtector(os.urandom(32), key_id="k7")
    sealed = protector.seal(b"secret", "AAAA-BBBB-CCCC")
    assert protector.key_id_of(sealed) == "k7"
    tampered = sealed[:2] + b"k8" + sealed[4:]
    with pytest.raises(IdentityUnreadable):
        IdentityProtector.from_keyring({"k7": os.urandom(32), "k8": os.urandom(32)}, "k8").open(
            tampered, "AAAA-BBBB-CCCC"
        )


def test_a_rotated_protector_opens_old_data_and_reseals_it_under_the_new_key() -> None:
    old_key, new_key = os.urandom(32), os.urandom(32)
    old = IdentityProtector(old_key, key_id="k1")
    sealed = old.seal(b"Siti", "AAAA-BBBB-CCCC")
    new = IdentityProtector.from_keyring({"k1": old_key, "k2": new_key}, "k2")
    assert not new.is_current(sealed)
    resealed = new.reseal(sealed, "AAAA-BBBB-CCCC")
    assert new.key_id_of(resealed) == "k2"
    only_new = IdentityProtector(new_key, key_id="k2")
    assert only_new.open(resealed, "AAAA-BBBB-CCCC") == b"Siti"
    with pytest.raises(IdentityUnreadable, match="does not hold"):
        only_new.open(sealed, "AAAA-BBBB-CCCC")


def test_data_sealed_before_key_ids_still_opens() -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from shared.pii import _derive

    key = os.urandom(32)
    nonce = os.urandom(12)
    legacy = b"\x01" + nonce + AESGCM(_derive(key, b"seal")).encrypt(nonce, b"x", b"CASE")
    protector = IdentityProtector.from_keyring({"k1": os.urandom(32), "k0": key}, "k1")
    assert protector.open(legacy, "CASE") == b"x"
    assert protector.key_id_of(legacy) is None


def test_fingerprints_match_across_a_rotation() -> None:
    old_key, new_key = os.urandom(32), os.urandom(32)
    before = IdentityProtector(old_key, "k1").contact_fingerprints(
        "sms", "081277889900", None, None
    )
    during = IdentityProtector.from_keyring({"k1": old_key, "k2": new_key}, "k2")
    after = IdentityProtector(new_key, "k2").contact_fingerprints(
        "sms", "+6281277889900", None, None
    )
    both = during.contact_fingerprints("sms", "0812-7788-9900", None, None)
    assert before & both and after & both and not before & after


def test_fingerprints_ignore_full_width_and_invisible_characters(
    protector: IdentityProtector,
) -> None:
    plain = protector.contact_fingerprints("sms", None, "budi@example.id", "u1")
    disguised = protector.contact_fingerprints("sms", None, "ｂｕｄｉ@example.id\u200b", "u\u00ad1")
    assert plain == disguised


def test_an_unreadable_identity_raises_instead_of_masking_nothing(
    protector: IdentityProtector,
) -> None:
    case = {"_id": "AAAA-BBBB-CCCC", "reporter": {"sealed": protector.seal(b"{}", "OTHER")}}
    with pytest.raises(IdentityUnreadable):
        open_identity(protector, case)
    with pytest.raises(IdentityUnreadable):
        open_identity(protector, {"_id": "AAAA-BBBB-CCCC", "reporter": {}})
    good = {"_id": "X", "reporter": {"sealed": protector.seal(b'{"name": "Siti"}', "X")}}
    assert open_identity(protector, good) == {"name": "Siti"}
