"""The stand-in's in-memory indexes: what they file, and which plan a query gets."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from lapor_devdb.indexes import (
    Index,
    best_plan,
    candidates,
    index_keys,
    range_of,
    rank,
    union_plan,
)

pytestmark = pytest.mark.unit


def _index(fields: list[str], documents: dict[Any, dict[str, Any]]) -> Index:
    index = Index({"key": [(f, 1) for f in fields]}, documents, fields)
    for key, document in documents.items():
        index.file(key, document)
    return index


def test_values_rank_in_mongomocks_bson_order() -> None:
    ordered = [None, -1, 2.5, "a", "b", True, datetime(2026, 1, 1)]
    ranks = [rank(value) for value in ordered]
    assert ranks == sorted(ranks)
    assert rank(float("nan")) is None and rank({"a": 1}) is None and rank([1]) is None


def test_what_an_index_files() -> None:
    assert index_keys({"a": 1}, ["a"]) == ([(1,)], False)
    assert index_keys({}, ["a"]) == ([(None,)], False)  # missing counts as null
    assert index_keys({"a": ["x", "y", "x"]}, ["a"]) == ([("x",), ("y",)], True)
    assert index_keys({"a": {"b": 1}}, ["a.b"]) == ([(1,)], False)
    assert index_keys({"a": [{"b": 1}]}, ["a.b"]) is None  # an array on the way: left over
    assert index_keys({"a": [1], "b": [2]}, ["a", "b"]) is None  # parallel arrays


def test_a_changed_value_is_refiled_even_when_python_calls_it_equal() -> None:
    documents: dict[Any, dict[str, Any]] = {1: {"a": 1}}
    index = _index(["a"], documents)
    documents[1] = {"a": True}  # 1 == True, but another BSON type
    index.file(1, documents[1])
    assert [entry[0] for entry in index.ordered] == [((40, True),)]


def test_ranges_stay_within_one_type() -> None:
    assert range_of({"$gte": 1, "$lt": 5}) is not None
    assert range_of({"$gt": 1, "$lt": "z"}) == []  # no plain value is both
    assert range_of({"$lte": None}) is None  # compares with null: left to a scan
    assert range_of({"$ne": 1}) is None


def test_the_cheapest_index_serves_the_query() -> None:
    documents = {
        n: {"status": "open", "keys": [f"k{n}"], "at": datetime(2026, 1, 1, n % 24)}
        for n in range(200)
    }
    by_status = _index(["status"], documents)
    by_keys = _index(["keys"], documents)
    by_time = _index(["at"], documents)
    query = {"status": "open", "keys": {"$in": ["k3", "k4"]}, "at": {"$gte": datetime(2026, 1, 1)}}
    plan = best_plan([by_status, by_keys, by_time], query)
    assert plan is not None and plan.index is by_keys and plan.cost == 2
    assert sorted(candidates(plan)) == [3, 4]
    in_range = best_plan([by_status, by_time], {"at": {"$lt": datetime(2026, 1, 1, 1)}})
    assert in_range is not None and in_range.index is by_time
    assert sorted(candidates(in_range)) == [0, 24, 48, 72, 96, 120, 144, 168, 192]
    assert best_plan([by_status], {"title": "x"}) is None


def test_a_compound_index_serves_a_full_key_or_its_prefix() -> None:
    documents = {
        n: {"channel": "web" if n % 2 else "sms", "external_id": f"e{n}"} for n in range(50)
    }
    index = _index(["channel", "external_id"], documents)
    full = best_plan([index], {"channel": "web", "external_id": "e7"})
    assert full is not None and list(candidates(full)) == [7]
    prefix = best_plan([index], {"channel": "sms"})
    assert prefix is not None and len(list(candidates(prefix))) == 25


def test_a_top_level_or_is_served_by_the_union_of_its_branches_plans() -> None:
    documents = {
        n: {"status": "open", "keys": [f"k{n}"], "who": f"w{n % 10}", "at": n} for n in range(200)
    }
    by_status = _index(["status"], documents)
    by_keys = _index(["keys"], documents)
    by_who = _index(["who"], documents)
    query = {
        "status": "open",
        "at": {"$gte": 100},  # the rest of the query narrows no branch here (no index on at)
        "$or": [{"keys": {"$in": ["k3", "k150"]}}, {"who": "w7", "$expr": {"$gt": ["$at", 1]}}],
    }
    union = union_plan([by_status, by_keys, by_who], query)
    assert union is not None and [p.index for p in union.plans] == [by_keys, by_who]
    assert union.cost == 2 + 20
    assert sorted(candidates(union)) == sorted({3, 150} | {n for n in range(200) if n % 10 == 7})
    # A branch no index serves: no union (the top-level plan serves it, or a scan).
    assert union_plan([by_keys], query) is None
    with_status = union_plan([by_status, by_keys], query)  # the second branch by the status
    assert with_status is not None and [p.index for p in with_status.plans] == [by_keys, by_status]
    assert with_status.cost == 2 + 200  # dearer than the status alone: the engine takes that
    assert union_plan([by_keys, by_who], {"keys": "k1"}) is None
