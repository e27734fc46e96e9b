"""Reporter identity protection: encrypted at rest, keyed hashes for look-ups.

Every reporter's identity (name, phone, e-mail, channel handle) is stored only as
AES-256-GCM ciphertext bound to its case, whatever the report's flags: *anonim* only
changes who may ever see it decrypted (nobody outside the central system), not how it
is kept. "Same reporter" look-ups use HMAC-SHA256 fingerprints under a key derived
from the same secret, so equal contacts match without being readable.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import BaseModel

from shared.contacts import contact_keys

_VERSION = b"\x01"
_NONCE_BYTES = 12


class IdentityUnreadable(Exception):
    """The sealed identity cannot be opened with this key (wrong key, or tampered)."""


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=b"lapor/" + purpose).derive(master)


class IdentityProtector:
    """Seals and opens identity data, and fingerprints contacts for equality look-ups."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != 32:
            raise ValueError("the identity key must be 32 bytes")
        self._aead = AESGCM(_derive(master_key, b"seal"))
        self._mac_key = _derive(master_key, b"fingerprint")

    def seal(self, plaintext: bytes, context: str) -> bytes:
        """Encrypt ``plaintext``; ``context`` (the tracking ID) binds it to one case."""
        nonce = os.urandom(_NONCE_BYTES)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext, context.encode())

    def open(self, sealed: bytes, context: str) -> bytes:
        """Decrypt what :meth:`seal` produced for the same ``context``."""
        if not sealed.startswith(_VERSION):
            raise IdentityUnreadable("unknown sealing version")
        nonce = sealed[1 : 1 + _NONCE_BYTES]
        try:
            return self._aead.decrypt(nonce, sealed[1 + _NONCE_BYTES :], context.encode())
        except InvalidTag:
            raise IdentityUnreadable("identity does not open with this key") from None

    def seal_model(self, model: BaseModel, context: str) -> bytes:
        """Seal a pydantic model as JSON."""
        return self.seal(model.model_dump_json(exclude_none=True).encode(), context)

    def open_json(self, sealed: bytes, context: str) -> dict[str, object]:
        """Open a sealed JSON object."""
        value = json.loads(self.open(sealed, context))
        if not isinstance(value, dict):
            raise IdentityUnreadable("sealed value is not an object")
        return value

    def contact_fingerprints(
        self, channel: str, phone: str | None, email: str | None, handle: str | None
    ) -> set[str]:
        """The fingerprints a reporter is recognised by (see :func:`contact_keys`)."""
        return {
            self.fingerprint(kind, value)
            for kind, value in contact_keys(channel, phone, email, handle)
        }

    def fingerprint(self, kind: str, value: str) -> str:
        """A keyed hash of a normalised contact (``kind`` is phone, email or handle)."""
        normalised = value.strip().lower()
        return hmac.new(self._mac_key, f"{kind}:{normalised}".encode(), hashlib.sha256).hexdigest()
