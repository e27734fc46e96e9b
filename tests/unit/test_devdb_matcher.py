"""Compiled query filters (lapor_devdb.matcher) answer exactly as mongomock's filter_applies.

Every supported operator is held to mongomock on many random documents (missing fields,
None, arrays, mixed types, naive and aware datetimes, dotted paths through documents and
arrays), and so is every filter shape LAPOR sends (tests/query_shapes.json) with random
values. An error counts as an answer: both must raise the same one.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from bson.objectid import ObjectId
from mongomock import filtering

from lapor_devdb import engine, matcher
from services.verification.handlers import similar_to
from tests import query_shapes

pytestmark = pytest.mark.unit

_T0 = datetime(2026, 11, 1)
_WORDS = ["jalan", "lubang", "banjir", "sampah", "lampu", "macet", "air", "got"]
_FIELDS = ["a", "b", "arr", "tags"]
_PATHS = ["a", "b", "arr", "tags", "a.x", "a.x.y", "arr.x", "arr.1", "tags.0", "nope.x"]
_OBJECT_ID = ObjectId("65a000000000000000000001")


def _outcome(test: Callable[[], Any]) -> tuple[Any, ...]:
    """What a call answered, or the error it raised (its type and message)."""
    try:
        return ("answered", test())
    except Exception as exc:
        return ("raised", type(exc).__name__, str(exc))


def _scalar(rng: random.Random) -> Any:
    return rng.choice(
        [
            lambda: None,
            lambda: rng.randint(-2, 3),
            lambda: rng.choice([0.5, 1.0, 2.5, -1.5]),
            lambda: rng.choice([True, False]),
            lambda: rng.choice(_WORDS[:4]),
            lambda: "",
            lambda: _T0 + timedelta(days=rng.randint(-3, 3)),
            lambda: (_T0 + timedelta(days=rng.randint(-3, 3))).replace(tzinfo=UTC),
            lambda: _OBJECT_ID,
            lambda: str(_OBJECT_ID),
            lambda: b"x",
        ]
    )()


def _value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth < 2 and roll < 0.2:
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if depth < 2 and roll < 0.35:
        return {
            key: _value(rng, depth + 1) for key in rng.sample(["x", "y", "1"], rng.randint(0, 2))
        }
    return _scalar(rng)


def _document(rng: random.Random) -> dict[str, Any]:
    document: dict[str, Any] = {"_id": rng.randint(0, 5)}
    for field in _FIELDS:
        if rng.random() < 0.75:
            document[field] = _value(rng)
    if rng.random() < 0.5:
        document["text_terms"] = rng.choice(
            [rng.sample(_WORDS, rng.randint(0, 6)), None, "jalan", [1, "jalan"], {"x": 1}]
        )
    return document


def _operand(rng: random.Random) -> Any:
    if rng.random() < 0.15:
        return [_scalar(rng) for _ in range(rng.randint(0, 2))]
    return _scalar(rng)


def _condition(rng: random.Random) -> Any:
    """A random condition on one field, of the operators the matcher compiles."""
    roll = rng.random()
    if roll < 0.2:
        return _operand(rng)  # equality
    operators: dict[str, Callable[[], Any]] = {
        "$eq": lambda: _operand(rng),
        "$ne": lambda: _operand(rng),
        "$in": lambda: [_scalar(rng) for _ in range(rng.randint(0, 4))],
        "$nin": lambda: [_scalar(rng) for _ in range(rng.randint(0, 4))],
        "$gt": lambda: _operand(rng),
        "$gte": lambda: _operand(rng),
        "$lt": lambda: _operand(rng),
        "$lte": lambda: _operand(rng),
        "$exists": lambda: rng.choice([True, False, 0, 1]),
    }
    names = rng.sample(sorted(operators), rng.choice([1, 1, 1, 2]))
    return {name: operators[name]() for name in names}


def _query(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    query: dict[str, Any] = {}
    for _ in range(rng.randint(1, 3)):
        roll = rng.random()
        if depth < 2 and roll < 0.15:
            operator = rng.choice(["$and", "$or", "$nor"])
            query[operator] = [_query(rng, depth + 1) for _ in range(rng.randint(1, 3))]
        elif roll < 0.25:
            terms = sorted(rng.sample(_WORDS, rng.randint(1, 5)))
            query["$expr"] = similar_to(terms, rng.choice([0.3, 0.5, 0.6, 0.8]))
        else:
            query[rng.choice(_PATHS)] = _condition(rng)
    return query


def _assert_same(query: dict[str, Any], documents: list[dict[str, Any]]) -> None:
    test = matcher.compiled(query)
    assert test is not None, query
    for document in documents:
        expected = _outcome(functools.partial(filtering.filter_applies, query, document))
        assert _outcome(functools.partial(test, document)) == expected, (query, document)


@pytest.mark.parametrize("seed", range(40))
def test_random_filters_answer_as_mongomock_on_random_documents(seed: int) -> None:
    rng = random.Random(seed)
    documents = [_document(rng) for _ in range(60)]
    for _ in range(40):
        _assert_same(_query(rng), documents)


def test_each_operator_answers_as_mongomock_on_missing_null_arrays_and_mixed_types() -> None:
    rng = random.Random(7)
    documents = [_document(rng) for _ in range(300)] + [
        {},
        {"a": None},
        {"a": []},
        {"a": [None]},
        {"a": [[1, 2], 1]},
        {"a": {"x": None}},
        {"a": [{"x": 1}, {"y": 2}]},
        {"a": [{"x": [1, 2]}, 3]},
        {"a": 5},
        {"arr": [1, "1", 1.0, True]},
    ]
    operands: list[Any] = [None, 1, 1.0, True, "1", [1, 2], [], [None], _T0, _OBJECT_ID]
    for path in ["a", "a.x", "arr", "arr.0"]:
        for operand in operands:
            _assert_same({path: operand}, documents)
            for name in ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$exists"]:
                _assert_same({path: {name: operand}}, documents)
            values = operand if isinstance(operand, list) else [operand]
            _assert_same({path: {"$in": values}}, documents)
            _assert_same({path: {"$nin": values}}, documents)


def test_mongodbs_null_and_missing_rules_hold() -> None:
    def matches(query: dict[str, Any], document: dict[str, Any]) -> bool:
        test = matcher.compiled(query)
        assert test is not None
        return test(document)

    assert matches({"f": None}, {})  # null matches a missing field
    assert matches({"f": None}, {"f": None})
    assert not matches({"f": None}, {"f": 0})
    assert matches({"f": {"$ne": "x"}}, {})  # $ne matches a missing field
    assert not matches({"f": {"$ne": "x"}}, {"f": ["y", "x"]})  # ... and no array holding x
    assert matches({"f": {"$in": [None, "x"]}}, {})
    assert not matches({"f": {"$in": ["x"]}}, {})
    assert matches({"f": {"$nin": ["x"]}}, {})
    assert matches({"f": "x"}, {"f": ["y", "x"]})  # an array holds it
    assert matches({"f.g": 1}, {"f": [{"g": 2}, {"g": 1}]})
    assert not matches({"f": {"$gt": 1}}, {"f": "2"})  # type bracketing
    assert not matches({"f": {"$lt": _T0}}, {"f": 1})
    assert matches({"f": {"$gte": 1}}, {"f": 1.5})  # numbers across types


def test_verifications_duplicate_look_up_answers_as_mongomock() -> None:
    rng = random.Random(11)
    statuses = ["received", "verified", "closed"]
    documents = []
    for i in range(400):
        document: dict[str, Any] = {
            "_id": f"C{i}",
            "status": rng.choice(statuses),
            "received_at": _T0 + timedelta(hours=rng.randint(-200, 200)),
            "dedup_keys": rng.sample(["k1", "k2", "k3", "k4"], rng.randint(0, 2)),
            "reporter": {"fingerprints": rng.sample(["f1", "f2"], rng.randint(0, 2))},
        }
        if rng.random() < 0.8:
            document["text_terms"] = sorted(rng.sample(_WORDS, rng.randint(0, 7)))
        documents.append(document)
    terms = sorted(rng.sample(_WORDS, 5))
    like = [
        {"dedup_keys": {"$in": ["k1", "k2"]}, "$expr": similar_to(terms, 0.6)},
        {
            "reporter.fingerprints": {"$in": ["f1"]},
            "$or": [{"text_terms": {"$exists": False}}, {"$expr": similar_to(terms, 0.4)}],
        },
    ]
    common = {
        "_id": {"$ne": "C3"},
        "status": {"$in": ["received", "verified"]},
        "received_at": {"$gte": _T0 - timedelta(days=5), "$lte": _T0 + timedelta(days=5)},
    }
    for query in [common | like[0], common | {"$or": like}]:
        _assert_same(query, documents)
        test = matcher.compiled(query)
        assert test is not None
        assert any(test(document) for document in documents)  # it does find some


def test_expr_errors_and_missing_fields_answer_as_mongomock() -> None:
    documents: list[dict[str, Any]] = [
        {},
        {"text_terms": None},
        {"text_terms": "jalan"},
        {"text_terms": {"x": 1}},
        {"text_terms": [1, 1.0, "jalan", True]},
        {"text_terms": ["jalan", "jalan", "got"]},
        {"n": "1"},
        {"n": 2},
        {"n": None},
    ]
    expressions: list[Any] = [
        similar_to(["got", "jalan"], 0.5),
        {"$gte": [{"$size": "$text_terms"}, 1]},
        {"$gte": [{"$size": ["$text_terms"]}, 1]},
        {"$gte": [{"$add": ["$n", 1]}, 2]},
        {"$gte": [{"$multiply": ["$n", 2, 0.5]}, 2]},
        {"$eq": [{"$add": ["$n", 1]}, None]},  # a missing operand makes null
        {"$eq": [{"$size": {"$setIntersection": ["$text_terms", ["jalan", "got"]]}}, 2]},
        {"$lt": ["$n", 3]},
        {"$eq": [{"$ifNull": ["$n", "none"]}, "none"]},
        {"$ne": ["$n", None]},
        {"$gt": [{"$size": {"$setIntersection": ["$text_terms", [1, "jalan"]]}}, 0]},
        {"$size": {"$setIntersection": [{"$ifNull": ["$text_terms", []]}, ["got"], ["got"]]}},
        {"$size": {"$setIntersection": "$text_terms"}},
        {"$ifNull": ["$nope", "$also_missing"]},
        "$n",
        True,
        0,
    ]
    for expression in expressions:
        _assert_same({"$expr": expression}, documents)
        _assert_same({"$or": [{"n": {"$exists": True}}, {"$expr": expression}]}, documents)


# -- the shapes LAPOR sends -------------------------------------------------------------------


def _filters_of(command: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for key in ("filter", "query"):
        if isinstance(command.get(key), dict):
            yield command[key]
    for stage in command.get("pipeline") or []:
        if "$match" in stage:
            yield stage["$match"]
    for statement in (command.get("updates") or []) + (command.get("deletes") or []):
        yield statement["q"]


_SHAPES = sorted(
    {repr(f): f for c in query_shapes.load() for f in _filters_of(c)}.items(),
    key=lambda item: item[0],
)
# operators the matcher leaves to mongomock, so that a shape holding one must fall back
_LEFT_TO_MONGOMOCK = ("$regex", "$all", "$size")


def _instance(shape: Any, rng: random.Random, in_expression: bool = False) -> Any:
    """A random filter of ``shape`` (from tests/query_shapes.json)."""
    if isinstance(shape, dict):
        return {
            key: _instance(value, rng, in_expression or key == "$expr")
            for key, value in shape.items()
        }
    if isinstance(shape, list):
        if not shape:
            return []
        if in_expression and len(shape) != 1:
            return [_instance(item, rng, in_expression) for item in shape]
        if shape and isinstance(shape[0], dict):  # $or / $and branches
            return [_instance(item, rng, in_expression) for item in shape]
        return [_instance(shape[0], rng, in_expression) for _ in range(rng.randint(0, 3))]
    if shape == "<float>" and in_expression:
        return rng.choice([1.4, 1.6, 0.4, 0.6])
    if shape == "<int>" and in_expression:
        return rng.randint(1, 6)
    return _placeholder(shape, rng)


def _placeholder(shape: Any, rng: random.Random) -> Any:
    makers: dict[str, Callable[[], Any]] = {
        "<str>": lambda: rng.choice(_WORDS[:3]),
        "<int>": lambda: rng.randint(0, 2),
        "<float>": lambda: rng.choice([0.5, 1.5]),
        "<bool>": lambda: rng.choice([True, False]),
        "<NoneType>": lambda: None,
        "<datetime>": lambda: _T0 + timedelta(days=rng.randint(-2, 2)),
        "<ObjectId>": lambda: _OBJECT_ID,
        "<bytes>": lambda: rng.choice([b"x", b"y"]),
    }
    maker = makers.get(shape)
    return maker() if maker else shape


def _paths(query: Any) -> Iterator[str]:
    if isinstance(query, dict):
        for key, value in query.items():
            if not key.startswith("$"):
                yield key
            yield from _paths(value)
    elif isinstance(query, list):
        for item in query:
            yield from _paths(item)


def _documents_for(query: dict[str, Any], rng: random.Random) -> list[dict[str, Any]]:
    """Random documents holding (or not) the fields ``query`` names, with values of many types."""
    paths = sorted(set(_paths(query)) | {"text_terms"})
    documents = []
    for _ in range(40):
        document: dict[str, Any] = {}
        for path in paths:
            if rng.random() < 0.2:
                continue
            *parents, last = path.split(".")
            target = document
            for parent in parents:
                existing = target.setdefault(parent, {})
                if not isinstance(existing, dict):
                    break
                target = existing
            else:
                target[last] = rng.choice(
                    [
                        _placeholder("<str>", rng),
                        [_placeholder("<str>", rng) for _ in range(rng.randint(0, 3))],
                        _placeholder("<datetime>", rng),
                        _placeholder("<bool>", rng),
                        _placeholder("<int>", rng),
                        None,
                        sorted(rng.sample(_WORDS, rng.randint(0, 5))),
                    ]
                )
        documents.append(document)
    return documents


def _query_operators(query: Any) -> Iterator[str]:
    """The operators of ``query`` outside its ``$expr`` (whose ``$size`` is another one)."""
    if isinstance(query, dict):
        for key, value in query.items():
            if key.startswith("$"):
                yield key
            if key != "$expr":
                yield from _query_operators(value)
    elif isinstance(query, list):
        for item in query:
            yield from _query_operators(item)


@pytest.mark.parametrize("shape", [shape for _, shape in _SHAPES], ids=range(len(_SHAPES)))
def test_every_recorded_filter_shape_answers_as_mongomock(shape: dict[str, Any]) -> None:
    rng = random.Random(repr(shape))
    left_to_mongomock = bool(set(_query_operators(shape)) & set(_LEFT_TO_MONGOMOCK))
    for _ in range(10):
        query = _instance(shape, rng)
        if left_to_mongomock:
            assert matcher.compiled(query) is None
            continue
        _assert_same(query, _documents_for(query, rng))


def test_the_duplicate_look_up_shapes_are_compiled() -> None:
    expressions = [shape for key, shape in _SHAPES if "$setIntersection" in key]
    assert expressions  # the recorded shapes still hold verification's look-up
    for shape in expressions:
        assert matcher.compiled(_instance(shape, random.Random(1))) is not None


# -- what is left to mongomock -------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        {"a": {"$regex": "x"}},
        {"a": {"$all": ["x"]}},
        {"a": {"$size": 1}},
        {"a": {"$not": {"$gt": 1}}},
        {"a": {"$elemMatch": {"x": 1}}},
        {"a": {"$type": "string"}},
        {"a": {"x": 1}},  # an embedded document compared by value
        {"a": {}},
        {"a": {"$gt": 1, "x": 1}},
        {"a..b": 1},
        {"$or": []},
        {"$or": {"a": 1}},
        {"$where": "true"},
        {"$text": {"$search": "x"}},
        {"$expr": {"$concat": ["$a", "b"]}},
        {"$expr": "$$ROOT"},
        {"$expr": {"$ifNull": ["$a", "$b", 1]}},
        {"$expr": {"$gte": ["$a"]}},
        {"$expr": {"a": 1}},
        {"a": 1, "$or": [{"b": {"$regex": "x"}}]},  # one part unsupported: the whole filter
    ],
)
def test_what_is_not_reproduced_exactly_is_left_to_mongomock(query: dict[str, Any]) -> None:
    assert matcher.compiled(query) is None


def test_an_expr_is_left_to_mongomock_when_another_evaluator_is_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    query = {"$expr": similar_to(["jalan"], 0.5)}
    assert matcher.compiled(query) is not None
    monkeypatch.setattr(matcher, "_registered_expression_parsers", [lambda *args, **kw: True])
    assert matcher.compiled(query) is None


def test_datetimes_with_and_without_a_zone_fail_alike() -> None:
    aware = _T0.replace(tzinfo=timezone(timedelta(hours=7)))
    documents: list[dict[str, Any]] = [{"t": _T0}, {"t": aware}, {"t": [_T0, aware]}, {}]
    for operand in (_T0, aware):
        for name in ("$gt", "$lte", "$eq", "$ne"):
            _assert_same({"t": {name: operand}}, documents)
        _assert_same({"t": operand}, documents)


# -- in the engine ----------------------------------------------------------------------------


def _engine_with(documents: list[dict[str, Any]]) -> engine._Engine:
    stand_in = engine._Engine()
    stand_in.execute(
        "db",
        {"createIndexes": "c", "indexes": [{"key": {"status": 1}, "name": "status"}]},
    )
    stand_in.execute("db", {"insert": "c", "documents": documents})
    return stand_in


def test_a_command_testing_many_documents_compiles_its_filter_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stand_in = _engine_with([{"_id": i, "status": "open", "n": i} for i in range(50)])
    compiled: list[Any] = []
    real_compiled = matcher.compiled

    def compiling(query: Any) -> Any:
        compiled.append(query)
        return real_compiled(query)

    calls = 0
    real_applies = engine._filter_applies

    def applying(query: Any, document: Any) -> bool:
        nonlocal calls
        calls += 1
        return bool(real_applies(query, document))

    monkeypatch.setattr(matcher, "compiled", compiling)
    monkeypatch.setattr(engine, "_filter_applies", applying)
    query = {"status": "open", "n": {"$gte": 10, "$ne": 20}}
    reply = stand_in.execute("db", {"find": "c", "filter": query})
    assert [d["_id"] for d in reply["cursor"]["firstBatch"]] == [
        i for i in range(10, 50) if i != 20
    ]
    assert len(compiled) == 1
    assert calls == engine._COMPILE_AFTER  # mongomock's filter only while warming up


def test_a_small_look_up_compiles_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    stand_in = _engine_with([{"_id": i, "status": f"s{i % 10}"} for i in range(30)])
    monkeypatch.setattr(matcher, "compiled", lambda query: pytest.fail("compiled"))
    reply = stand_in.execute("db", {"find": "c", "filter": {"status": "s3"}})
    assert [d["_id"] for d in reply["cursor"]["firstBatch"]] == [3, 13, 23]


def test_a_filter_left_to_mongomock_still_answers_in_the_engine() -> None:
    stand_in = _engine_with([{"_id": i, "status": "open", "title": f"t{i}"} for i in range(20)])
    query = {"status": "open", "title": {"$regex": "^t1"}}
    reply = stand_in.execute("db", {"find": "c", "filter": query})
    assert sorted(d["_id"] for d in reply["cursor"]["firstBatch"]) == [1, *range(10, 20)]
