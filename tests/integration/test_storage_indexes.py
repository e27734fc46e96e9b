"""ensure_indexes: creates what LAPOR declares, and refuses to crash on a changed definition."""

from __future__ import annotations

import pytest

from shared.storage import IndexMismatch, Store

pytestmark = pytest.mark.integration


async def _names(store: Store) -> list[str]:
    return sorted([index["name"] async for index in await store.complaints.list_indexes()])


async def test_it_creates_every_declared_index_and_is_idempotent(store: Store) -> None:
    await store.ensure_indexes()
    await store.ensure_indexes()
    declared = sorted(
        model.document["name"]
        for collection, models in store.declared_indexes()
        if collection.name == "complaints"
        for model in models
    )
    assert await _names(store) == sorted(["_id_", *declared])


async def test_an_operators_own_extra_index_is_left_alone(store: Store) -> None:
    await store.complaints.create_index([("title", 1)], name="operator_title")
    await store.ensure_indexes()
    assert "operator_title" in await _names(store)


async def test_a_changed_definition_fails_with_migration_instructions(store: Store) -> None:
    # an older version's "status" index, unique by mistake, and "received_at" under a
    # name of its own
    await store.complaints.create_index([("status", 1)], name="status", unique=True)
    await store.complaints.create_index([("received_at", 1)], name="received_old")
    with pytest.raises(IndexMismatch) as mismatch:
        await store.ensure_indexes()
    text = str(mismatch.value)
    assert "complaints.status: exists as key {'status': 1} {'unique': True}" in text
    assert "declared as key {'status': 1} {}" in text
    assert "complaints.received_old: has the key {'received_at': 1}" in text
    assert "dropIndex('<name>')" in text and "To migrate" in text
    assert len(mismatch.value.mismatches) == 2
    # nothing was created half-way: the operator migrates first
    assert await _names(store) == ["_id_", "received_old", "status"]
    await store.complaints.drop_index("status")
    await store.complaints.drop_index("received_old")
    await store.ensure_indexes()
    assert "status" in await _names(store)
