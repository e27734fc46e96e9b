"""Query filters compiled once into Python predicates, with mongomock's answers.

mongomock's ``filter_applies`` interprets the whole filter again for every document it
tests (and an ``$expr`` through a new expression parser each time). Verification's
duplicate look-up tests many candidates with one filter, so the stand-in spends most of its
time there. :func:`compiled` turns a filter of the shapes LAPOR sends into closures that
give exactly ``filter_applies``'s answer, mongomock's quirks included (the stand-in's
answers are mongomock's, and must stay so): the same candidates for a dotted path, the same
``None`` / missing rules, the same type bracketing, the same errors in the same order.

Handled: field conditions by equality (including array contains), ``$eq`` ``$ne`` ``$in``
``$nin`` ``$gt`` ``$gte`` ``$lt`` ``$lte`` ``$exists``; ``$and`` ``$or`` ``$nor``
``$comment``; ``$expr`` with field paths, literals, ``$eq`` ``$ne`` ``$gt`` ``$gte``
``$lt`` ``$lte`` ``$add`` ``$multiply`` ``$size`` ``$ifNull`` ``$setIntersection``
(verification's :func:`~services.verification.handlers.similar_to`). Anything else (a
regex, ``$all``, ``$size``, ``$not``, an embedded document as a value, ``$$`` variables,
...) makes :func:`compiled` answer None: the caller keeps ``filter_applies`` for the whole
filter.
"""

from __future__ import annotations

import functools
import numbers
import operator
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from bson.objectid import ObjectId
from mongomock import OperationFailure, filtering, helpers

from lapor_devdb import expressions

Document = Mapping[str, Any]
Predicate = Callable[[Document], bool]
_ValueTest = Callable[[Any], bool]
_Expression = Callable[[Document], Any]

NOTHING: Any = expressions.NOTHING
_RE_TYPES: tuple[type, ...] = filtering._RE_TYPES
_bson_compare: Callable[..., bool] = filtering.bson_compare
_iter_key_candidates: Callable[[str, Any], Any] = filtering.iter_key_candidates
_get_value_by_dot: Callable[..., Any] = helpers.get_value_by_dot
_registered_expression_parsers: list[Any] = filtering._Filterer.parse_expression

_SEQUENCE = (list, tuple)
_ORDERING: dict[str, Callable[[Any, Any], bool]] = {
    "$gt": operator.gt,
    "$gte": operator.ge,
    "$lt": operator.lt,
    "$lte": operator.le,
}
_NEGATIVE = frozenset({"$ne", "$nin"})
_NO_DOCUMENT: dict[str, Any] = {}  # what mongomock walks into under a missing field; never written


class _Unsupported(Exception):
    """A part of a filter that is left to mongomock's ``filter_applies``."""


def compiled(query: Any) -> Predicate | None:
    """A predicate giving ``filter_applies(query, document)``; None if ``query`` has a part
    this module does not reproduce exactly (the caller then keeps ``filter_applies``)."""
    try:
        return _query(query)
    except _Unsupported:
        return None


# -- the query language ------------------------------------------------------------------------


def _query(query: Any) -> Predicate:
    if type(query) is not dict:
        raise _Unsupported
    tests: list[Predicate] = []
    for key, condition in query.items():
        if not isinstance(key, str):
            raise _Unsupported
        if key == "$comment":
            continue
        if key in ("$and", "$or", "$nor"):
            tests.append(_logical(key, condition))
        elif key == "$expr":
            tests.append(_expr(condition))
        elif key.startswith("$"):
            raise _Unsupported  # mongomock refuses it, or handles it its own way
        else:
            tests.append(_field(key, condition))
    return _every(tests)


def _every(tests: list[Predicate]) -> Predicate:
    if not tests:
        return lambda document: True
    if len(tests) == 1:
        return tests[0]

    def every(document: Document) -> bool:
        # in the filter's order, as mongomock: the same errors come first; a plain loop, as
        # all() with a generator costs more than the tests themselves here
        for test in tests:  # noqa: SIM110
            if not test(document):
                return False
        return True

    return every


def _logical(operator_name: str, branches: Any) -> Predicate:
    if not isinstance(branches, list) or not branches:
        raise _Unsupported  # mongomock's error, or its iteration of something else
    tests = [_query(branch) for branch in branches]
    if operator_name == "$or":
        return lambda document: any(test(document) for test in tests)
    if operator_name == "$and":
        return _every(tests)
    return lambda document: not any(test(document) for test in tests)


def _field(path: str, condition: Any) -> Predicate:
    """``{path: condition}``, following mongomock's loop over the path's candidate values."""
    parts = path.split(".")
    if not all(parts):
        raise _Unsupported  # an empty part: mongomock's walk differs there
    test = _condition(condition)
    negative = isinstance(condition, dict) and bool(_NEGATIVE & condition.keys())
    positive = not isinstance(condition, dict) or bool(condition.keys() - _NEGATIVE)
    absent_passes = condition == {"$exists": False}

    def over(candidates: Any) -> bool:
        # mongomock's filter_applies for one field, given iter_key_candidates' values
        if absent_passes and not candidates:
            return True
        is_match = False
        has_candidates = False
        for value in candidates:
            has_candidates |= value is not NOTHING
            is_match = test(value)
            if negative and not is_match:
                return False
            if is_match and not negative:
                break
        return bool(is_match or not (has_candidates or positive))

    head, last = parts[:-1], parts[-1]
    rests = [".".join(parts[i:]) for i in range(len(parts))]

    def match(document: Document) -> bool:
        # Through documents the path has exactly one candidate, and the loop above comes to
        # test(value); arrays (or anything else) on the way go through mongomock's own walk.
        value: Any = document
        for depth, part in enumerate(head):
            if type(value) is dict:
                value = value.get(part, _NO_DOCUMENT)
            else:
                return over(_iter_key_candidates(rests[depth], value))
        if type(value) is dict:
            return bool(test(value.get(last, NOTHING)))
        return over(_iter_key_candidates(last, value))

    return match


def _condition(condition: Any) -> _ValueTest:
    """A test of one candidate value, as mongomock's loop makes it for ``condition``."""
    if isinstance(condition, dict):
        if not condition or not all(isinstance(k, str) and k.startswith("$") for k in condition):
            raise _Unsupported  # an embedded document compared by value
        tests = [_operator(name, operand) for name, operand in condition.items()]
        if len(tests) == 1:
            return tests[0]
        return lambda value: all(test(value) for test in tests)
    if isinstance(condition, _RE_TYPES):
        raise _Unsupported
    return _equals(condition)


def _equals(wanted: Any) -> _ValueTest:
    """``{path: wanted}``: mongomock's ``in`` for arrays (with ObjectId's string), ``==`` else."""
    if isinstance(wanted, ObjectId):
        as_string = str(wanted)

        def object_id(value: Any) -> bool:
            if isinstance(value, _SEQUENCE):
                return wanted in value or wanted == value or as_string in value
            return bool(value == wanted)

        return object_id
    if wanted is None:
        return lambda value: (
            (None in value or value == wanted)
            if isinstance(value, _SEQUENCE)
            else (value is None or value is NOTHING or bool(value == wanted))
        )

    def equals(value: Any) -> bool:
        if isinstance(value, _SEQUENCE):
            return wanted in value or wanted == value
        return bool(value == wanted)

    return equals


def _operator(name: str, operand: Any) -> _ValueTest:
    if name == "$eq":
        return _expanded(lambda value: _operator_eq(value, operand), operand)
    if name == "$ne":
        return _expanded(lambda value: not _operator_eq(value, operand), operand, negative=True)
    if name == "$in":
        return _in(operand)
    if name == "$nin":
        among = _in(operand)
        return lambda value: not among(value)
    if name in _ORDERING:
        return _ordering(_ORDERING[name], operand)
    if name == "$exists":
        wanted = bool(operand)
        return lambda value: wanted == (value is not NOTHING)
    raise _Unsupported


def _operator_eq(value: Any, operand: Any) -> bool:
    if value is NOTHING and operand is None:
        return True
    return bool(value == operand)


def _expanded(test: _ValueTest, operand: Any, negative: bool = False) -> _ValueTest:
    """mongomock's ``_list_expand``: an array value against a non-array operand, element-wise."""
    if isinstance(operand, _SEQUENCE):
        return test
    if negative:
        return lambda value: (
            all(test(item) for item in value) if isinstance(value, _SEQUENCE) else test(value)
        )
    return lambda value: (
        any(test(item) for item in value) if isinstance(value, _SEQUENCE) else test(value)
    )


def _in(operand: Any) -> _ValueTest:
    if not isinstance(operand, _SEQUENCE) or any(isinstance(v, _RE_TYPES) for v in operand):
        raise _Unsupported  # mongomock's error, or its regular expressions
    accepts_missing = None in operand
    if operand and all(type(v) is str for v in operand):
        strings = frozenset(operand)

        def among(item: Any) -> bool:
            # a plain string is equal only to an equal string, so the set answers as `in`
            return item in strings if type(item) is str else item in operand
    else:

        def among(item: Any) -> bool:
            return item in operand

    def test(value: Any) -> bool:
        if value is NOTHING and accepts_missing:
            return True
        if isinstance(value, _SEQUENCE):
            for item in value:  # noqa: SIM110 - cheaper than any() with a generator
                if among(item):
                    return True
            return False
        return among(value)

    return test


def _ordering(compare: Callable[[Any, Any], bool], operand: Any) -> _ValueTest:
    """``$gt`` and kin: only between values of one BSON type (mongomock's type bracketing)."""
    kind = type(operand)
    same: tuple[type, ...] = ()
    if kind is datetime:
        same = (datetime,)
    elif kind is int or kind is float:
        same = (int, float)
    elif kind is str:
        same = (str,)

    def one(value: Any) -> bool:
        # for these exact types bson_compare comes down to the operator itself
        if type(value) in same:
            return compare(value, operand)
        return _bson_compare(compare, value, operand, can_compare_types=False)

    expand = not isinstance(operand, _SEQUENCE)

    def test(value: Any) -> bool:
        if value is NOTHING:
            return False
        if expand and isinstance(value, _SEQUENCE):
            return any(one(item) for item in value)
        return one(value)

    return test


# -- $expr ---------------------------------------------------------------------------------------


def _expr(expression: Any) -> Predicate:
    if _registered_expression_parsers[:1] != [expressions.parse_expression]:
        raise _Unsupported  # another evaluator is installed: its answers are not known here
    evaluate = _expression(expression)
    return lambda document: bool(evaluate(document))


def _expression(expression: Any) -> _Expression:
    """``expression`` evaluated as the stand-in's parser does (KeyError: a missing field)."""
    if isinstance(expression, dict):
        if len(expression) != 1:
            raise _Unsupported
        ((name, arguments),) = expression.items()
        build = _EXPRESSION_OPERATORS.get(name)
        if build is None:
            raise _Unsupported
        return build(name, arguments)
    if isinstance(expression, str) and expression.startswith("$"):
        if expression.startswith("$$"):
            raise _Unsupported  # variables
        path = expression[1:]
        if not path or "." in path:
            return lambda document: _get_value_by_dot(document, path, can_generate_array=True)
        return lambda document: (
            document[path]
            if type(document) is dict
            else _get_value_by_dot(document, path, can_generate_array=True)
        )
    return lambda document: expression  # a literal: mongomock returns it as it is


def _comparison(name: str, arguments: Any) -> _Expression:
    if not isinstance(arguments, _SEQUENCE) or len(arguments) != 2:
        raise _Unsupported
    left, right = _expression(arguments[0]), _expression(arguments[1])
    if name == "$eq":
        return lambda document: left(document) == right(document)
    if name == "$ne":
        return lambda document: left(document) != right(document)
    compare = _ORDERING[name]
    numbers_only = (int, float)

    def ordered(document: Document) -> bool:
        a, b = left(document), right(document)
        if type(a) in numbers_only and type(b) in numbers_only:
            return compare(a, b)  # what bson_compare comes to for two numbers
        return _bson_compare(compare, a, b)

    return ordered


def _arithmetic(name: str, arguments: Any) -> _Expression:
    if not isinstance(arguments, _SEQUENCE) or not arguments:
        raise _Unsupported  # mongomock's assertion
    terms = [_expression(argument) for argument in arguments]
    combine: Callable[[list[Any]], Any] = (
        sum if name == "$add" else functools.partial(functools.reduce, operator.mul)
    )

    def arithmetic(document: Document) -> Any:
        values = []
        for term in terms:
            try:
                values.append(term(document))
            except KeyError:  # parse_many's ignore_missing_keys
                values.append(None)
        for value in values:
            if value is None:
                return None
            if type(value) is not float and type(value) is not int:  # spares the ABC check
                assert isinstance(value, numbers.Number), f"{name} only uses numbers"
        return combine(values)

    return arithmetic


def _size(name: str, arguments: Any) -> _Expression:
    if isinstance(arguments, list):
        if len(arguments) != 1:
            raise _Unsupported
        arguments = arguments[0]
    array = _or_nothing(_expression(arguments))

    def size(document: Document) -> int:
        value = array(document)
        if not isinstance(value, _SEQUENCE):
            raise OperationFailure(
                "The argument to $size must be an array, but was of type: "
                f"{'missing' if value is NOTHING else type(value)}"
            )
        return len(value)

    return size


def _if_null(name: str, arguments: Any) -> _Expression:
    if not isinstance(arguments, _SEQUENCE) or not 1 <= len(arguments) <= 2:
        raise _Unsupported  # several inputs: mongomock's answer depends on its server version
    inputs = [_expression(argument) for argument in arguments[:-1]]
    fallback = _expression(arguments[-1])

    def if_null(document: Document) -> Any:
        for value_of in inputs:
            try:
                value = value_of(document)
            except KeyError:
                continue
            if value is not None:
                return value
        return fallback(document)

    return if_null


def _set_intersection(name: str, arguments: Any) -> _Expression:
    if not isinstance(arguments, list):
        arguments = [arguments]
    operands = [_or_nothing(_expression(argument)) for argument in arguments]
    if len(arguments) == 2 and _literal_strings(arguments[1]):
        # verification's case: the stored terms against the report's own (a literal list)
        stored, terms, term_set = operands[0], arguments[1], frozenset(arguments[1])
        return lambda document: expressions.set_intersection_with(stored(document), terms, term_set)
    return lambda document: expressions.set_intersection([each(document) for each in operands])


def _literal_strings(argument: Any) -> bool:
    return isinstance(argument, list) and all(type(item) is str for item in argument)


def _or_nothing(expression: _Expression) -> _Expression:
    def or_nothing(document: Document) -> Any:
        try:
            return expression(document)
        except KeyError:
            return NOTHING

    return or_nothing


_EXPRESSION_OPERATORS: dict[str, Callable[[str, Any], _Expression]] = {
    "$eq": _comparison,
    "$ne": _comparison,
    "$gt": _comparison,
    "$gte": _comparison,
    "$lt": _comparison,
    "$lte": _comparison,
    "$add": _arithmetic,
    "$multiply": _arithmetic,
    "$size": _size,
    "$ifNull": _if_null,
    "$setIntersection": _set_intersection,
}
