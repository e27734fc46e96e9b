"""Open311 API keys: made by ``lapor apikey create NAME``, stored only as hashes."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime

from pymongo.errors import DuplicateKeyError

from services.portal.store import PortalStore

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class ApiKeyError(ValueError):
    """A key cannot be made or revoked (the message says why)."""


def key_hash(key: str) -> str:
    """What is stored of a key (keys are 256 random bits: SHA-256 is enough)."""
    return hashlib.sha256(f"lapor-open311-key:{key.strip()}".encode()).hexdigest()


async def create_key(store: PortalStore, name: str, now: datetime) -> str:
    """A new key for client ``name`` (shown once; only its hash is kept)."""
    if not NAME.match(name):
        raise ApiKeyError("NAME must be 1-64 letters, digits, '.', '_' or '-'")
    key = f"lapor_{secrets.token_urlsafe(32)}"
    try:
        await store.api_keys.insert_one({"_id": name, "key_hash": key_hash(key), "created_at": now})
    except DuplicateKeyError:
        raise ApiKeyError(f"a key named {name!r} exists; revoke it first") from None
    return key


async def revoke_key(store: PortalStore, name: str) -> bool:
    """Remove client ``name``'s key; false when there was none."""
    result = await store.api_keys.delete_one({"_id": name})
    return result.deleted_count == 1


async def client_of(store: PortalStore, key: str) -> str | None:
    """The client name a key belongs to, or None for an unknown or revoked key."""
    doc = await store.api_keys.find_one({"key_hash": key_hash(key)}, {"_id": 1})
    return None if doc is None else str(doc["_id"])
