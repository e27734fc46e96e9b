"""The development stand-in MongoDB, through the real async driver and wire protocol."""

from __future__ import annotations

import asyncio
import copy
import gc
import itertools
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import bson
import pytest
from bson import Binary, Int64, ObjectId
from mongomock.collection import Collection as MongomockCollection
from pymongo import (
    ASCENDING,
    DESCENDING,
    AsyncMongoClient,
    MongoClient,
    ReturnDocument,
    UpdateOne,
    monitoring,
)
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import (
    BulkWriteError,
    CollectionInvalid,
    DuplicateKeyError,
    OperationFailure,
    WriteError,
)
from pymongo.results import DeleteResult, InsertOneResult, UpdateResult
from pymongo.write_concern import WriteConcern

from lapor_devdb import StandInMongoServer
from lapor_devdb import engine as devdb
from lapor_devdb.engine import _Engine, _name

pytestmark = pytest.mark.integration

Doc = dict[str, Any]
_names = itertools.count(1)


class Commands(monitoring.CommandListener):
    """Records the commands a client sent and the replies it got."""

    def __init__(self) -> None:
        self.starts: list[monitoring.CommandStartedEvent] = []
        self.successes: list[monitoring.CommandSucceededEvent] = []

    def started_names(self) -> list[str]:
        return [event.command_name for event in self.starts]

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.starts.append(event)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self.successes.append(event)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[StandInMongoServer]:
    with StandInMongoServer() as stand_in:
        yield stand_in


@pytest.fixture
async def client(server: StandInMongoServer) -> AsyncIterator[AsyncMongoClient[Doc]]:
    the_client: AsyncMongoClient[Doc] = AsyncMongoClient(server.url, tz_aware=True)
    yield the_client
    await the_client.close()


@pytest.fixture
def db(client: AsyncMongoClient[Doc]) -> AsyncDatabase[Doc]:
    return client[f"devdb_test_{next(_names)}"]


@pytest.fixture
def coll(db: AsyncDatabase[Doc]) -> AsyncCollection[Doc]:
    return db["items"]


# -- handshake and admin --------------------------------------------------------------------


async def test_handshake_reports_a_standalone_mongodb_7(client: AsyncMongoClient[Doc]) -> None:
    hello = await client.admin.command("hello")
    assert hello["isWritablePrimary"] is True
    assert hello["maxWireVersion"] == 21
    assert "setName" not in hello
    assert (await client.admin.command("isMaster"))["ismaster"] is True
    assert (await client.admin.command("ping"))["ok"] == 1
    info = await client.server_info()
    assert info["version"].startswith("7.")
    assert info["laporDevelopmentStandIn"] is True
    fcv = await client.admin.command({"getParameter": 1, "featureCompatibilityVersion": 1})
    assert fcv["featureCompatibilityVersion"] == {"version": "7.0"}


async def test_start_warns_it_is_not_for_production(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="lapor.devdb"), StandInMongoServer() as other:
        assert other.url.startswith("mongodb://127.0.0.1:")
    warnings = [r.getMessage() for r in caplog.records if r.name == "lapor.devdb"]
    assert any("NEVER for production" in w and "lost" in w for w in warnings)


async def test_list_and_drop_databases(
    client: AsyncMongoClient[Doc], db: AsyncDatabase[Doc]
) -> None:
    await db["a"].insert_one({"x": 1})
    assert db.name in await client.list_database_names()
    await client.drop_database(db.name)
    assert db.name not in await client.list_database_names()
    assert await db["a"].find_one() is None


async def test_sessions_are_accepted_and_their_fields_ignored(
    client: AsyncMongoClient[Doc], coll: AsyncCollection[Doc]
) -> None:
    async with client.start_session() as session:
        await coll.insert_one({"_id": 1}, session=session)
        assert await coll.find_one({"_id": 1}, session=session) == {"_id": 1}


async def test_transactions_are_refused(
    client: AsyncMongoClient[Doc], coll: AsyncCollection[Doc]
) -> None:
    async with client.start_session() as session:
        with pytest.raises(OperationFailure, match="does not support transactions"):
            async with await session.start_transaction():
                await coll.insert_one({"_id": 1}, session=session)
    assert await coll.count_documents({}) == 0
    with pytest.raises(OperationFailure, match="does not support transactions"):
        await client.admin.command("commitTransaction")


# -- writes -------------------------------------------------------------------------------


async def test_insert_one_and_insert_many(coll: AsyncCollection[Doc]) -> None:
    one = await coll.insert_one({"name": "a"})
    assert isinstance(one.inserted_id, ObjectId)
    many = await coll.insert_many([{"_id": i, "name": f"n{i}"} for i in range(5)])
    assert many.inserted_ids == [0, 1, 2, 3, 4]
    assert await coll.count_documents({}) == 6
    assert await coll.find_one({"_id": 3}) == {"_id": 3, "name": "n3"}


async def test_ordered_insert_many_stops_at_the_first_duplicate(
    coll: AsyncCollection[Doc],
) -> None:
    with pytest.raises(BulkWriteError) as failure:
        await coll.insert_many([{"_id": 1}, {"_id": 2}, {"_id": 1}, {"_id": 3}])
    assert failure.value.details["nInserted"] == 2
    assert failure.value.details["writeErrors"][0]["code"] == 11000
    assert failure.value.details["writeErrors"][0]["index"] == 2
    assert sorted(d["_id"] for d in await coll.find().to_list()) == [1, 2]
    with pytest.raises(BulkWriteError):
        await coll.insert_many([{"_id": 1}, {"_id": 4}], ordered=False)
    assert await coll.count_documents({}) == 3


async def test_update_operators(coll: AsyncCollection[Doc]) -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    await coll.insert_one(
        {"_id": 1, "a": 1, "gone": True, "n": 5, "lo": 5, "hi": 5, "tags": ["x"], "old": 1}
    )
    result = await coll.update_one(
        {"_id": 1},
        {
            "$set": {"a": 2, "nested.b": when},
            "$unset": {"gone": ""},
            "$inc": {"n": 3},
            "$push": {"log": {"$each": [1, 2, 3]}},
            "$addToSet": {"tags": {"$each": ["x", "y"]}},
            "$min": {"lo": 1},
            "$max": {"hi": 9},
            "$currentDate": {"touched": True},
            "$rename": {"old": "new"},
        },
    )
    assert (result.matched_count, result.modified_count) == (1, 1)
    await coll.update_one({"_id": 1}, {"$pull": {"log": {"$gte": 2}}, "$pop": {"tags": -1}})
    doc = await coll.find_one({"_id": 1})
    assert doc is not None
    touched = doc.pop("touched")
    assert abs(touched - datetime.now(UTC)) < timedelta(seconds=10)
    assert doc == {
        "_id": 1,
        "a": 2,
        "n": 8,
        "lo": 1,
        "hi": 9,
        "tags": ["y"],
        "nested": {"b": when},
        "log": [1],
        "new": 1,
    }


async def test_update_many_upsert_and_replace(coll: AsyncCollection[Doc]) -> None:
    await coll.insert_many([{"_id": i, "kind": "a" if i < 3 else "b"} for i in range(5)])
    many = await coll.update_many({"kind": "a"}, {"$set": {"seen": True}})
    assert (many.matched_count, many.modified_count) == (3, 3)
    again = await coll.update_many({"kind": "a"}, {"$set": {"seen": True}})
    assert (again.matched_count, again.modified_count) == (3, 0)
    upsert = await coll.update_one(
        {"_id": "new"}, {"$set": {"kind": "c"}, "$setOnInsert": {"created": 1}}, upsert=True
    )
    assert upsert.upserted_id == "new"
    assert upsert.matched_count == 0
    await coll.update_one(
        {"_id": "new"}, {"$set": {"kind": "d"}, "$setOnInsert": {"created": 2}}, upsert=True
    )
    assert await coll.find_one({"_id": "new"}) == {"_id": "new", "kind": "d", "created": 1}
    replaced = await coll.replace_one({"_id": 0}, {"only": "this"})
    assert replaced.modified_count == 1
    assert await coll.find_one({"_id": 0}) == {"_id": 0, "only": "this"}


async def test_guarded_status_update_matches_once(coll: AsyncCollection[Doc]) -> None:
    await coll.insert_one({"_id": "case-1", "status": "a"})
    first = await coll.update_one({"_id": "case-1", "status": "a"}, {"$set": {"status": "b"}})
    second = await coll.update_one({"_id": "case-1", "status": "a"}, {"$set": {"status": "b"}})
    assert (first.matched_count, first.modified_count) == (1, 1)
    assert (second.matched_count, second.modified_count) == (0, 0)
    assert await coll.find_one({"_id": "case-1"}) == {"_id": "case-1", "status": "b"}


async def test_delete_one_and_delete_many(coll: AsyncCollection[Doc]) -> None:
    await coll.insert_many([{"_id": i, "even": i % 2 == 0} for i in range(10)])
    assert (await coll.delete_one({"even": True})).deleted_count == 1
    assert (await coll.delete_many({"even": True})).deleted_count == 4
    assert (await coll.delete_many({"even": True})).deleted_count == 0
    assert await coll.count_documents({}) == 5


async def test_unacknowledged_write_arrives(coll: AsyncCollection[Doc]) -> None:
    fire_and_forget = coll.with_options(write_concern=WriteConcern(w=0))
    await fire_and_forget.insert_one({"_id": "w0"})
    assert await coll.find_one({"_id": "w0"}) == {"_id": "w0"}


# -- unique indexes -------------------------------------------------------------------------


async def test_unique_index_rejects_duplicates_on_every_write(
    coll: AsyncCollection[Doc],
) -> None:
    await coll.create_index(
        [("channel", ASCENDING), ("external_id", ASCENDING)], unique=True, name="channel_ext"
    )
    await coll.insert_one({"_id": 1, "channel": "tg", "external_id": "a"})
    await coll.insert_one({"_id": 2, "channel": "tg", "external_id": "b"})
    with pytest.raises(DuplicateKeyError) as on_insert:
        await coll.insert_one({"_id": 3, "channel": "tg", "external_id": "a"})
    assert on_insert.value.code == 11000
    with pytest.raises(DuplicateKeyError):
        await coll.update_one(
            {"_id": 9}, {"$set": {"channel": "tg", "external_id": "a"}}, upsert=True
        )
    with pytest.raises(DuplicateKeyError):
        await coll.update_one({"_id": 2}, {"$set": {"external_id": "a"}})
    with pytest.raises(DuplicateKeyError):
        await coll.find_one_and_update({"_id": 2}, {"$set": {"external_id": "a"}})
    with pytest.raises(DuplicateKeyError):
        await coll.find_one_and_update(
            {"_id": 10}, {"$set": {"channel": "tg", "external_id": "a"}}, upsert=True
        )
    with pytest.raises(DuplicateKeyError):
        await coll.insert_one({"_id": 1})
    docs = await coll.find({}, sort=[("_id", ASCENDING)]).to_list()
    assert docs == [
        {"_id": 1, "channel": "tg", "external_id": "a"},
        {"_id": 2, "channel": "tg", "external_id": "b"},
    ]


async def test_sparse_and_partial_unique_indexes(coll: AsyncCollection[Doc]) -> None:
    await coll.create_index("email", unique=True, sparse=True)
    await coll.create_index(
        "phone", unique=True, partialFilterExpression={"active": True}, name="active_phone"
    )
    await coll.insert_many([{"_id": 1}, {"_id": 2}])  # no email: the sparse index skips both
    await coll.insert_one({"_id": 3, "email": "a@x"})
    with pytest.raises(DuplicateKeyError):
        await coll.insert_one({"_id": 4, "email": "a@x"})
    await coll.insert_many([{"_id": 5, "phone": "1", "active": False}, {"_id": 6, "phone": "1"}])
    await coll.insert_one({"_id": 7, "phone": "1", "active": True})
    with pytest.raises(DuplicateKeyError):
        await coll.insert_one({"_id": 8, "phone": "1", "active": True})


async def test_creating_a_unique_index_over_duplicates_fails(coll: AsyncCollection[Doc]) -> None:
    await coll.insert_many([{"k": 1}, {"k": 1}])
    with pytest.raises(OperationFailure):
        await coll.create_index("k", unique=True)


# -- findAndModify ------------------------------------------------------------------------


async def test_find_one_and_update_variants(coll: AsyncCollection[Doc]) -> None:
    await coll.insert_many([{"_id": i, "rank": 10 - i, "state": "new"} for i in range(5)])
    after = await coll.find_one_and_update(
        {"state": "new"},
        {"$set": {"state": "taken"}},
        sort=[("rank", ASCENDING)],
        projection={"_id": 1, "state": 1},
        return_document=ReturnDocument.AFTER,
    )
    assert after == {"_id": 4, "state": "taken"}
    before = await coll.find_one_and_update(
        {"state": "new"},
        {"$inc": {"rank": 100}},
        sort=[("rank", DESCENDING)],
        projection={"_id": 0, "rank": 1},
        return_document=ReturnDocument.BEFORE,
    )
    assert before == {"rank": 10}
    assert (await coll.find_one({"_id": 0}) or {})["rank"] == 110
    assert await coll.find_one_and_update({"state": "none"}, {"$set": {"x": 1}}) is None
    upserted = await coll.find_one_and_update(
        {"_id": "u"},
        {"$set": {"state": "fresh"}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    assert upserted == {"_id": "u", "state": "fresh"}
    assert (
        await coll.find_one_and_update({"_id": "u2"}, {"$set": {"state": "fresh"}}, upsert=True)
        is None
    )
    assert await coll.find_one({"_id": "u2"}) == {"_id": "u2", "state": "fresh"}
    replaced = await coll.find_one_and_replace(
        {"_id": "u"}, {"whole": "new"}, return_document=ReturnDocument.AFTER
    )
    assert replaced == {"_id": "u", "whole": "new"}


async def test_find_one_and_delete(coll: AsyncCollection[Doc]) -> None:
    await coll.insert_many([{"_id": i, "rank": i} for i in range(3)])
    deleted = await coll.find_one_and_delete({}, sort=[("rank", DESCENDING)])
    assert deleted == {"_id": 2, "rank": 2}
    assert await coll.count_documents({}) == 2
    assert await coll.find_one_and_delete({"_id": 99}) is None


async def test_concurrent_claims_take_each_document_exactly_once(
    coll: AsyncCollection[Doc],
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    later = now + timedelta(hours=1)
    await coll.insert_many(
        [{"_id": i, "next_at": now - timedelta(minutes=i % 7, seconds=i)} for i in range(50)]
    )

    async def worker() -> list[Doc]:
        claimed: list[Doc] = []
        while True:
            doc = await coll.find_one_and_update(
                {"next_at": {"$lte": now}},
                {"$set": {"next_at": later}},
                sort=[("next_at", ASCENDING)],
                return_document=ReturnDocument.AFTER,
            )
            if doc is None:
                return claimed
            claimed.append(doc)

    results = await asyncio.gather(*(worker() for _ in range(20)))
    claimed = [doc for batch in results for doc in batch]
    assert sorted(doc["_id"] for doc in claimed) == list(range(50))
    assert all(doc["next_at"] == later for doc in claimed)
    assert sum(1 for batch in results if batch) > 1  # the claims really were concurrent


# -- reads ----------------------------------------------------------------------------------


async def test_find_with_filter_projection_sort_skip_limit_and_get_more(
    server: StandInMongoServer,
) -> None:
    commands = Commands()
    listened: AsyncMongoClient[Doc] = AsyncMongoClient(
        server.url, tz_aware=True, event_listeners=[commands]
    )
    coll = listened[f"devdb_test_{next(_names)}"]["big"]
    try:
        await coll.insert_many([{"_id": i, "k": i % 10, "v": i} for i in range(1500)])
        docs = await coll.find(
            {"k": {"$in": [1, 2, 3]}},
            {"_id": 0, "v": 1},
            sort=[("v", DESCENDING)],
            skip=10,
            limit=400,
            batch_size=50,
        ).to_list()
        expected = [v for v in range(1499, -1, -1) if v % 10 in (1, 2, 3)][10:410]
        assert docs == [{"v": v} for v in expected]
        assert commands.started_names().count("getMore") == 7

        everything = [doc["_id"] async for doc in coll.find({}, sort=[("_id", ASCENDING)])]
        assert everything == list(range(1500))
        assert await coll.find({"k": 3}).skip(100).limit(5).to_list() == [
            {"_id": v, "k": 3, "v": v} for v in range(1003, 1053, 10)
        ]

        cursor = coll.find({}, batch_size=10)
        assert len([await cursor.next() for _ in range(15)]) == 15
        await cursor.close()
        kills = [e for e in commands.successes if e.command_name == "killCursors"]
        assert len(kills) == 1
        assert len(kills[0].reply["cursorsKilled"]) == 1
        with pytest.raises(OperationFailure) as gone:
            await coll.database.command(
                {"getMore": Int64(kills[0].reply["cursorsKilled"][0]), "collection": "big"}
            )
        assert gone.value.code == 43
    finally:
        await listened.close()


async def test_counts_and_distinct(coll: AsyncCollection[Doc]) -> None:
    await coll.insert_many([{"_id": i, "status": ["a", "b", "c"][i % 3]} for i in range(30)])
    assert await coll.count_documents({"status": "a"}) == 10
    assert await coll.count_documents({}, skip=5, limit=10) == 10
    assert await coll.estimated_document_count() == 30
    assert sorted(await coll.distinct("status")) == ["a", "b", "c"]
    assert sorted(await coll.distinct("status", {"_id": {"$lt": 2}})) == ["a", "b"]
    assert await coll.database["missing"].count_documents({}) == 0


async def test_aggregate(coll: AsyncCollection[Doc]) -> None:
    await coll.insert_many(
        [
            {"_id": i, "status": ["open", "closed"][i % 2], "tags": ["x", "y"][: i % 3]}
            for i in range(9)
        ]
    )
    by_status = await (
        await coll.aggregate(
            [
                {"$match": {"_id": {"$gte": 1}}},
                {"$group": {"_id": "$status", "count": {"$sum": 1}}},
                {"$sort": {"_id": 1}},
            ]
        )
    ).to_list()
    assert by_status == [{"_id": "closed", "count": 4}, {"_id": "open", "count": 4}]
    shaped = await (
        await coll.aggregate(
            [
                {"$addFields": {"double": {"$multiply": ["$_id", 2]}}},
                {"$sort": {"_id": -1}},
                {"$skip": 1},
                {"$limit": 3},
                {"$project": {"_id": 0, "double": 1}},
            ]
        )
    ).to_list()
    assert shaped == [{"double": 14}, {"double": 12}, {"double": 10}]
    unwound = await (await coll.aggregate([{"$unwind": "$tags"}, {"$count": "n"}])).to_list()
    assert unwound == [{"n": 9}]  # 3 docs with 2 tags, 3 with 1


async def test_aggregate_lookup_facet_replace_root_and_set(db: AsyncDatabase[Doc]) -> None:
    await db["cases"].insert_many(
        [{"_id": i, "agency": "dpu" if i % 2 else "dinkes"} for i in range(4)]
    )
    await db["agencies"].insert_many(
        [{"_id": "dpu", "name": "PU"}, {"_id": "dinkes", "name": "Kes"}]
    )
    joined = await (
        await db["cases"].aggregate(
            [
                {"$match": {"_id": {"$lt": 2}}},
                {
                    "$lookup": {
                        "from": "agencies",
                        "localField": "agency",
                        "foreignField": "_id",
                        "as": "a",
                    }
                },
                {"$set": {"first": {"$arrayElemAt": ["$a.name", 0]}}},
                {"$replaceRoot": {"newRoot": {"case": "$_id", "agency": "$first"}}},
            ]
        )
    ).to_list()
    assert joined == [{"case": 0, "agency": "Kes"}, {"case": 1, "agency": "PU"}]
    faceted = await (
        await db["cases"].aggregate(
            [
                {
                    "$facet": {
                        "total": [{"$count": "n"}],
                        "dpu": [{"$match": {"agency": "dpu"}}, {"$count": "n"}],
                    }
                }
            ]
        )
    ).to_list()
    assert faceted == [{"total": [{"n": 4}], "dpu": [{"n": 2}]}]


async def test_aggregate_results_larger_than_one_batch(coll: AsyncCollection[Doc]) -> None:
    await coll.insert_many([{"_id": i} for i in range(1200)])
    cursor = await coll.aggregate([{"$sort": {"_id": -1}}], batchSize=100)
    assert [doc["_id"] async for doc in cursor] == list(range(1199, -1, -1))


# -- collections and indexes ----------------------------------------------------------------


async def test_collections_and_indexes(db: AsyncDatabase[Doc]) -> None:
    await db.create_collection("made")
    with pytest.raises(CollectionInvalid):
        await db.create_collection("made")
    with pytest.raises(OperationFailure) as exists:
        await db.command("create", "made")
    assert exists.value.code == 48
    await db["implicit"].insert_one({"x": 1})
    assert sorted(await db.list_collection_names()) == ["implicit", "made"]
    listed = await (await db.list_collections(filter={"name": "made"})).to_list()
    assert [c["name"] for c in listed] == ["made"]

    assert await db["made"].create_index([("a", ASCENDING), ("b", DESCENDING)], unique=True) == (
        "a_1_b_-1"
    )
    assert await db["made"].create_index("c", sparse=True, name="c_sparse") == "c_sparse"
    info = await db["made"].index_information()
    assert info["a_1_b_-1"]["unique"] is True
    assert info["a_1_b_-1"]["key"] == [("a", 1), ("b", -1)]
    assert info["c_sparse"]["sparse"] is True
    await db["made"].drop_index("c_sparse")
    assert sorted(await db["made"].index_information()) == ["_id_", "a_1_b_-1"]
    assert await (await db["nothing"].list_indexes()).to_list() == []  # the driver hides 26
    with pytest.raises(OperationFailure) as missing:
        await db.command("listIndexes", "nothing")
    assert missing.value.code == 26

    await db.drop_collection("made")
    assert await db.list_collection_names() == ["implicit"]
    await db["implicit"].drop()
    await db["never-existed"].drop()
    assert await db.list_collection_names() == []


async def test_ttl_index_expires_documents(
    server: StandInMongoServer, coll: AsyncCollection[Doc]
) -> None:
    await coll.create_index("at", expireAfterSeconds=60)
    now = datetime.now(UTC)
    await coll.insert_many(
        [{"_id": "old", "at": now - timedelta(minutes=5)}, {"_id": "new", "at": now}]
    )
    server._engine._next_ttl_sweep = 0.0  # the sweep otherwise waits up to a minute
    assert [d["_id"] async for d in coll.find()] == ["new"]


async def test_ttl_expiry_waits_for_the_sweep_like_mongodb(
    server: StandInMongoServer, coll: AsyncCollection[Doc]
) -> None:
    """Reads do not delete expired documents (mongomock's way, a scan per read): MongoDB's
    TTL monitor does, in the background, once a minute."""
    await coll.create_index("at", expireAfterSeconds=60)
    server._engine._next_ttl_sweep = time.monotonic() + 3600  # no sweep during this test
    await coll.insert_one({"_id": "old", "at": datetime.now(UTC) - timedelta(minutes=5)})
    assert await coll.find_one({"_id": "old"}) is not None
    assert await coll.count_documents({}) == 1
    server._engine._next_ttl_sweep = 0.0
    assert await coll.find_one({"_id": "old"}) is None


# -- values -------------------------------------------------------------------------------


async def test_datetimes_round_trip_timezone_aware(coll: AsyncCollection[Doc]) -> None:
    utc = datetime(2026, 11, 27, 8, 15, 0, 123456, tzinfo=UTC)
    jakarta = datetime(2026, 11, 27, 15, 15, 0, 123000, tzinfo=timezone(timedelta(hours=7)))
    await coll.insert_one({"_id": 1, "utc": utc, "jakarta": jakarta})
    doc = await coll.find_one({"_id": 1})
    assert doc is not None
    assert doc["utc"].tzinfo is not None
    assert doc["utc"] == utc.replace(microsecond=123000)  # BSON keeps milliseconds
    assert doc["jakarta"] == jakarta
    assert doc["jakarta"].utcoffset() == timedelta(0)
    assert await coll.count_documents({"utc": {"$lte": jakarta}}) == 1
    assert await coll.count_documents({"utc": {"$lt": jakarta - timedelta(seconds=1)}}) == 0


async def test_bytes_round_trip(coll: AsyncCollection[Doc]) -> None:
    ciphertext = os.urandom(64) + bytes(range(256))
    a_uuid = uuid.uuid4()
    await coll.insert_one(
        {"_id": 1, "secret": ciphertext, "uuid": Binary.from_uuid(a_uuid), "nested": [b"\x00"]}
    )
    doc = await coll.find_one({"secret": ciphertext})
    assert doc is not None
    assert doc["secret"] == ciphertext
    assert isinstance(doc["secret"], bytes)
    assert doc["uuid"].as_uuid() == a_uuid
    assert doc["nested"] == [b"\x00"]


# -- lookups by _id and unique keys ----------------------------------------------------------
# The stand-in looks up documents whose filter pins _id, and unique keys, instead of scanning
# like mongomock. These tests hold it to exactly what mongomock's own scans answer.


_mongomock_ensure_uniques: Callable[[Any, Doc], None] = MongomockCollection._ensure_uniques


class _ScanningCollection(devdb._IndexedCollection):
    """Every query and unique check through mongomock's own full scans; all else the same."""

    def _matching(self, filter: Any) -> Iterator[Doc]:
        return iter(devdb._scan(self, filter))

    def _ensure_uniques(self, new_data: Doc) -> None:
        self._check_storable(new_data)  # the same refusals of MongoDB 7
        _mongomock_ensure_uniques(self, new_data)


class _ScanningEngine(_Engine):
    """The reference stand-in: mongomock's scans instead of lookups."""

    def _collection(self, db: str, name: Any) -> Any:
        database = self._client[db]
        return _ScanningCollection(database, database[_name(name)].name, self._indexes)


@pytest.fixture(scope="module")
def scanning_server() -> Iterator[StandInMongoServer]:
    stand_in = StandInMongoServer()
    stand_in._engine = _ScanningEngine()
    with stand_in:
        yield stand_in


def _outcome(result: Any) -> Any:
    """A comparable account of what one operation returned or raised."""
    if isinstance(result, BaseException):
        return (type(result).__name__, getattr(result, "code", None))
    if isinstance(result, UpdateResult):
        return ("updated", result.matched_count, result.modified_count, result.upserted_id)
    if isinstance(result, DeleteResult):
        return ("deleted", result.deleted_count)
    if isinstance(result, InsertOneResult):
        return ("inserted", (type(result.inserted_id).__name__, result.inserted_id))
    return result


def _typed(value: Any) -> Any:
    """``value`` with the type of every _id spelled out (1, 1.0 and Int64(1) are all ==)."""
    if isinstance(value, dict):
        return {k: (type(v).__name__, v) if k == "_id" else _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_typed(v) for v in value)
    return value


async def _id_addressed_story(coll: AsyncCollection[Doc], oid: ObjectId) -> list[Any]:
    """What LAPOR's services do to documents by _id, with every kind of answer."""
    await coll.create_index(
        [("channel", ASCENDING), ("external_id", ASCENDING)], unique=True, name="channel_ext"
    )
    await coll.insert_many(
        [
            {"_id": "case-1", "status": "a", "channel": "tg", "external_id": "e1", "applied": []},
            {"_id": 7, "status": "b", "channel": "tg", "external_id": "e2"},
            {"_id": oid, "status": "a", "channel": "web", "external_id": "e1"},
            {"_id": Int64(8), "status": "a", "channel": "web", "external_id": "e3"},
            {"_id": 2.5, "status": "c"},
        ]
    )
    guard = {"status": {"$in": ["a"]}, "applied": {"$ne": "ev1"}}
    claim = {"$set": {"status": "b"}, "$push": {"applied": "ev1"}}
    new_1 = {"$inc": {"n": 1}, "$setOnInsert": {"channel": "api", "external_id": "n1"}}
    steps: list[Callable[[], Awaitable[Any]]] = [
        # reads: _id of every type, with extra conditions that do and do not match
        lambda: coll.find_one({"_id": "case-1"}),
        lambda: coll.find_one({"_id": 7}),
        lambda: coll.find_one({"_id": 7.0}),
        lambda: coll.find_one({"_id": "7"}),
        lambda: coll.find_one({"_id": oid}),
        lambda: coll.find_one({"_id": str(oid)}),
        lambda: coll.find_one({"_id": 8}),
        lambda: coll.find_one({"_id": Int64(8), "status": "a"}),
        lambda: coll.find_one({"_id": Int64(8), "status": "b"}),
        lambda: coll.find_one({"_id": {"$eq": 2.5}}, {"_id": 0}),
        lambda: coll.find({"_id": {"$in": ["nope", 7]}}).to_list(),
        lambda: coll.find({"_id": {"$in": [oid, "case-1", 7, "nope"]}}).to_list(),
        lambda: coll.find({"$and": [{"_id": 7}, {"status": "b"}]}).to_list(),
        lambda: coll.find({"_id": {"$in": []}}).to_list(),
        lambda: coll.count_documents({"_id": 7, "status": {"$in": ["a", "b"]}}),
        lambda: coll.count_documents({"_id": 7, "status": "a"}),
        lambda: coll.distinct("status", {"_id": "case-1"}),
        # the guarded claim matches once
        lambda: coll.update_one({"_id": "case-1", **guard}, claim),
        lambda: coll.update_one({"_id": "case-1", **guard}, claim),
        # an update that changes nothing
        lambda: coll.update_one({"_id": 7}, {"$set": {"status": "b"}}),
        lambda: coll.update_one({"_id": "missing"}, {"$set": {"status": "z"}}),
        # upserts with an _id filter on a missing document
        lambda: coll.update_one({"_id": "new-1", "status": "a"}, new_1, upsert=True),
        lambda: coll.update_one({"_id": "new-1", "status": "a"}, new_1, upsert=True),
        lambda: coll.replace_one(
            {"_id": 99}, {"status": "r", "channel": "api", "external_id": "r"}, upsert=True
        ),
        lambda: coll.find_one_and_update(
            {"_id": "new-2"},
            {"$set": {"channel": "api", "external_id": "n2"}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        ),
        lambda: coll.update_one({"_id": "new-4"}, {"$set": {"n": 4}}, upsert=True),
        # duplicate keys through the _id path leave everything as it was
        lambda: coll.update_one({"_id": 7}, {"$set": {"external_id": "e1"}}),
        lambda: coll.find_one_and_update({"_id": 7}, {"$set": {"external_id": "e1"}}),
        lambda: coll.replace_one({"_id": 7}, {"channel": "tg", "external_id": "e1"}),
        lambda: coll.update_one({"_id": oid, "status": "a"}, {"$set": {"channel": "tg"}}),
        lambda: coll.update_one(
            {"_id": "new-3"}, {"$set": {"channel": "web", "external_id": "e3"}}, upsert=True
        ),
        lambda: coll.insert_one({"_id": 70, "channel": "tg", "external_id": "e2"}),
        # after the failures the keys are where the documents say
        lambda: coll.update_one({"_id": 7}, {"$set": {"external_id": "e9"}}),
        lambda: coll.insert_one({"_id": 70, "channel": "tg", "external_id": "e2"}),
        lambda: coll.insert_one({"_id": 71, "channel": "tg", "external_id": "e9"}),
        lambda: coll.update_many({"_id": {"$in": [7, 70]}}, {"$set": {"external_id": "e5"}}),
        # findAndModify and deletes
        lambda: coll.find_one_and_update({"_id": oid, "status": "b"}, {"$set": {"status": "x"}}),
        lambda: coll.find_one_and_update(
            {"_id": oid, "status": "a"},
            {"$set": {"status": "x"}},
            projection={"_id": 0},
            return_document=ReturnDocument.AFTER,
        ),
        lambda: coll.find_one_and_delete({"_id": Int64(8), "status": "zzz"}),
        lambda: coll.find_one_and_delete({"_id": 8}),
        lambda: coll.delete_one({"_id": "case-1", "status": "a"}),
        lambda: coll.delete_many({"_id": "case-1"}),
        # a deleted document's key is free again
        lambda: coll.insert_one({"_id": "case-1", "channel": "web", "external_id": "e3"}),
        lambda: coll.insert_one({"_id": "again", "channel": "web", "external_id": "e3"}),
    ]
    outcomes: list[Any] = []
    for step in steps:
        try:
            outcomes.append(_outcome(await step()))
        except (OperationFailure, BulkWriteError) as failure:
            outcomes.append(_outcome(failure))
        outcomes.append(await coll.find().to_list())
    typed: list[Any] = _typed(outcomes)
    return typed


async def test_id_lookups_answer_as_mongomocks_scans_do(
    client: AsyncMongoClient[Doc], scanning_server: StandInMongoServer
) -> None:
    oid = ObjectId()
    name = f"devdb_test_{next(_names)}"
    scanning: AsyncMongoClient[Doc] = AsyncMongoClient(scanning_server.url, tz_aware=True)
    try:
        expected = await _id_addressed_story(scanning[name]["cases"], oid)
    finally:
        await scanning.close()
    outcomes = await _id_addressed_story(client[name]["cases"], oid)
    assert outcomes == expected
    # and what both answered is right
    answers = outcomes[0::2]
    assert answers[1] == {"_id": ("int", 7), "status": "b", "channel": "tg", "external_id": "e2"}
    assert answers[2] == answers[1]  # 7.0 == 7
    assert answers[3] is None and answers[5] is None  # "7" and str(oid) are other values
    assert answers[6]["_id"] == ("Int64", 8)
    assert answers[8] is None
    assert [d["_id"] for d in answers[11]] == [("str", "case-1"), ("int", 7), ("ObjectId", oid)]
    assert answers[14:16] == [1, 0]
    assert answers[17:19] == [("updated", 1, 1, None), ("updated", 0, 0, None)]
    assert answers[19:21] == [("updated", 1, 0, None), ("updated", 0, 0, None)]
    assert answers[21:23] == [("updated", 0, 0, "new-1"), ("updated", 1, 1, None)]
    assert answers[25:32] == [("DuplicateKeyError", 11000)] * 7
    assert outcomes[2 * 31 + 1] == outcomes[2 * 24 + 1]  # the failures changed nothing
    assert answers[32:35] == [
        ("updated", 1, 1, None),
        ("inserted", ("int", 70)),
        ("DuplicateKeyError", 11000),
    ]
    assert answers[-2:] == [("inserted", ("str", "case-1")), ("DuplicateKeyError", 11000)]


async def test_a_remade_unique_index_checks_its_own_keys(coll: AsyncCollection[Doc]) -> None:
    await coll.create_index("a", unique=True, name="u")
    await coll.insert_many([{"_id": 1, "a": 1, "b": 10}, {"_id": 2, "a": 2, "b": 20}])
    with pytest.raises(DuplicateKeyError):
        await coll.insert_one({"_id": 3, "a": 1, "b": 30})
    await coll.drop_index("u")
    await coll.create_index("b", unique=True, name="u")  # same name, other key
    with pytest.raises(DuplicateKeyError):
        await coll.update_one({"_id": 2}, {"$set": {"b": 10}})
    await coll.insert_one({"_id": 3, "a": 1, "b": 30})
    with pytest.raises(DuplicateKeyError):
        await coll.update_one({"_id": 3}, {"$set": {"b": 20}})
    await coll.drop()
    await coll.create_index("b", unique=True, name="u")
    await coll.insert_one({"_id": 1, "b": 2})
    with pytest.raises(DuplicateKeyError):
        await coll.insert_one({"_id": 2, "b": 2})
    assert await coll.find().to_list() == [{"_id": 1, "b": 2}]


async def test_a_failed_update_leaves_every_document_under_its_own_id(
    coll: AsyncCollection[Doc],
) -> None:
    # mongomock would leave the new _id on the document (two documents with _id 5)
    await coll.insert_many([{"_id": 1, "a": 1}, {"_id": 5, "a": 5}, {"_id": 2, "s": "text"}])
    with pytest.raises(WriteError, match="cannot be changed"):
        await coll.replace_one({"_id": 1}, {"_id": 5, "x": 1})
    with pytest.raises(WriteError, match="TypeError"):
        await coll.update_one({"_id": 2}, {"$set": {"_id": 7}, "$inc": {"s": 1}})
    assert [d["_id"] for d in await coll.find().to_list()] == [1, 5, 2]
    assert await coll.find_one({"_id": 5}) == {"_id": 5, "a": 5}
    assert await coll.count_documents({"_id": {"$in": [5, 7]}}) == 1


def test_id_addressed_writes_and_unique_checks_do_not_scan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = _Engine()
    engine.execute(
        "db",
        {
            "createIndexes": "c",
            "indexes": [{"key": {"channel": 1, "external_id": 1}, "name": "u", "unique": True}],
        },
    )
    docs = [
        {"_id": f"F{i}", "status": "z", "channel": "web", "external_id": i} for i in range(2000)
    ]
    assert engine.execute("db", {"insert": "c", "documents": docs})["n"] == 2000
    calls = 0
    real = devdb._filter_applies

    def counting(query: Any, document: Any) -> bool:
        nonlocal calls
        calls += 1
        return bool(real(query, document))

    monkeypatch.setattr(devdb, "_filter_applies", counting)
    # every document tested then goes through _filter_applies (none through a compiled filter)
    monkeypatch.setattr(devdb, "_COMPILE_AFTER", sys.maxsize)
    monkeypatch.setattr(devdb, "_scan", lambda *args: pytest.fail("scanned the collection"))
    new = {"_id": "T1", "status": "a", "channel": "tg", "external_id": 1}
    replies = [
        engine.execute("db", {"insert": "c", "documents": [new]}),
        engine.execute("db", {"insert": "c", "documents": [{**new, "_id": "T2"}]}),
        engine.execute(
            "db",
            {
                "update": "c",
                "updates": [
                    {
                        "q": {"_id": "T1", "status": {"$in": ["a"]}, "applied": {"$ne": "x"}},
                        "u": {"$set": {"status": "b"}, "$push": {"applied": "x"}},
                    }
                ],
            },
        ),
        engine.execute(
            "db",
            {"update": "c", "updates": [{"q": {"_id": "F5"}, "u": {"$set": {"external_id": 6}}}]},
        ),
        engine.execute("db", {"find": "c", "filter": {"_id": "F7"}}),
        engine.execute("db", {"count": "c", "query": {"_id": {"$in": ["F8", "nope"]}}}),
        engine.execute(
            "db",
            {
                "findAndModify": "c",
                "query": {"_id": "F9", "status": "z"},
                "update": {"$set": {"status": "y"}},
                "new": True,
            },
        ),
        engine.execute("db", {"delete": "c", "deletes": [{"q": {"_id": "F10"}, "limit": 1}]}),
    ]
    assert [r.get("n") for r in replies] == [1, 0, 1, 0, None, 1, None, 1]
    assert replies[1]["writeErrors"][0]["code"] == 11000
    assert replies[3]["writeErrors"][0]["code"] == 11000
    assert replies[4]["cursor"]["firstBatch"][0]["_id"] == "F7"
    assert replies[6]["value"]["status"] == "y"
    assert calls < 40  # a scan of the collection alone would be 2,000


def _plain_id(query: Doc) -> bool:
    """Whether an upsert with ``query`` takes its _id from it (else mongomock makes one up)."""
    return query.get("_id") is not None and not isinstance(query["_id"], dict | list)


def _random_story(seed: int, steps: int) -> Iterator[Doc]:
    """Random commands on a small collection: _id filters of every kind, unique indexes."""
    rnd = random.Random(seed)
    oids = [ObjectId(f"{i:024x}") for i in range(3)]
    ids: list[Any] = ["a", "b", "c", 1, 2, Int64(2), 2.0, 4.5, *oids]
    indexes: list[Doc] = [
        {"key": {"channel": 1, "external_id": 1}, "name": "chan_ext", "unique": True},
        {"key": {"email": 1}, "name": "email", "unique": True, "sparse": True},
        {
            "key": {"phone": 1},
            "name": "phone",
            "unique": True,
            "partialFilterExpression": {"active": True},
        },
        {"key": {"meta.k": 1}, "name": "meta_k", "unique": True, "sparse": True},
    ]

    def id_filter() -> Doc:
        value = rnd.choice(ids)
        query: Doc = rnd.choice(
            [
                {"_id": value},
                {"_id": {"$eq": value}},
                {"_id": {"$in": rnd.sample(ids, rnd.randrange(4))}},
                {"$and": [{"_id": value}, {"n": {"$gte": rnd.randrange(4)}}]},
                {"_id": value, "applied": {"$ne": "x"}},
                {"_id": rnd.choice([None, {"k": 1}, [1], True, {"$gte": 2}])},
            ]
        )
        if rnd.random() < 0.3:
            query["status"] = {"$in": rnd.sample(["a", "b", "c"], 2)}
        return query

    def fields() -> Doc:
        choices: dict[str, list[Any]] = {
            "status": ["a", "b", "c"],
            "n": [0, 1, 2, 3],
            "channel": ["tg", "web"],
            "external_id": ["x", "y", None, 1, 1.0, ["x"], {"k": "x"}],
            "email": ["e1", "e2", None],
            "phone": ["p1", "p2"],
            "active": [True, False],
            "meta": [{"k": "m1"}, {"k": "m2"}, {}, 5, None, [{"k": "m1"}]],
            "applied": ["x"],
        }
        return {k: rnd.choice(v) for k, v in choices.items() if rnd.random() < 0.4}

    def update() -> Doc:
        return rnd.choice(
            [
                {"$set": fields() or {"n": 1}},
                {"$set": fields() or {"n": 2}},
                {"$inc": {"n": 1}},
                {"$unset": {rnd.choice(["external_id", "channel", "email", "meta"]): ""}},
                {"$set": {"_id": rnd.choice(ids)}},
                {"$set": {"_id": rnd.choice(ids), "external_id": "x"}, "$inc": {"status": 1}},
                {"$set": {"channel": "tg", "external_id": "y"}, "$inc": {"status": 1}},
                {**fields(), "_id": rnd.choice(ids)},
                {"$setOnInsert": {"created": True}, "$set": {"status": "a"}},
                fields(),  # a replacement
            ]
        )

    yield {"createIndexes": "c", "indexes": indexes}
    for _ in range(steps):
        kind = rnd.choice("iiiuuuuudffcmmmxX")
        if kind == "i":
            documents = [
                {**fields(), "_id": rnd.choice([*ids, {"k": 1}])}
                for _ in range(rnd.randrange(1, 3))
            ]
            yield {"insert": "c", "documents": documents, "ordered": rnd.random() < 0.5}
        elif kind == "u":
            query = id_filter()
            statement: Doc = {
                "q": query,
                "u": update(),
                "upsert": _plain_id(query) and rnd.random() < 0.3,
            }
            if rnd.random() < 0.2 and "$set" in statement["u"]:
                statement["multi"] = True
            yield {"update": "c", "updates": [statement]}
        elif kind == "d":
            yield {"delete": "c", "deletes": [{"q": id_filter(), "limit": rnd.choice([0, 1])}]}
        elif kind == "f":
            yield {"find": "c", "filter": id_filter(), "projection": rnd.choice([None, {"_id": 0}])}
        elif kind == "c":
            yield {"count": "c", "query": id_filter()}
        elif kind == "m":
            command: Doc = {"findAndModify": "c", "query": id_filter(), "new": rnd.random() < 0.5}
            if rnd.random() < 0.2:
                command.update(remove=True, new=False)
            else:
                command.update(
                    update=update(), upsert=_plain_id(command["query"]) and rnd.random() < 0.3
                )
            yield command
        elif kind == "x":
            yield {"createIndexes": "c", "indexes": rnd.sample(indexes, 2)}
        else:
            yield rnd.choice(
                [
                    {"dropIndexes": "c", "index": rnd.choice(["chan_ext", "email", "*"])},
                    {"drop": "c"},
                ]
            )


def _comparable(reply: Doc) -> Doc:
    cursor = reply.get("cursor")
    if cursor is not None:
        return {**reply, "cursor": {**cursor, "id": None}}
    return reply


@pytest.mark.parametrize("seed", range(12))
def test_random_id_addressed_commands_answer_as_mongomocks_scans_do(seed: int) -> None:
    engine, reference = _Engine(), _ScanningEngine()
    everything: Doc = {"find": "c", "filter": {}}
    for command in _random_story(seed, 300):
        reply = engine.execute("db", copy.deepcopy(command))
        assert _comparable(reply) == _comparable(reference.execute("db", copy.deepcopy(command))), (
            command
        )
        stored = engine.execute("db", everything)["cursor"]["firstBatch"]
        assert _typed(stored) == _typed(
            reference.execute("db", everything)["cursor"]["firstBatch"]
        ), command


def _random_value(rnd: random.Random, depth: int = 0) -> Any:
    """A field value of the kinds a string condition meets: strings, arrays, others."""
    words = ["a", "b", "c", "received", "verified"]
    kinds = ["str", "str", "strs", "mixed", "none", "int", "empty"]
    if depth == 0:
        kinds += ["doc", "docs"]
    match rnd.choice(kinds):
        case "str":
            return rnd.choice(words)
        case "strs":
            return rnd.sample(words, rnd.randrange(1, 4))
        case "mixed":
            return [rnd.choice(words), rnd.choice([1, None, ["a"], {"b": "a"}])]
        case "none":
            return None
        case "int":
            return rnd.choice([0, 1])
        case "empty":
            return []
        case "doc":
            return {k: _random_value(rnd, 1) for k in rnd.sample(["b", "c"], rnd.randrange(0, 3))}
        case _:
            return [{"b": _random_value(rnd, 1)} for _ in range(rnd.randrange(0, 3))]


def _random_string_query(rnd: random.Random) -> Doc:
    query: Doc = {}
    paths = ["s", "t", "a.b", "a.c", "a.0", "a.b.c", "missing"]
    for path in rnd.sample(paths, rnd.randrange(1, 4)):
        words = rnd.sample(["a", "b", "c", "received", "zzz"], rnd.randrange(0, 3))
        query[path] = rnd.choice(
            [
                rnd.choice(["a", "received", "zzz"]),
                {"$eq": rnd.choice(["a", "b"])},
                {"$in": words},
                {"$in": [*words, None]},  # not all strings: no shortcut
                {"$ne": "a"},  # not a shortcut either
            ]
        )
    if rnd.random() < 0.3:
        query["n"] = {"$gte": rnd.randrange(0, 60)}
    return query


@pytest.mark.parametrize("seed", range(8))
def test_scans_that_skip_by_string_conditions_answer_as_mongomocks_scans_do(seed: int) -> None:
    rnd = random.Random(seed)
    engine, reference = _Engine(), _ScanningEngine()
    documents = []
    for n in range(60):
        document: Doc = {"_id": n, "n": n}
        for name in ("s", "t", "a"):
            if rnd.random() < 0.8:
                document[name] = _random_value(rnd)
        documents.append(document)
    for each in (engine, reference):
        each.execute("db", {"insert": "c", "documents": copy.deepcopy(documents)})
    matched = 0
    for _ in range(150):
        command = {"find": "c", "filter": _random_string_query(rnd), "sort": {"_id": 1}}
        reply = engine.execute("db", copy.deepcopy(command))
        assert _comparable(reply) == _comparable(reference.execute("db", command)), command
        matched += len(reply["cursor"]["firstBatch"])
    assert matched > 0  # the queries do find something, so a wrong skip would show


def test_a_string_condition_spares_mongomocks_filter_most_documents(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = _Engine()
    docs = [{"_id": i, "status": "received", "keys": [f"k{i}", f"j{i}"]} for i in range(1000)]
    engine.execute("db", {"insert": "c", "documents": docs})
    calls = 0
    real = devdb._filter_applies

    def counting(query: Any, document: Any) -> bool:
        nonlocal calls
        calls += 1
        return bool(real(query, document))

    monkeypatch.setattr(devdb, "_filter_applies", counting)
    # every document tested then goes through _filter_applies (none through a compiled filter)
    monkeypatch.setattr(devdb, "_COMPILE_AFTER", sys.maxsize)
    query = {"keys": {"$in": ["k7", "j9"]}, "status": {"$in": ["received"]}, "n": {"$ne": 1}}
    reply = engine.execute("db", {"find": "c", "filter": query})
    assert [d["_id"] for d in reply["cursor"]["firstBatch"]] == [7, 9]
    assert calls == 2


# The stand-in answers from its in-memory indexes (equality, $in, ranges, sorted walks with a
# limit). These tests hold every such answer to what mongomock's own full scans give.

_T0 = datetime(2026, 1, 1)


def _indexed_value(rnd: random.Random) -> Any:
    """A value of any kind an indexed field meets: plain, null, arrays, documents."""
    return rnd.choice(
        [
            lambda: rnd.choice(["a", "b", "c", "d"]),
            lambda: rnd.randrange(-2, 4),
            lambda: rnd.choice([0.5, 1.0, 2.5]),
            lambda: rnd.choice([True, False]),
            lambda: _T0 + timedelta(hours=rnd.randrange(6)),
            lambda: None,
            lambda: rnd.sample(["a", "b", "c", "d"], rnd.randrange(1, 3)),
            lambda: [rnd.randrange(3), "a"],
            lambda: [],
            lambda: {"x": 1},
            lambda: ObjectId(f"{rnd.randrange(3):024x}"),
        ]
    )()


def _indexed_document(rnd: random.Random, n: int) -> Doc:
    document: Doc = {"_id": n}
    for name in ("s", "v", "t"):
        if rnd.random() < 0.85:
            document[name] = _indexed_value(rnd)
    if rnd.random() < 0.7:
        document["e"] = rnd.choice(
            [{"at": _indexed_value(rnd)}, [{"at": 1}, {"at": 2}], {}, "flat"]
        )
    return document


def _indexed_condition(rnd: random.Random) -> Any:
    value = _indexed_value(rnd)
    low, high = sorted([rnd.randrange(-2, 4), rnd.randrange(-2, 4)])
    return rnd.choice(
        [
            value,
            {"$eq": value},
            {"$in": [_indexed_value(rnd) for _ in range(rnd.randrange(0, 4))]},
            {"$gte": low, "$lte": high},
            {"$gt": low},
            {"$lt": rnd.choice(["b", "c", high])},
            {"$lte": _T0 + timedelta(hours=rnd.randrange(6))},
            {"$gte": rnd.choice(["a", "b", 0.5, True])},
            {"$gt": 1, "$lt": "z"},  # two type brackets: nothing plain meets both
            {"$in": ["a", "b"], "$ne": "a"},
            {"$ne": rnd.choice(["a", 1])},
            {"$exists": rnd.random() < 0.5},
        ]
    )


def _indexed_query(rnd: random.Random) -> Doc:
    paths = ["s", "v", "t", "e.at"]
    query: Doc = {path: _indexed_condition(rnd) for path in rnd.sample(paths, rnd.randrange(1, 3))}
    if rnd.random() < 0.2:
        query = {"$and": [query, {rnd.choice(paths): _indexed_condition(rnd)}]}
    if rnd.random() < 0.25:  # a top-level $or: served by a union of its branches' plans
        query["$or"] = [
            {path: _indexed_condition(rnd) for path in rnd.sample(paths, rnd.randrange(1, 3))}
            for _ in range(rnd.randrange(1, 4))
        ]
    return query


def _random_indexed_story(seed: int, steps: int) -> Iterator[Doc]:
    """Queries, claims and changes over a collection with single, compound, nested and
    multikey indexes; every sort ends on _id, since MongoDB leaves the order of ties open."""
    rnd = random.Random(seed)
    yield {
        "createIndexes": "c",
        "indexes": [
            {"key": {"s": 1}, "name": "s"},
            {"key": {"v": 1}, "name": "v", "sparse": True},
            {"key": {"s": 1, "v": -1}, "name": "s_v"},
            {"key": {"e.at": 1}, "name": "e_at"},
            {"key": {"t": 1}, "name": "t"},
        ],
    }
    yield {"insert": "c", "documents": [_indexed_document(rnd, n) for n in range(60)]}
    next_id = 60
    for _ in range(steps):
        kind = rnd.choice("fffffcmmuudiaX")
        sort = {rnd.choice(["s", "v", "t", "e.at"]): rnd.choice([1, -1]), "_id": 1}
        if kind == "f":
            command: Doc = {"find": "c", "filter": _indexed_query(rnd), "sort": sort}
            if rnd.random() < 0.2:
                command["sort"] = {"_id": rnd.choice([1, -1])}
            if rnd.random() < 0.7:
                command["limit"] = rnd.randrange(1, 6)
            if rnd.random() < 0.2:
                command["skip"] = rnd.randrange(0, 3)
            yield command
        elif kind == "c":
            yield {"count": "c", "query": _indexed_query(rnd)}
        elif kind == "a":
            yield {
                "aggregate": "c",
                "pipeline": [{"$match": _indexed_query(rnd)}, {"$sort": {"_id": 1}}],
                "cursor": {},
            }
        elif kind == "m":  # a claim, as the outbox and the escalation scan make it
            yield {
                "findAndModify": "c",
                "query": _indexed_query(rnd),
                "sort": sort,
                "update": {"$set": {rnd.choice(["s", "v", "t"]): _indexed_value(rnd)}},
                "new": rnd.random() < 0.5,
            }
        elif kind == "u":
            update = rnd.choice(
                [
                    # Nothing that fails on some documents only (a multi update would stop
                    # half-way, at a point that depends on the order): no e.at (e may be no
                    # document), no arrays in s or v (parallel arrays in index s_v).
                    {"$set": {"t": _indexed_value(rnd)}},
                    {"$set": {rnd.choice(["s", "v"]): rnd.choice(["a", 1, None, _T0])}},
                    {"$set": {"e": {"at": _indexed_value(rnd)}}},
                    {"$unset": {rnd.choice(["s", "v", "t", "e"]): ""}},
                    {"$set": {"t": rnd.sample(["a", "b", "z"], 2)}},
                ]
            )
            # multi: which one document a single update takes is MongoDB's choice
            statement = {"q": _indexed_query(rnd), "u": update, "multi": True}
            if rnd.random() < 0.2:  # fails half-way (on a string), leaving s changed
                statement = {
                    "q": {"_id": rnd.randrange(60)},
                    "u": {"$set": {"s": "q"}, "$inc": {"s": 1}},
                }
            yield {"update": "c", "updates": [statement]}
        elif kind == "d":
            yield {"delete": "c", "deletes": [{"q": _indexed_query(rnd), "limit": 0}]}
        elif kind == "i":
            next_id += 1
            yield {"insert": "c", "documents": [_indexed_document(rnd, next_id)]}
        else:
            yield rnd.choice(
                [
                    {"dropIndexes": "c", "index": rnd.choice(["s", "t"])},
                    {"createIndexes": "c", "indexes": [{"key": {"t": 1}, "name": "t"}]},
                    {"createIndexes": "c", "indexes": [{"key": {"s": 1}, "name": "s"}]},
                ]
            )


@pytest.mark.parametrize("seed", range(16))
def test_random_indexed_queries_answer_as_mongomocks_scans_do(seed: int) -> None:
    engine, reference = _Engine(), _ScanningEngine()
    everything: Doc = {"find": "c", "filter": {}}
    found = 0
    for command in _random_indexed_story(seed, 250):
        reply = engine.execute("db", copy.deepcopy(command))
        expected = reference.execute("db", copy.deepcopy(command))
        assert _comparable(reply) == _comparable(expected), command
        found += len(reply.get("cursor", {}).get("firstBatch", []))
        stored = engine.execute("db", everything)["cursor"]["firstBatch"]
        assert stored == reference.execute("db", everything)["cursor"]["firstBatch"], command
    assert found > 10  # the queries do find things, so a wrong candidate set would show


def test_sorted_claims_and_indexed_look_ups_do_not_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _Engine()
    engine.execute(
        "db",
        {
            "createIndexes": "c",
            "indexes": [
                {"key": {"due": 1}, "name": "due", "sparse": True},
                {"key": {"status": 1}, "name": "status"},
                {"key": {"keys": 1}, "name": "keys"},
                {"key": {"received_at": 1}, "name": "received_at"},
            ],
        },
    )
    docs = [
        {
            "_id": f"C{i}",
            "status": "verified",
            "keys": [f"k{i}", f"j{i % 50}"],
            "received_at": _T0 + timedelta(minutes=i),
            **({"due": _T0 + timedelta(days=1, minutes=i)} if i % 2 else {}),
        }
        for i in range(3000)
    ]
    engine.execute("db", {"insert": "c", "documents": docs})
    calls = 0
    real = devdb._filter_applies

    def counting(query: Any, document: Any) -> bool:
        nonlocal calls
        calls += 1
        return bool(real(query, document))

    monkeypatch.setattr(devdb, "_filter_applies", counting)
    # every document tested then goes through _filter_applies (none through a compiled filter)
    monkeypatch.setattr(devdb, "_COMPILE_AFTER", sys.maxsize)
    monkeypatch.setattr(devdb, "_scan", lambda *args: pytest.fail("scanned the collection"))
    claim = engine.execute(
        "db",
        {
            "findAndModify": "c",
            "query": {"due": {"$lte": _T0 + timedelta(days=2)}},
            "sort": {"due": 1},
            "update": {"$set": {"due": _T0 + timedelta(days=9)}},
        },
    )
    assert claim["value"]["_id"] == "C1"
    nothing_due = engine.execute(
        "db",
        {
            "findAndModify": "c",
            "query": {"due": {"$lte": _T0}},
            "sort": {"due": 1},
            "update": {"$set": {"due": _T0}},
        },
    )
    assert nothing_due["value"] is None
    look_up = engine.execute(
        "db",
        {
            "find": "c",
            "filter": {
                "keys": {"$in": ["k7", "j9"]},
                "status": {"$in": ["received", "verified"]},
                "received_at": {"$gte": _T0},
            },
            "sort": {"received_at": -1},
            "limit": 3,
        },
    )
    assert [d["_id"] for d in look_up["cursor"]["firstBatch"]] == ["C2959", "C2909", "C2859"]
    # A top-level $or whose every branch has an index: the union of the branches' look-ups
    # (verification's duplicate candidates: by key, or by the same reporter).
    either = engine.execute(
        "db",
        {
            "find": "c",
            "filter": {
                "status": {"$in": ["received", "verified"]},
                "received_at": {"$gte": _T0},
                "$or": [
                    {"keys": {"$in": ["k7", "j9"]}},
                    {"due": _T0 + timedelta(days=1, minutes=11)},
                ],
            },
            "sort": {"received_at": -1},
            "limit": 100,
        },
    )
    found = [d["_id"] for d in either["cursor"]["firstBatch"]]
    assert len(found) == 62 and found[:2] == ["C2959", "C2909"] and found[-2:] == ["C9", "C7"]
    assert "C11" in found
    newest = engine.execute(
        "db", {"find": "c", "filter": {}, "sort": {"received_at": -1}, "limit": 2}
    )
    assert [d["_id"] for d in newest["cursor"]["firstBatch"]] == ["C2999", "C2998"]
    count = engine.execute(
        "db",
        {"aggregate": "c", "pipeline": [{"$match": {"keys": "j3"}}, {"$count": "n"}], "cursor": {}},
    )
    assert count["cursor"]["firstBatch"] == [{"n": 60}]
    assert calls < 250  # one scan alone would be 3,000


# -- refusals -------------------------------------------------------------------------------


# -- as strict as MongoDB 7 -------------------------------------------------------------------


async def test_two_operators_on_one_path_are_refused_with_code_40(
    coll: AsyncCollection[Doc],
) -> None:
    await coll.insert_one({"_id": 1, "x": 1, "a": {"b": 1}, "arr": []})
    conflicts = [
        (
            {"$set": {"x": 2}, "$inc": {"x": 1}},
            "Updating the path 'x' would create a conflict at 'x'",
        ),
        (
            {"$set": {"a": {}}, "$unset": {"a.b": ""}},
            "Updating the path 'a.b' would create a conflict at 'a'",
        ),
        ({"$set": {"a.b": 2, "a": {}}}, "Updating the path 'a' would create a conflict at 'a'"),
        ({"$push": {"arr": 1}, "$pull": {"arr": 2}}, "conflict at 'arr'"),
        ({"$rename": {"x": "y"}, "$set": {"y": 1}}, "conflict at 'y'"),
        ({"$setOnInsert": {"x": 0}, "$set": {"x": 2}}, "conflict at 'x'"),
    ]
    for update, message in conflicts:
        with pytest.raises(WriteError) as refused:
            await coll.update_one({"_id": 1}, update)
        assert refused.value.code == 40, update
        assert message in str(refused.value), update
    with pytest.raises(OperationFailure) as by_find_and_modify:
        await coll.find_one_and_update({"_id": 1}, {"$set": {"x": 2}, "$max": {"x": 9}})
    assert by_find_and_modify.value.code == 40
    # paths that only share a prefix of their names do not conflict
    await coll.update_one({"_id": 1}, {"$set": {"x": 5, "xy": 1, "a.bc": 2}, "$inc": {"a.b": 1}})
    assert await coll.find_one({"_id": 1}) == {
        "_id": 1, "x": 5, "a": {"b": 2, "bc": 2}, "arr": [], "xy": 1,
    }  # fmt: skip


async def test_setting_a_field_inside_a_non_document_is_refused_with_code_28(
    coll: AsyncCollection[Doc],
) -> None:
    await coll.insert_one({"_id": 1, "a": 5, "s": "flat", "arr": [1, {"k": 1}], "d": {"e": 1}})
    for update in (
        {"$set": {"a.b": 1}},
        {"$inc": {"s.n": 1}},
        {"$push": {"d.e.f": 1}},
        {"$set": {"arr.name": 1}},
        {"$set": {"arr.0.k": 1}},
    ):
        with pytest.raises(WriteError) as refused:
            await coll.update_one({"_id": 1}, update)
        assert refused.value.code == 28, update
        assert "Cannot create field" in str(refused.value), update
    with pytest.raises(WriteError, match=r"Cannot create field 'b' in element \{a: 5\}"):
        await coll.update_one({"_id": 1}, {"$set": {"a.b": 1}})
    # through documents and array positions that exist, and into new fields, it works
    await coll.update_one({"_id": 1}, {"$set": {"arr.1.k": 2, "d.e2.f": 1, "new.deep": 1}})
    stored = await coll.find_one({"_id": 1})
    assert stored is not None
    assert stored["arr"] == [1, {"k": 2}] and stored["d"] == {"e": 1, "e2": {"f": 1}}


async def test_documents_nested_deeper_than_100_levels_are_refused(
    coll: AsyncCollection[Doc],
) -> None:
    def nested(levels: int) -> Doc:
        value: Doc = {}
        for _ in range(levels - 1):
            value = {"n": value}
        return value

    await coll.insert_one({"_id": "ok", **nested(100)})  # the document itself is level 1
    with pytest.raises(WriteError) as too_deep:
        await coll.insert_one({"_id": "deep", **nested(101)})
    assert too_deep.value.code == 15
    with pytest.raises(WriteError) as by_update:
        await coll.update_one({"_id": "ok"}, {"$set": {"more": nested(100)}})
    assert by_update.value.code == 15
    assert await coll.count_documents({}) == 1
    stored = await coll.find_one({"_id": "ok"})
    assert stored is not None and "more" not in stored  # the refused update left nothing


async def test_an_update_is_refused_at_101_levels_however_it_nests(
    coll: AsyncCollection[Doc],
) -> None:
    """The stand-in skips walking the whole document after an update that cannot nest that
    deep; every way an update nests is still held to the limit, and 100 levels pass."""

    def nested(levels: int) -> Doc:
        value: Doc = {}
        for _ in range(levels - 1):
            value = {"n": value}
        return value

    await coll.insert_one({"_id": 1, "items": [{"k": 1}], "list": []})
    long_path = ".".join(["p"] * 100)  # 100 levels of documents, and {} below them
    writes: list[tuple[Doc, Doc, Doc]] = [
        ({"_id": 1}, {"$set": {long_path: {}}}, {"$set": {long_path[2:]: {}}}),
        ({"_id": 1}, {"$push": {"list": nested(99)}}, {"$push": {"list": nested(98)}}),
        (
            {"_id": 1, "items.k": 1},
            {"$set": {"items.$.v": nested(98)}},
            {"$set": {"items.$.v": nested(97)}},
        ),
        ({"_id": 1}, {"$max": {"top": nested(100)}}, {"$max": {"top": nested(99)}}),
    ]
    for where, too_deep, deep_enough in writes:
        with pytest.raises(WriteError) as refused:
            await coll.update_one(where, too_deep)
        assert refused.value.code == 15, too_deep
        assert (await coll.update_one(where, deep_enough)).modified_count == 1, deep_enough


async def test_an_update_refiles_the_indexes_reading_what_it_wrote(
    coll: AsyncCollection[Doc],
) -> None:
    """After an operator update only the indexes on a field it wrote are refiled: a renamed
    field counts as written, and an upsert's new document is filed everywhere (even over
    what a deleted document with its _id left in an index)."""
    await coll.create_index("status", name="status")
    await coll.create_index("channel", name="channel")
    await coll.insert_one({"_id": 1, "status": "a", "channel": "tg", "old": "b"})
    await coll.update_one({"_id": 1}, {"$set": {"status": "c"}})
    assert [d["_id"] async for d in coll.find({"status": "c"})] == [1]
    assert [d["_id"] async for d in coll.find({"status": "a"})] == []
    assert [d["_id"] async for d in coll.find({"channel": "tg"})] == [1]
    await coll.update_one({"_id": 1}, {"$unset": {"status": ""}, "$rename": {"old": "channel"}})
    assert [d["_id"] async for d in coll.find({"channel": "b"})] == [1]
    assert [d["_id"] async for d in coll.find({"channel": "tg"})] == []
    assert [d["_id"] async for d in coll.find({"status": None})] == [1]
    await coll.delete_one({"_id": 1})
    await coll.update_one({"_id": 1, "channel": "web"}, {"$set": {"status": "a"}}, upsert=True)
    assert [d["_id"] async for d in coll.find({"channel": "web"})] == [1]
    assert [d["_id"] async for d in coll.find({"channel": "b"})] == []


async def test_a_document_over_16_mib_after_an_update_is_refused_with_code_17419(
    coll: AsyncCollection[Doc],
) -> None:
    chunk = "x" * (6 * 1024 * 1024)
    await coll.insert_one({"_id": 1, "parts": [chunk, chunk]})
    with pytest.raises(WriteError) as too_large:
        await coll.update_one({"_id": 1}, {"$push": {"parts": chunk}})
    assert too_large.value.code == 17419
    assert "larger than 16777216" in str(too_large.value)
    stored = await coll.find_one({"_id": 1})
    assert stored is not None and len(stored["parts"]) == 2  # rolled back
    engine = _Engine()
    reply = engine.execute("db", {"insert": "c", "documents": [{"_id": 1, "p": [chunk] * 3}]})
    assert reply["writeErrors"][0]["code"] == 2  # an insert over the limit (drivers stop it first)


async def test_parallel_arrays_in_a_compound_index_are_refused_with_code_171(
    coll: AsyncCollection[Doc],
) -> None:
    await coll.create_index([("a", 1), ("b", 1)], name="a_b")
    await coll.insert_one({"_id": 1, "a": [1, 2], "b": 1})
    await coll.insert_one({"_id": 2, "a": 1, "b": [1, 2]})
    with pytest.raises(WriteError) as on_insert:
        await coll.insert_one({"_id": 3, "a": [1], "b": [2]})
    assert on_insert.value.code == 171
    assert "cannot index parallel arrays" in str(on_insert.value)
    with pytest.raises(WriteError) as on_update:
        await coll.update_one({"_id": 1}, {"$set": {"b": [3, 4]}})
    assert on_update.value.code == 171
    assert await coll.find_one({"_id": 1}) == {"_id": 1, "a": [1, 2], "b": 1}
    assert await coll.count_documents({"a": 2}) == 1  # the index still finds it as it is
    other = coll.database[f"{coll.name}_other"]
    await other.insert_one({"_id": 1, "x": [1], "y": [2]})
    with pytest.raises(OperationFailure) as on_create:
        await other.create_index([("x", 1), ("y", 1)])
    assert on_create.value.code == 171


async def test_index_name_and_key_conflicts_are_refused_with_codes_85_and_86(
    coll: AsyncCollection[Doc],
) -> None:
    await coll.create_index([("a", 1)], name="by_a")
    await coll.create_index([("a", 1)], name="by_a")  # the same again: nothing to do
    with pytest.raises(OperationFailure) as other_key:
        await coll.create_index([("b", 1)], name="by_a")
    assert other_key.value.code == 86
    with pytest.raises(OperationFailure) as other_name:
        await coll.create_index([("a", 1)], name="a_again")
    assert other_name.value.code == 85
    assert "Index already exists with a different name: by_a" in str(other_name.value)
    with pytest.raises(OperationFailure) as other_options:
        await coll.create_index([("a", 1)], name="by_a", unique=True)
    assert other_options.value.code == 85
    names = [index["name"] async for index in await coll.list_indexes()]
    assert names == ["_id_", "by_a"]


async def test_min_and_max_compare_by_bson_type_order(coll: AsyncCollection[Doc]) -> None:
    at = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
    await coll.insert_one({"_id": 1, "n": 5, "s": "b", "t": None, "d": at})
    # null < numbers < strings < ... < dates
    await coll.update_one({"_id": 1}, {"$min": {"n": "a", "s": 3, "t": 1}, "$max": {"d": 7}})
    assert await coll.find_one({"_id": 1}) == {"_id": 1, "n": 5, "s": 3, "t": None, "d": at}
    await coll.update_one({"_id": 1}, {"$max": {"n": "a", "t": 1, "new": 2}, "$min": {"d": 0}})
    assert await coll.find_one({"_id": 1}) == {"_id": 1, "n": "a", "s": 3, "t": 1, "d": 0, "new": 2}
    result = await coll.update_one({"_id": 1}, {"$min": {"d": 1}})
    assert result.modified_count == 0


@pytest.mark.parametrize(
    "command",
    [
        {"collMod": "items"},
        {"mapReduce": "items", "map": "function() {}", "reduce": "function() {}", "out": "x"},
        {"serverStatus": 1},
    ],
)
async def test_unsupported_commands_are_refused_by_name(
    db: AsyncDatabase[Doc], command: Doc
) -> None:
    name = next(iter(command))
    with pytest.raises(OperationFailure) as failure:
        await db.command(command)
    assert failure.value.code == 59
    assert f"does not support command '{name}'" in str(failure.value)
    assert "use a real MongoDB" in str(failure.value)


async def test_unsupported_update_operators_are_refused(coll: AsyncCollection[Doc]) -> None:
    await coll.insert_one({"_id": 1, "n": 2, "arr": [1, 2]})
    with pytest.raises(WriteError, match=r"does not support the update operator '\$mul'"):
        await coll.update_one({"_id": 1}, {"$mul": {"n": 2}})
    with pytest.raises(OperationFailure, match=r"does not support.*positional"):
        await coll.update_one({"_id": 1}, {"$set": {"arr.$[]": 0}})
    with pytest.raises(OperationFailure, match="does not support arrayFilters"):
        await coll.update_one(
            {"_id": 1}, {"$set": {"arr.$[e]": 0}}, array_filters=[{"e": {"$gt": 1}}]
        )
    with pytest.raises(OperationFailure, match="does not support pipeline-style updates"):
        await coll.update_one({"_id": 1}, [{"$set": {"n": 3}}])
    with pytest.raises(OperationFailure, match=r"does not support the update operator '\$bit'"):
        await coll.find_one_and_update({"_id": 1}, {"$bit": {"n": {"and": 1}}})
    assert await coll.find_one({"_id": 1}) == {"_id": 1, "n": 2, "arr": [1, 2]}


async def test_unsupported_queries_and_stages_are_refused(coll: AsyncCollection[Doc]) -> None:
    await coll.insert_one({"_id": 1, "name": "x"})
    with pytest.raises(OperationFailure, match="does not support") as where:
        await coll.find_one({"$where": "this.name == 'x'"})
    assert "$where" in str(where.value)
    with pytest.raises(OperationFailure, match=r"does not support the aggregation stage '\$out'"):
        await coll.aggregate([{"$out": "copy"}])
    with pytest.raises(OperationFailure, match=r"'\$densify'"):
        await coll.aggregate([{"$densify": {"field": "n", "range": {"step": 1}}}])
    with pytest.raises(OperationFailure, match="does not support collation"):
        await coll.find_one({"name": "X"}, collation={"locale": "id", "strength": 2})
    with pytest.raises(OperationFailure, match="does not support the index type 'text'"):
        await coll.create_index([("name", "text")])


async def test_refusals_leave_the_connection_usable(
    client: AsyncMongoClient[Doc], coll: AsyncCollection[Doc]
) -> None:
    for _ in range(5):
        with pytest.raises(OperationFailure):
            await coll.database.command("collMod", "x")
    await coll.insert_one({"_id": "still-fine"})
    assert await coll.find_one() == {"_id": "still-fine"}


# -- the wire ---------------------------------------------------------------------------------


def _raw_exchange(url: str, message: bytes) -> bytes:
    """Send one raw message; what came back before the server closed or answered."""
    host, port = url.removeprefix("mongodb://").rstrip("/").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(message)
        header = sock.recv(16)
        if len(header) < 16:
            return header
        length = int.from_bytes(header[:4], "little")
        body = b""
        while len(body) < length - 16:
            chunk = sock.recv(length - 16 - len(body))
            if not chunk:
                break
            body += chunk
        return header + body


def _op_msg(request_id: int, body: Doc, sequences: dict[str, list[Doc]] | None = None) -> bytes:
    payload = b"\x00\x00\x00\x00" + b"\x00" + bson.encode(body)
    for identifier, documents in (sequences or {}).items():
        section = identifier.encode() + b"\x00" + b"".join(bson.encode(d) for d in documents)
        payload += b"\x01" + (len(section) + 4).to_bytes(4, "little") + section
    header = (16 + len(payload)).to_bytes(4, "little") + request_id.to_bytes(4, "little")
    return header + (0).to_bytes(4, "little") + (2013).to_bytes(4, "little") + payload


def test_op_msg_document_sequences_are_folded_into_the_command(
    server: StandInMongoServer,
) -> None:
    name = f"devdb_test_{next(_names)}"
    insert = _op_msg(7, {"insert": "seq", "$db": name}, {"documents": [{"_id": 1}, {"_id": 2}]})
    answer = _raw_exchange(server.url, insert)
    assert int.from_bytes(answer[8:12], "little") == 7  # responseTo
    assert int.from_bytes(answer[12:16], "little") == 2013
    assert bson.decode(answer[21:]) == {"n": 2, "ok": 1}
    with MongoClient(server.url) as client:
        assert client[name]["seq"].count_documents({}) == 2


def test_a_legacy_opcode_or_a_garbled_message_closes_only_its_connection(
    server: StandInMongoServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="lapor.devdb")
    legacy_insert = (20).to_bytes(4, "little") + (1).to_bytes(4, "little") + bytes(4)
    legacy_insert += (2002).to_bytes(4, "little") + bytes(4)
    assert _raw_exchange(server.url, legacy_insert) == b""
    garbled = _op_msg(1, {"ping": 1, "$db": "admin"})[:-3] + b"\x09\x09\x09"
    assert _raw_exchange(server.url, garbled) == b""
    said = [r.getMessage() for r in caplog.records if r.name == "lapor.devdb"]
    assert any("legacy opcode 2002" in m for m in said)
    assert any("cannot read" in m and "legacy" not in m for m in said)
    with MongoClient(server.url) as client:
        assert client.admin.command("ping")["ok"] == 1


# -- sharing --------------------------------------------------------------------------------


async def test_two_clients_see_the_same_data(server: StandInMongoServer) -> None:
    name = f"devdb_test_{next(_names)}"
    first: AsyncMongoClient[Doc] = AsyncMongoClient(server.url, tz_aware=True)
    second: AsyncMongoClient[Doc] = AsyncMongoClient(server.url, tz_aware=True)
    try:
        await first[name]["shared"].insert_one({"_id": "from-first"})
        assert await second[name]["shared"].find_one() == {"_id": "from-first"}
        await second[name]["shared"].update_one({"_id": "from-first"}, {"$set": {"by": 2}})
        assert await first[name]["shared"].find_one() == {"_id": "from-first", "by": 2}
    finally:
        await first.close()
        await second.close()


async def test_a_reopened_client_sees_earlier_writes(server: StandInMongoServer) -> None:
    name = f"devdb_test_{next(_names)}"
    before: AsyncMongoClient[Doc] = AsyncMongoClient(server.url, tz_aware=True)
    await before[name]["kept"].insert_many([{"_id": i} for i in range(3)])
    await before.close()
    after: AsyncMongoClient[Doc] = AsyncMongoClient(server.url, tz_aware=True)
    try:
        assert await after[name]["kept"].count_documents({}) == 3
    finally:
        await after.close()


async def test_many_clients_with_pools_at_once(server: StandInMongoServer) -> None:
    name = f"devdb_test_{next(_names)}"
    clients: list[AsyncMongoClient[Doc]] = [
        AsyncMongoClient(server.url, tz_aware=True, maxPoolSize=5) for _ in range(10)
    ]
    try:

        async def write(client_no: int, task_no: int) -> None:
            collection = clients[client_no][name]["crowd"]
            await collection.insert_one({"_id": f"{client_no}-{task_no}"})
            await collection.update_one({"_id": f"{client_no}-{task_no}"}, {"$set": {"ok": 1}})

        await asyncio.gather(*(write(c, t) for c in range(10) for t in range(10)))
        assert await clients[0][name]["crowd"].count_documents({"ok": 1}) == 100
    finally:
        for one in clients:
            await one.close()


def test_the_sync_client_works_too(server: StandInMongoServer) -> None:
    sync_client: MongoClient[Doc] = MongoClient(server.url, tz_aware=True)
    with sync_client:
        coll = sync_client[f"devdb_test_{next(_names)}"]["sync"]
        coll.insert_many([{"_id": i} for i in range(250)])
        assert [d["_id"] for d in coll.find(sort=[("_id", DESCENDING)])][:3] == [249, 248, 247]
        assert coll.find_one_and_update({"_id": 1}, {"$set": {"x": 1}}, return_document=True) == {
            "_id": 1,
            "x": 1,
        }


def test_serve_forever_runs_until_sigterm() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code = f"from lapor_devdb import serve_forever; serve_forever('127.0.0.1', {port})"
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[2],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        c: MongoClient[Doc] = MongoClient(
            f"mongodb://127.0.0.1:{port}/", serverSelectionTimeoutMS=10_000
        )
        with c:
            c.lapor.cases.insert_one({"_id": 1})
            assert c.lapor.cases.find_one() == {"_id": 1}
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=15)
    finally:
        process.kill()
    assert process.returncode == 0
    assert "NEVER for production" in stderr


async def test_the_exact_shapes_the_services_use(coll: AsyncCollection[Doc]) -> None:
    """The outbox cycle, the applied-command guard, the timer queries: as LAPOR sends them."""
    now = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
    pending = [{"message_id": "a", "body": {}}, {"message_id": "b", "body": {}}]
    await coll.insert_one({"_id": "T1", "status": "received", "outbox": pending,
                           "outbox_due_at": now, "applied": []})  # fmt: skip
    # Outbox: take the published entries off, then drop the due time once it is empty.
    await coll.update_one({"_id": "T1"}, {"$pull": {"outbox": {"message_id": {"$in": ["a"]}}}})
    unset = {"$unset": {"outbox_due_at": ""}}
    assert (await coll.update_one({"_id": "T1", "outbox": {"$size": 0}}, unset)).matched_count == 0
    await coll.update_one({"_id": "T1"}, {"$pull": {"outbox": {"message_id": {"$in": ["b"]}}}})
    assert (await coll.update_one({"_id": "T1", "outbox": {"$size": 0}}, unset)).matched_count == 1
    # A command applied once: the second identical update matches nothing.
    guard = {"_id": "T1", "status": {"$in": ["received"]}, "applied": {"$ne": "cmd-1"}}
    apply = {"$push": {"applied": "cmd-1", "timeline": {"$each": [{"at": now}]}},
             "$min": {"first_answer_at": now}, "$set": {"status": "verified"}}  # fmt: skip
    assert (await coll.update_one(guard, apply)).modified_count == 1
    assert (
        await coll.update_one(guard | {"status": {"$in": ["verified"]}}, apply)
    ).matched_count == 0
    # Timers: cases that never had one, and the claim of a due one.
    await coll.insert_one({"_id": "T2", "status": "dispatched", "escalation": {"next_at": now}})
    untimed = coll.find(
        {"status": {"$in": ["verified", "dispatched"]}, "escalation": {"$exists": False}}
    )
    assert [d["_id"] async for d in untimed] == ["T1"]
    claimed = await coll.find_one_and_update(
        {"escalation.next_at": {"$lte": now}, "_id": {"$nin": ["T9"]}},
        {"$set": {"escalation.next_at": datetime(2026, 12, 7, 3, 0, tzinfo=UTC)}},
        sort=[("escalation.next_at", 1)],
        return_document=ReturnDocument.AFTER,
    )
    assert claimed is not None and claimed["_id"] == "T2"
    assert claimed["escalation"]["next_at"] == datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
    stored = await coll.find_one({"_id": "T1"})
    assert stored is not None
    assert stored["outbox"] == [] and "outbox_due_at" not in stored
    assert stored["applied"] == ["cmd-1"] and stored["first_answer_at"] == now


async def test_verifications_near_duplicate_look_up_through_the_wire(
    coll: AsyncCollection[Doc],
) -> None:
    """``$expr`` with ``$setIntersection`` (mongomock has none): only similar cases return."""
    from services.verification.handlers import similar_to

    terms = ["jalan", "lubang", "pasar", "sudirman", "truk"]
    await coll.create_index([("dedup_keys", ASCENDING)])
    await coll.insert_many(
        [
            {"_id": "same", "dedup_keys": ["jalan lubang"], "text_terms": terms},
            {"_id": "close", "dedup_keys": ["jalan lubang"], "text_terms": [*terms[:4], "x"]},
            {"_id": "far", "dedup_keys": ["jalan lubang"], "text_terms": [*terms[:2], "y", "z"]},
            {"_id": "unchecked", "dedup_keys": ["jalan lubang"]},
            {"_id": "other key", "dedup_keys": ["pasar truk"], "text_terms": terms},
        ]
    )
    query = {"dedup_keys": {"$in": ["jalan lubang"]}, "$expr": similar_to(terms, 0.6)}
    found = [d["_id"] async for d in coll.find(query, sort=[("_id", 1)])]
    assert found == ["close", "same"]  # 4/6 and 5/5; "far" is 2/7
    in_or = {"$or": [{"text_terms": {"$exists": False}}, {"$expr": similar_to(terms, 0.8)}]}
    found = [d["_id"] async for d in coll.find(in_or, sort=[("_id", 1)])]
    assert found == ["other key", "same", "unchecked"]
    with pytest.raises(OperationFailure) as refused:
        await coll.find_one({"$expr": {"$setIntersection": ["$_id", ["a"]]}})
    assert refused.value.code == 17047


async def test_a_full_counter_refuses_its_guarded_upsert_and_an_ordered_write_stops_there(
    coll: AsyncCollection[Doc],
) -> None:
    """Intake's rate limits: count unless full; a full counter is duplicate key 11000."""

    def count(bucket: str, limit: int) -> UpdateOne:
        return UpdateOne(
            {"_id": bucket, "count": {"$lt": limit}},
            {
                "$inc": {"count": 1},
                "$setOnInsert": {"expires_at": datetime(2026, 12, 2, tzinfo=UTC)},
            },
            upsert=True,
        )

    for _ in range(2):
        await coll.bulk_write([count("channel", 5), count("reporter", 2)], ordered=True)
    with pytest.raises(BulkWriteError) as full:
        await coll.bulk_write([count("channel", 5), count("reporter", 2), count("x", 9)])
    [error] = full.value.details["writeErrors"]
    assert (error["index"], error["code"]) == (1, 11000)
    assert full.value.details["nMatched"] == 1  # the channel counted, then it stopped
    stored = {d["_id"]: d["count"] async for d in coll.find({})}
    assert stored == {"channel": 3, "reporter": 2}


def test_stopping_with_clients_connected_leaves_no_connection_handler_behind() -> None:
    """Every connection's handler finishes before the server's loop closes: one left
    pending is collected later and complains ("coroutine ignored GeneratorExit")."""
    caught: list[Any] = []
    previous = sys.unraisablehook
    sys.unraisablehook = caught.append
    try:
        server = StandInMongoServer()
        client: MongoClient[Any] = MongoClient(server.start(), serverSelectionTimeoutMS=5000)
        client.admin.command("ping")  # a pooled connection, its handler waiting for more
        server.stop()
        client.close()
        del server
        gc.collect()
    finally:
        sys.unraisablehook = previous
    assert [str(u.exc_value) for u in caught] == []
