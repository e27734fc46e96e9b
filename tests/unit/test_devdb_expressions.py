"""The stand-in's ``$setIntersection`` (mongomock has none) and verification's ``$expr``."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest
from mongomock import filtering

from lapor_devdb import engine  # noqa: F401 - installs the stand-in's expressions
from lapor_devdb.errors import _CommandError
from lapor_devdb.expressions import NOTHING, parse_expression, set_intersection
from services.verification.checks import jaccard
from services.verification.handlers import similar_to

pytestmark = pytest.mark.unit


def test_set_intersection_keeps_what_every_array_holds_once() -> None:
    assert set_intersection([["a", "b", "b", "c"], ["c", "b", "x"]]) == ["b", "c"]
    assert set_intersection([["a", "b"], ["b"], ["b", "a"]]) == ["b"]
    assert set_intersection([["a"], []]) == []
    assert set_intersection([["a", "b"]]) == ["a", "b"]
    assert set_intersection([]) == []


def test_set_intersection_compares_as_bson_does() -> None:
    assert set_intersection([[1, 2.0, "2"], [1.0, 2]]) == [1, 2.0]  # numbers across types
    assert set_intersection([[True, 1], [1]]) == [1]  # true is no number
    assert set_intersection([[[1, 2], {"a": 1}], [{"a": 1}, [1, 2]]]) == [[1, 2], {"a": 1}]
    assert set_intersection([[None, "a"], [None]]) == [None]


def test_a_null_or_missing_operand_gives_null_and_a_non_array_is_error_17047() -> None:
    assert set_intersection([["a"], None]) is None
    assert set_intersection([NOTHING, ["a"]]) is None
    assert set_intersection([None, "not an array"]) is None  # the server stops at the null
    with pytest.raises(_CommandError) as refused:
        set_intersection([["a"], "not an array", None])
    assert refused.value.code == 17047
    assert "must be arrays" in str(refused.value) and "string" in str(refused.value)


def _matches(query: dict[str, Any], document: dict[str, Any]) -> bool:
    return bool(filtering.filter_applies(query, document))


def test_the_query_filter_evaluates_it_inside_expr() -> None:
    size = {"$size": {"$setIntersection": [{"$ifNull": ["$t", []]}, ["a", "b"]]}}
    two = {"$expr": {"$eq": [size, 2]}}
    assert _matches(two, {"t": ["b", "c", "a"]})
    assert not _matches(two, {"t": ["b", "c"]})
    assert not _matches(two, {})  # missing: $ifNull gives the empty array
    in_or = {"$or": [{"u": 1}, two]}
    assert _matches(in_or, {"t": ["a", "b"]}) and _matches(in_or, {"u": 1})
    assert not _matches(in_or, {"t": ["a"]})
    # Without $ifNull a missing field makes the intersection null, and $size refuses it.
    with pytest.raises(Exception, match=r"\$size must be an array"):
        _matches({"$expr": {"$size": {"$setIntersection": ["$t", ["a"]]}}}, {})


def _similar(first: frozenset[str], second: frozenset[str], threshold: float) -> bool:
    expression = similar_to(sorted(second), threshold)
    return bool(parse_expression(expression, {"text_terms": sorted(first)}))


def test_verifications_similarity_test_is_jaccard_at_the_threshold() -> None:
    rng = random.Random(11)
    vocabulary = [f"kata{n}" for n in range(40)]
    sets = [frozenset(rng.sample(vocabulary, rng.randint(1, 25))) for _ in range(120)]
    sets += [s - {min(s)} | {"lain"} for s in sets[:40]]  # near-identical variants
    for threshold in (0.8, 0.5):
        for first, second in itertools.combinations(sets[:90], 2):
            similarity = jaccard(first, second)
            assert _similar(first, second, threshold) == (similarity + 1e-9 >= threshold)
        assert not parse_expression(similar_to(sorted(sets[0]), threshold), {})


def test_pairs_exactly_at_the_threshold_pass_despite_rounding() -> None:
    # 1.9 * 9 < 0.9 * 19 in floating point: without the slack, sets of 9 and 10 terms
    # sharing 9 (Jaccard 0.9 exactly) would fail the server's test, a duplicate unnoticed.
    at_threshold = 0
    for threshold in (0.2, 0.4, 0.5, 0.8, 0.9):
        for size_a, size_b in itertools.product(range(1, 16), repeat=2):
            for shared in range(1, min(size_a, size_b) + 1):
                first = frozenset(f"s{n}" for n in range(shared)) | {
                    f"a{n}" for n in range(size_a - shared)
                }
                second = frozenset(f"s{n}" for n in range(shared)) | {
                    f"b{n}" for n in range(size_b - shared)
                }
                similarity = jaccard(first, second)
                if abs(similarity - threshold) < 1e-9:
                    at_threshold += 1
                    assert _similar(first, second, threshold), (size_a, size_b, shared)
                elif similarity < threshold:
                    assert not _similar(first, second, threshold), (size_a, size_b, shared)
    assert at_threshold > 50
