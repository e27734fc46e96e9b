"""``lapor apikey create NAME`` prints a key on its last line, stores only its hash;
``lapor apikey revoke NAME`` makes the key useless."""

from __future__ import annotations

import subprocess
import sys

import pytest

from services.portal.apikeys import client_of, key_hash
from services.portal.store import PortalStore
from shared.settings import IntakeSettings
from shared.storage import Store
from tests.conftest import service_env

pytestmark = pytest.mark.integration


def lapor(settings: IntakeSettings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lapor", *args],
        env=service_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_create_prints_a_key_stores_its_hash_and_revoke_removes_it(
    settings: IntakeSettings, store: Store
) -> None:
    created = lapor(settings, "apikey", "create", "fixmystreet")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("lapor_") and len(key) > 40
    portal_store = PortalStore(store.db)
    assert await client_of(portal_store, key) == "fixmystreet"
    stored = await store.db["portal_api_keys"].find_one({"_id": "fixmystreet"})
    assert stored is not None and stored["key_hash"] == key_hash(key)
    assert key not in str(stored)

    again = lapor(settings, "apikey", "create", "fixmystreet")
    assert again.returncode == 2 and "exists" in again.stderr

    revoked = lapor(settings, "apikey", "revoke", "fixmystreet")
    assert revoked.returncode == 0, revoked.stderr
    assert await client_of(portal_store, key) is None
    assert lapor(settings, "apikey", "revoke", "fixmystreet").returncode == 1
