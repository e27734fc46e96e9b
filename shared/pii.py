"""Reporter identity protection: encrypted at rest, keyed hashes for look-ups.

Every reporter's identity (name, phone, e-mail, channel handle) is stored only as
AES-256-GCM ciphertext bound to its case, whatever the report's flags: *anonim* only
changes who may ever see it decrypted (nobody outside the central system), not how it
is kept. "Same reporter" look-ups use HMAC-SHA256 fingerprints under a key derived
from the same secret, so equal contacts match without being readable.

Keys rotate. Sealed data names the key it was sealed with (a short key id, bound into
the ciphertext), a protector holds the current key and any older ones, and
``lapor keys rotate`` re-seals everything under the current key. While more than one key
is held, a contact's fingerprints are computed under every key, so a case stored before
the rotation and one stored after still match; once everything is re-sealed and the old
keys are dropped, only the current key's fingerprints remain.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import BaseModel

from shared.contacts import contact_keys, normalise_text

_VERSION = b"\x01"  # nonce + ciphertext, no key id (before key rotation existed)
_VERSION_KEYED = b"\x02"  # key id length, key id, nonce + ciphertext; the id is bound in
_NONCE_BYTES = 12
DEFAULT_KEY_ID = "k1"


class IdentityUnreadable(Exception):
    """The sealed identity cannot be opened with this key (wrong key, or tampered)."""


class _Key:
    def __init__(self, master: bytes) -> None:
        if len(master) != 32:
            raise ValueError("the identity key must be 32 bytes")
        self.aead = AESGCM(_derive(master, b"seal"))
        self.mac_key = _derive(master, b"fingerprint")


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=b"lapor/" + purpose).derive(master)


class IdentityProtector:
    """Seals and opens identity data, and fingerprints contacts for equality look-ups."""

    def __init__(
        self,
        master_key: bytes,
        key_id: str = DEFAULT_KEY_ID,
        older_keys: Mapping[str, bytes] | None = None,
    ) -> None:
        if not key_id or len(key_id.encode()) > 255:
            raise ValueError("a key id is 1 to 255 bytes")
        self.key_id = key_id
        self._keys = {kid: _Key(key) for kid, key in (older_keys or {}).items()}
        self._keys[key_id] = _Key(master_key)
        self._current = self._keys[key_id]

    @classmethod
    def from_keyring(cls, ring: Mapping[str, bytes], current: str) -> IdentityProtector:
        """A protector sealing with ``ring[current]`` and opening with any key of ``ring``."""
        older = {kid: key for kid, key in ring.items() if kid != current}
        return cls(ring[current], current, older)

    def seal(self, plaintext: bytes, context: str) -> bytes:
        """Encrypt ``plaintext``; ``context`` (the tracking ID) binds it to one case."""
        nonce = os.urandom(_NONCE_BYTES)
        kid = self.key_id.encode()
        header = _VERSION_KEYED + bytes([len(kid)]) + kid
        return header + nonce + self._current.aead.encrypt(nonce, plaintext, _aad(context, kid))

    def key_id_of(self, sealed: bytes) -> str | None:
        """The id of the key ``sealed`` was sealed with (None: sealed before key ids)."""
        if sealed.startswith(_VERSION_KEYED) and len(sealed) > 2:
            return sealed[2 : 2 + sealed[1]].decode("utf-8", "replace")
        return None

    def is_current(self, sealed: bytes) -> bool:
        """Whether ``sealed`` is already under the current key (nothing to rotate)."""
        return self.key_id_of(sealed) == self.key_id

    def open(self, sealed: bytes, context: str) -> bytes:
        """Decrypt what :meth:`seal` produced for the same ``context``, with whichever key."""
        sealed = bytes(sealed)
        if sealed.startswith(_VERSION_KEYED) and len(sealed) > 2:
            end = 2 + sealed[1]
            kid = sealed[2:end]
            key = self._keys.get(kid.decode("utf-8", "replace"))
            if key is None:
                raise IdentityUnreadable("sealed under a key this process does not hold")
            return _decrypt(key, sealed[end:], _aad(context, kid))
        if sealed.startswith(_VERSION):
            # Sealed before key ids: the key is whichever opens it.
            for key in self._keys.values():
                try:
                    return _decrypt(key, sealed[1:], context.encode())
                except IdentityUnreadable:
                    continue
            raise IdentityUnreadable("identity does not open with any key held")
        raise IdentityUnreadable("unknown sealing version")

    def reseal(self, sealed: bytes, context: str) -> bytes:
        """``sealed`` under the current key (unchanged if it already is)."""
        if self.is_current(sealed):
            return sealed
        return self.seal(self.open(sealed, context), context)

    def seal_model(self, model: BaseModel, context: str) -> bytes:
        """Seal a pydantic model as JSON."""
        return self.seal(model.model_dump_json(exclude_none=True).encode(), context)

    def open_json(self, sealed: bytes, context: str) -> dict[str, object]:
        """Open a sealed JSON object."""
        try:
            value = json.loads(self.open(sealed, context))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise IdentityUnreadable("sealed value is not JSON") from None
        if not isinstance(value, dict):
            raise IdentityUnreadable("sealed value is not an object")
        return value

    def contact_fingerprints(
        self, channel: str, phone: str | None, email: str | None, handle: str | None
    ) -> set[str]:
        """The fingerprints a reporter is recognised by (see :func:`contact_keys`).

        Under every key held, so that look-ups keep matching across a key rotation.
        """
        return {
            _mac(key.mac_key, kind, value)
            for kind, value in contact_keys(channel, phone, email, handle)
            for key in self._keys.values()
        }

    def current_fingerprints(
        self, channel: str, phone: str | None, email: str | None, handle: str | None
    ) -> set[str]:
        """The fingerprints under the current key only (what a rotation leaves stored)."""
        return {
            _mac(self._current.mac_key, kind, value)
            for kind, value in contact_keys(channel, phone, email, handle)
        }

    def fingerprint(self, kind: str, value: str) -> str:
        """A keyed hash of a normalised contact (``kind`` is phone, email or handle)."""
        return _mac(self._current.mac_key, kind, value)


def _aad(context: str, kid: bytes) -> bytes:
    return context.encode() + b"\0" + kid


def _decrypt(key: _Key, nonce_and_ciphertext: bytes, aad: bytes) -> bytes:
    nonce, ciphertext = nonce_and_ciphertext[:_NONCE_BYTES], nonce_and_ciphertext[_NONCE_BYTES:]
    try:
        return key.aead.decrypt(nonce, ciphertext, aad)
    except (InvalidTag, ValueError):
        raise IdentityUnreadable("identity does not open with this key") from None


def _mac(mac_key: bytes, kind: str, value: str) -> str:
    normalised = normalise_text(value).strip().lower()
    return hmac.new(mac_key, f"{kind}:{normalised}".encode(), hashlib.sha256).hexdigest()


def open_identity(protector: IdentityProtector, case: Mapping[str, Any]) -> dict[str, object]:
    """The reporter identity of ``case``, or :class:`IdentityUnreadable` — never ``{}``.

    Fail closed: a caller that is about to show the case to someone outside the central
    system (an agency) must not go ahead with an empty identity, because then nothing
    would be masked. Routing sends such a case to the admin with reason
    ``identity_unreadable`` instead of dispatching it.
    """
    sealed = (case.get("reporter") or {}).get("sealed")
    if not isinstance(sealed, bytes | bytearray):
        raise IdentityUnreadable("the case has no sealed identity")
    return protector.open_json(bytes(sealed), str(case["_id"]))
