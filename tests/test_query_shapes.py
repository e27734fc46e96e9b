"""The query shapes LAPOR sends, replayed: on the session's server, and on a real MongoDB 7.

Runs after the integration and e2e tests (its file sorts after their folders), so it also
replays what this session recorded. To check the real thing (Docker):

    docker run -d --name lapor-mongo -p 27017:27017 mongo:7 --replSet rs0
    docker exec lapor-mongo mongosh --quiet --eval 'rs.initiate()'
    LAPOR_TEST_MONGO_URL='mongodb://127.0.0.1:27017/?directConnection=true' \\
        .venv/bin/pytest tests/test_query_shapes.py

Refresh the committed shapes after a change to the services' queries:

    LAPOR_RECORD_QUERY_SHAPES=tests/query_shapes.json .venv/bin/pytest tests/integration tests/e2e
"""

from __future__ import annotations

import json
import os
import re
import uuid
from typing import Any

import pytest
from pymongo import AsyncMongoClient, MongoClient
from pymongo.errors import OperationFailure, PyMongoError

from shared.settings import IntakeSettings
from shared.storage import Store
from tests import query_shapes
from tests import servers as server_selection

pytestmark = pytest.mark.integration

_ACCEPTABLE = {11000}  # a replayed insert may meet another replayed document's key


def _command(shape: query_shapes.Shape, counter: list[int]) -> dict[str, Any]:
    name = next(key for key in shape if key in query_shapes.RECORDED)
    command: dict[str, Any] = {name: shape[name]}
    for key, value in shape.items():
        if key != name:
            command[key] = query_shapes.example_of(value, counter)
    return command


async def replay(url: str, shapes: list[query_shapes.Shape]) -> list[str]:
    """Run one command of each shape in a scratch database; what the server refused."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url, tz_aware=True)
    store = Store(client, f"lapor_shapes_{uuid.uuid4().hex[:8]}")
    refused: list[str] = []
    counter = [0]
    try:
        await store.ensure_indexes()
        for shape in shapes:
            try:
                reply = await store.db.command(_command(shape, counter))
            except OperationFailure as exc:
                if exc.code not in _ACCEPTABLE:
                    refused.append(f"{exc.code} {exc} <- {json.dumps(shape)[:400]}")
                continue
            for error in reply.get("writeErrors", []):
                if error.get("code") not in _ACCEPTABLE:
                    refused.append(f"{error.get('code')} {error} <- {json.dumps(shape)[:400]}")
        await client.drop_database(store.db.name)
    finally:
        await client.close()
    return refused


def _all_shapes() -> list[query_shapes.Shape]:
    shapes = {json.dumps(s, sort_keys=True): s for s in query_shapes.load()}
    for key, shape in dict(query_shapes.RECORDER.shapes).items():
        shapes.setdefault(key, shape)
    return list(shapes.values())


def _not_a_real_mongodb_7_replica_set(url: str) -> str | None:
    """Why ``url`` cannot serve the contract check (None: it can)."""
    client: MongoClient[dict[str, Any]] = MongoClient(url, serverSelectionTimeoutMS=5000)
    try:
        build = client.admin.command("buildInfo")
        hello = client.admin.command("hello")
    except PyMongoError as exc:
        return f"{url} does not answer ({type(exc).__name__})"
    finally:
        client.close()
    if build.get("laporDevelopmentStandIn"):
        return "it is LAPOR's stand-in"
    if int(str(build.get("version", "0")).split(".")[0]) < 7:
        return f"it is MongoDB {build.get('version')}"
    if "setName" not in hello:
        return "it is not a replica set"
    return None


async def test_the_services_queries_are_recorded_as_shapes(settings: IntakeSettings) -> None:
    store = Store.from_settings(settings, "shape-test")
    try:
        await store.complaints.find_one(
            {"channel": "web", "external_id": "x1"}, {"_id": 1}, sort=[("received_at", -1)]
        )
        await store.complaints.update_one(
            {"_id": "T1", "status": {"$in": ["received"]}}, {"$set": {"n": 3}}
        )
    finally:
        await store.close()
    shapes = list(query_shapes.RECORDER.shapes.values())
    assert {
        "find": "complaints",
        "filter": {"channel": "<str>", "external_id": "<str>"},
        "sort": {"received_at": "<int>"},
        "projection": {"_id": "<int>"},
        "limit": "<int>",
        "singleBatch": "<bool>",
    } in shapes
    assert {
        "update": "complaints",
        "updates": [
            {
                "q": {"_id": "<str>", "status": {"$in": ["<str>"]}},
                "u": {"$set": {"n": "<int>"}},
                "multi": "<bool>",
                "upsert": "<bool>",
            }
        ],
    } in shapes


def test_the_committed_shapes_cover_the_services_commands() -> None:
    shapes = query_shapes.load()
    names = {next(key for key in shape if key in query_shapes.RECORDED) for shape in shapes}
    assert {"find", "insert", "update", "findAndModify"} <= names
    collections = {shape[next(iter(shape))] for shape in shapes}
    assert {"complaints", "quarantine"} <= collections
    # values are never kept, only their types (and an expression's field paths): no
    # reporter data in the repository
    leaves = [leaf for shape in shapes for key, value in shape.items() if key not in
              query_shapes.RECORDED for leaf in _leaves(value)]  # fmt: skip
    assert leaves and all(re.fullmatch(r"<\w+>|\$[a-z_.]+", leaf) for leaf in leaves)


def test_an_expression_keeps_its_operands_and_field_paths_a_value_list_its_first_item() -> None:
    query = {
        "k": {"$in": ["a", "b"]},
        "$or": [{"t": {"$exists": False}}, {"$expr": {"$gte": [{"$size": "$t"}, 2]}}],
        "$expr": {"$setIntersection": [{"$ifNull": ["$t", []]}, ["a", "b", "c"]]},
    }
    assert query_shapes.shape_of(query) == {
        "k": {"$in": ["<str>"]},
        "$or": [{"t": {"$exists": "<bool>"}}, {"$expr": {"$gte": [{"$size": "$t"}, "<int>"]}}],
        "$expr": {"$setIntersection": [{"$ifNull": ["$t", []]}, ["<str>"]]},
    }
    # outside an expression a string is data, whatever it starts with
    assert query_shapes.shape_of({"name": "$t"}) == {"name": "<str>"}


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


async def test_every_recorded_shape_is_accepted_by_the_session_server(
    servers: server_selection.Servers,
) -> None:
    shapes = _all_shapes()
    assert shapes
    assert await replay(servers.mongo_url, shapes) == []


async def test_every_recorded_shape_is_accepted_by_a_real_mongodb_7() -> None:
    url = os.environ.get("LAPOR_TEST_MONGO_URL")
    if not url:
        pytest.skip(
            "NOT CHECKED against a real MongoDB 7: set LAPOR_TEST_MONGO_URL to a MongoDB 7 "
            "replica set (see this file's docstring) to replay the recorded query shapes there"
        )
    reason = _not_a_real_mongodb_7_replica_set(url)
    if reason is not None:
        pytest.skip(f"NOT CHECKED against a real MongoDB 7: LAPOR_TEST_MONGO_URL: {reason}")
    assert await replay(url, _all_shapes()) == []
