"""In-memory indexes over mongomock's store: which documents a query can match, without a scan.

mongomock scans every document for every query. Here each index a collection declares (and
only those, as in MongoDB) keeps two maps of its key values to the store keys (the ``_id``
under which mongomock files a document):

* ``buckets``: the values as Python sees them, for equality and ``$in``. mongomock matches a
  plain value with ``==``, which agrees with ``hash`` for these types, so a dict look-up finds
  every document such a condition could match;
* ``ordered``: the values ranked as mongomock compares them (its BSON type order, then the
  value), for ranges and for sorted queries with a limit, walked in order and stopped early.

An index only narrows: the whole query is still applied to each candidate with mongomock's
own filter, so an answer is always mongomock's. What an index cannot file (an array on the way
to the field, a sub-document, bytes, NaN, ...) goes to ``others``, a candidate of every plan.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bson.objectid import ObjectId
from sortedcontainers import SortedList

# mongomock's BSON type order (filtering._get_compare_type) for the types an index files.
_NULL, _NUMBER, _STRING, _OBJECT_ID, _BOOL, _DATE = 5, 10, 15, 35, 40, 45
_RANGE_OPERATORS = frozenset({"$gt", "$gte", "$lt", "$lte"})
_MAX_COMBINATIONS = 64  # equality look-ups on a compound index: more than this, use a prefix
_MAX_FOR_SORTING = 2000  # more candidates than this: rather walk an index in sort order

Values = tuple[Any, ...]
Ranked = tuple[tuple[int, Any], ...]
# (ranked values, filing number, store key): the number keeps ties apart, so that finding
# one entry among thousands with the same value (a status, say) is a bisection
Entry = tuple[Ranked, int, Any]


def rank(value: Any) -> int | None:
    """mongomock's type rank of a value an index can file (None: it cannot)."""
    if value is None:
        return _NULL
    if isinstance(value, bool):
        return _BOOL
    if isinstance(value, int):
        return _NUMBER
    if isinstance(value, float):
        return None if math.isnan(value) else _NUMBER
    if isinstance(value, str):
        return _STRING
    if isinstance(value, ObjectId):
        return _OBJECT_ID
    if isinstance(value, datetime):
        return _DATE if value.tzinfo is None else None  # mongomock stores naive UTC
    return None


class _Top:
    """Greater than every value: the open end of a key range."""

    def __lt__(self, other: object) -> bool:
        return False

    def __gt__(self, other: object) -> bool:
        return True

    def __le__(self, other: object) -> bool:
        return other is self

    def __ge__(self, other: object) -> bool:
        return True


TOP = _Top()


def _field_values(document: Mapping[str, Any], path: str) -> tuple[list[Any], bool] | None:
    """The values ``document`` is indexed under for ``path``, and whether they are an
    array's elements; None when they cannot be filed (see the module's docstring)."""
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, dict):
            return None  # a scalar or an array on the way: left to mongomock
        if part not in value:
            return [None], False  # missing counts as null, as mongomock's {path: None} says
        value = value[part]
    if isinstance(value, list):
        if not value or any(rank(item) is None for item in value):
            return None
        return list(dict.fromkeys(value)), True
    if rank(value) is None:
        return None
    return [value], False


def index_keys(document: Mapping[str, Any], fields: list[str]) -> tuple[list[Values], bool] | None:
    """Every key ``document`` holds in an index on ``fields``, and whether an array gave
    them (None: it cannot be filed)."""
    per_field: list[list[Any]] = []
    arrays = 0
    for path in fields:
        found = _field_values(document, path)
        if found is None:
            return None
        values, is_array = found
        arrays += is_array
        per_field.append(values)
    if arrays > 1:
        return None  # parallel arrays: MongoDB refuses them (code 171), checked elsewhere
    return list(itertools.product(*per_field)), arrays == 1


def _ranked(values: Values) -> Ranked:
    return tuple((rank(value) or 0, value) for value in values)


@dataclass
class _Bounds:
    """A range of one field's values, within one type rank."""

    rank: int
    low: Any = None  # None: open
    low_inclusive: bool = True
    high: Any = None
    high_inclusive: bool = True

    def keys(self) -> tuple[tuple[Ranked], tuple[Ranked], tuple[bool, bool]]:
        """(min, max, inclusive) for ``irange`` over entries led by this field."""
        if self.low is None:
            low: Ranked = ((self.rank,),)  # type: ignore[assignment]  # before all of its rank
        elif self.low_inclusive:
            low = ((self.rank, self.low),)
        else:
            low = ((self.rank, self.low), TOP)  # type: ignore[assignment]  # after its ties
        if self.high is None:
            high: Ranked = ((self.rank, TOP),)
        elif self.high_inclusive:
            high = ((self.rank, self.high), TOP)  # type: ignore[assignment]  # after its ties
        else:
            high = ((self.rank, self.high),)
        return (low,), (high,), (True, True)


@dataclass
class Index:
    """One declared index: its documents' keys, by value and in order."""

    spec: Any  # the index's dict in mongomock's store; another object: it was remade
    documents: Any  # the store's document dict; another object: the collection was dropped
    fields: list[str]
    buckets: dict[Values, set[Any]] = field(default_factory=dict)
    ordered: Any = field(default_factory=SortedList)
    keys_of: dict[Any, list[Ranked] | None] = field(default_factory=dict)
    number_of: dict[Any, int] = field(default_factory=dict)
    numbers: Iterator[int] = field(default_factory=itertools.count)
    others: set[Any] = field(default_factory=set)  # cannot be filed: candidates of every plan
    multikey: set[Any] = field(default_factory=set)  # filed by array elements

    def reads_any(self, roots: frozenset[str] | None) -> bool:
        """Whether a write to the top-level fields ``roots`` (None: to any field) can change
        this index's entries."""
        return roots is None or any(path.split(".", 1)[0] in roots for path in self.fields)

    def has_filed(self, key: Any) -> bool:
        """Whether a document stored under ``key`` is filed here (one that is not must be
        filed, whatever the write touched)."""
        return key in self.keys_of

    def file(self, key: Any, document: Mapping[str, Any] | None) -> None:
        """File (or refile) the document stored under ``key``; None: it is gone."""
        found = None if document is None else index_keys(document, self.fields)
        # ranked, so that a change from 1 to True (== in Python) still counts as a change
        new = None if found is None else [_ranked(values) for values in found[0]]
        if key in self.keys_of:
            if document is not None and self.keys_of[key] == new and key not in self.others:
                return  # its indexed values did not change
            self.discard(key)
        if document is None or found is None:
            if document is not None:
                self.keys_of[key] = None
                self.others.add(key)
            return
        self.keys_of[key] = new
        if found[1]:
            self.multikey.add(key)
        number = self.number_of[key] = next(self.numbers)
        for values, ranked in zip(found[0], new or (), strict=True):
            self.buckets.setdefault(values, set()).add(key)
            self.ordered.add((ranked, number, key))

    def discard(self, key: Any) -> None:
        """Forget what is filed under ``key``."""
        if key not in self.keys_of:
            return
        old = self.keys_of.pop(key)
        number = self.number_of.pop(key, -1)
        self.others.discard(key)
        self.multikey.discard(key)
        for ranked in old or ():
            values = tuple(value for _, value in ranked)
            bucket = self.buckets.get(values)
            if bucket is not None:
                bucket.discard(key)
                if not bucket:
                    del self.buckets[values]
            self.ordered.discard((ranked, number, key))

    # -- what a plan would cost, and its candidates ------------------------------------------

    def equal_count(self, values: list[Values]) -> int:
        """How many entries hold one of these full keys."""
        return sum(len(self.buckets.get(v, ())) for v in values)

    def equal(self, values: list[Values]) -> Iterator[Any]:
        """Store keys filed under one of these full keys."""
        for v in values:
            yield from list(self.buckets.get(v, ()))

    def range_count(self, ranges: list[_Bounds]) -> int:
        """How many entries lie in these ranges of the leading field."""
        total = 0
        for bounds in ranges:
            low, high, _ = bounds.keys()
            total += self.ordered.bisect_right(high) - self.ordered.bisect_left(low)
        return total

    def in_ranges(self, ranges: list[_Bounds], reverse: bool = False) -> Iterator[Entry]:
        """Entries whose leading value lies in ``ranges`` (in order, or reversed)."""
        for bounds in reversed(ranges) if reverse else ranges:
            low, high, inclusive = bounds.keys()
            yield from self.ordered.irange(low, high, inclusive, reverse=reverse)

    def everything(self, reverse: bool = False) -> Iterator[Entry]:
        """Every entry, in order (or reversed)."""
        return reversed(self.ordered) if reverse else iter(self.ordered)


# -- reading a query ---------------------------------------------------------------------------


def conditions(query: Any) -> Iterator[tuple[str, Any]]:
    """(path, condition) pairs every match must meet: top level and inside a top-level $and."""
    if not isinstance(query, dict):
        return
    for path, condition in query.items():
        if path == "$and" and isinstance(condition, list):
            for part in condition:
                yield from conditions(part)
        elif isinstance(path, str) and path and not path.startswith("$"):
            yield path, condition


def equal_values(condition: Any) -> list[Any] | None:
    """The values a condition pins a field to (plain value, $eq, $in), else None."""
    if isinstance(condition, dict):
        if "$eq" in condition and rank(condition["$eq"]) is not None:
            return [condition["$eq"]]
        operand = condition.get("$in")
        if isinstance(operand, list) and all(rank(value) is not None for value in operand):
            return list(operand)
        return None
    if rank(condition) is not None:
        return [condition]
    return None


def range_of(condition: Any) -> list[_Bounds] | None:
    """The range a condition's $gt/$gte/$lt/$lte put a field in ([]: none), else None."""
    if not isinstance(condition, dict) or not _RANGE_OPERATORS & condition.keys():
        return None
    bounds: _Bounds | None = None
    for operator in sorted(_RANGE_OPERATORS & condition.keys()):
        operand = condition[operator]
        operand_rank = rank(operand)
        if operand_rank is None or operand_rank == _NULL:
            return None  # compares with null and others: left to a scan
        if bounds is None:
            bounds = _Bounds(operand_rank)
        elif bounds.rank != operand_rank:
            return []  # type bracketing: nothing filed under one rank meets both
        if operator in ("$gt", "$gte"):
            if bounds.low is None or operand > bounds.low:
                bounds.low, bounds.low_inclusive = operand, operator == "$gte"
        elif bounds.high is None or operand < bounds.high:
            bounds.high, bounds.high_inclusive = operand, operator == "$lte"
    return [bounds] if bounds is not None else None


@dataclass
class Plan:
    """Where a query's candidates come from; ``cost`` estimates how many there are."""

    index: Index
    cost: int
    keys: list[Values] | None = None  # full-key equality
    ranges: list[_Bounds] | None = None  # ranges of the leading field
    with_multikey: bool = False


def _equal_ranges(values: list[Any]) -> list[_Bounds]:
    """Ranges holding exactly ``values`` as mongomock's ``==`` sees them (1 == 1.0 == True)."""
    ranges: list[_Bounds] = []
    for value in values:
        value_rank = rank(value) or 0
        ranges.append(_Bounds(value_rank, value, True, value, True))
        if value_rank == _BOOL:
            ranges.append(_Bounds(_NUMBER, int(value), True, int(value), True))
        elif value_rank == _NUMBER and value in (0, 1):
            ranges.append(_Bounds(_BOOL, bool(value), True, bool(value), True))
    unique = {(b.rank, b.low): b for b in ranges}  # 1 and 1.0: the same range
    return sorted(unique.values(), key=lambda b: (b.rank, b.low if b.low is not None else 0))


def _plans(
    index: Index, pinned: dict[str, list[Any]], ranged: dict[str, list[_Bounds]]
) -> Plan | None:
    """The cheapest way ``index`` can narrow a query, if any."""
    leading = index.fields[0]
    if all(path in pinned for path in index.fields):
        combinations = 1
        for path in index.fields:
            combinations *= len(pinned[path])
        if combinations <= _MAX_COMBINATIONS:
            keys = list(itertools.product(*(pinned[path] for path in index.fields)))
            return Plan(index, index.equal_count(keys) + len(index.others), keys=keys)
    if leading in pinned:
        ranges = _equal_ranges(pinned[leading])
        cost = index.range_count(ranges) + len(index.others)
        return Plan(index, cost, ranges=ranges)
    if leading in ranged:
        ranges = ranged[leading]
        cost = index.range_count(ranges) + len(index.others) + len(index.multikey)
        return Plan(index, cost, ranges=ranges, with_multikey=True)
    return None


def best_plan(indexes: Iterable[Index], query: Any) -> Plan | None:
    """The cheapest plan over ``indexes`` for ``query`` (None: none helps)."""
    pinned: dict[str, list[Any]] = {}
    ranged: dict[str, list[_Bounds]] = {}
    for path, condition in conditions(query):
        values = equal_values(condition)
        if values is not None:
            if path in pinned:  # two equalities on one field: either narrows
                if len(values) < len(pinned[path]):
                    pinned[path] = values
            else:
                pinned[path] = values
            continue
        bounds = range_of(condition)
        if bounds is not None and path not in ranged:
            ranged[path] = bounds
    best: Plan | None = None
    for index in indexes:
        plan = _plans(index, pinned, ranged)
        if plan is not None and (best is None or plan.cost < best.cost):
            best = plan
    return best


@dataclass
class UnionPlan:
    """A query's top-level ``$or``, each branch narrowed by its own plan (MongoDB's index
    union): every match meets one branch, so it is among that branch's candidates."""

    plans: list[Plan]

    @property
    def cost(self) -> int:
        """How many candidates the branches give together (at most)."""
        return sum(plan.cost for plan in self.plans)


def union_plan(indexes: Iterable[Index], query: Any) -> UnionPlan | None:
    """A plan per branch of ``query``'s top-level ``$or`` (None: a branch has none)."""
    if not isinstance(query, dict):
        return None
    branches = query.get("$or")
    if not isinstance(branches, list) or not branches:
        return None
    indexes = list(indexes)
    rest = {path: condition for path, condition in query.items() if path != "$or"}
    plans: list[Plan] = []
    for branch in branches:
        plan = best_plan(indexes, {"$and": [rest, branch]})
        if plan is None:
            return None
        plans.append(plan)
    return UnionPlan(plans)


def candidates(plan: Plan | UnionPlan) -> Iterator[Any]:
    """The store keys ``plan`` yields (each once)."""
    seen: set[Any] = set()
    for one in plan.plans if isinstance(plan, UnionPlan) else [plan]:
        for key in _candidates(one):
            if key not in seen:
                seen.add(key)
                yield key


def _candidates(plan: Plan) -> Iterator[Any]:
    index = plan.index
    if plan.keys is not None:
        source: Iterable[Any] = index.equal(plan.keys)
    else:
        assert plan.ranges is not None
        source = (key for _, _, key in list(index.in_ranges(plan.ranges)))
    extra: Iterable[Any] = list(index.others)
    if plan.with_multikey:
        extra = itertools.chain(extra, list(index.multikey))
    return itertools.chain(source, extra)


def sort_walk_bounds(index: Index, query: Any) -> list[_Bounds] | None:
    """The leading field's ranges a sorted walk of ``index`` may stay within (None: all)."""
    leading = index.fields[0]
    for path, condition in conditions(query):
        if path != leading:
            continue
        values = equal_values(condition)
        if values is not None:
            return _equal_ranges(values)
        bounds = range_of(condition)
        if bounds is not None:
            return bounds
    return None


MAX_FOR_SORTING = _MAX_FOR_SORTING
