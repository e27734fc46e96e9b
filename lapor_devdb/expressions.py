"""Aggregation expressions mongomock lacks, for ``$expr`` in queries: ``$setIntersection``.

Verification asks the server for near-duplicates only (Jaccard as ``$expr`` over the
stored terms: ``$setIntersection`` / ``$size`` / ``$ifNull`` / ``$multiply`` / ``$add`` /
``$gte``). mongomock evaluates every one of those but ``$setIntersection``, which it
leaves unimplemented; :func:`install` adds it, as MongoDB 7 defines it, to the
expression evaluator mongomock's query filter uses. Everything else stays mongomock's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mongomock import aggregate as mongomock_aggregate
from mongomock import filtering

from lapor_devdb import strict
from lapor_devdb.errors import _CommandError

_MongomockParser: Any = mongomock_aggregate._Parser
#: What mongomock's parser gives for a missing field.
NOTHING: Any = getattr(mongomock_aggregate, "NOTHING")  # noqa: B009 - not in __all__


def set_intersection(operands: list[Any]) -> list[Any] | None:
    """MongoDB 7's ``$setIntersection`` of evaluated operands (``NOTHING``: a missing field).

    As the server does it, operand by operand: a null or missing operand makes the result
    null, an operand that is no array is error 17047; elements are equal when BSON
    compares them equal (1 == 1.0, but true != 1); duplicates are dropped; no operand
    gives an empty array. The result keeps the first operand's order (MongoDB promises
    no order).
    """
    arrays: list[list[Any]] = []
    for operand in operands:
        if operand is None or operand is NOTHING:
            return None
        if not isinstance(operand, list):
            raise _CommandError(
                17047,
                "All operands of $setIntersection must be arrays. One argument is of "
                f"type: {_type_name(operand)}",
            )
        arrays.append(operand)
    if not arrays:
        return []
    if all(_only_strings(array) for array in arrays):
        # The common case (terms): Python's string equality is BSON's.
        common = set(arrays[0]).intersection(*arrays[1:])
        return [item for item in dict.fromkeys(arrays[0]) if item in common]
    return _bson_intersection(arrays)


def set_intersection_with(operand: Any, terms: list[str], term_set: frozenset[str]) -> Any:
    """``set_intersection([operand, terms])`` for a list of plain strings ``terms`` (and
    ``term_set``, the same strings), without looking at ``terms`` again."""
    if operand is None or operand is NOTHING:
        return None
    if not isinstance(operand, list):
        return set_intersection([operand, terms])  # its error
    if _only_strings(operand):
        return [item for item in dict.fromkeys(operand) if item in term_set]
    return _bson_intersection([operand, terms])


def _only_strings(array: list[Any]) -> bool:
    for item in array:  # noqa: SIM110 - a generator in all() costs twice as much here
        if not isinstance(item, str):
            return False
    return True


def _bson_intersection(arrays: list[list[Any]]) -> list[Any]:
    result: list[Any] = []
    for item in arrays[0]:
        if _holds(result, item):
            continue
        if all(_holds(other, item) for other in arrays[1:]):
            result.append(item)
    return result


def _holds(array: list[Any], value: Any) -> bool:
    return any(strict.compare(item, value) == 0 for item in array)


def _type_name(value: Any) -> str:
    names: list[tuple[type | tuple[type, ...], str]] = [
        (bool, "bool"),
        (int, "int"),
        (float, "double"),
        (str, "string"),
        (dict, "object"),
    ]
    return next((name for kind, name in names if isinstance(value, kind)), type(value).__name__)


class _Parser(_MongomockParser):  # type: ignore[misc]  # mongomock is untyped
    """mongomock's expression parser, plus ``$setIntersection``."""

    def _handle_set_operator(self, operator: str, values: Any) -> Any:
        if operator == "$setIntersection":
            if not isinstance(values, list):
                values = [values]
            return set_intersection([self._parse_or_nothing(value) for value in values])
        return super()._handle_set_operator(operator, values)


def parse_expression(
    expression: Any, doc_dict: dict[str, Any], ignore_missing_keys: bool = False
) -> Any:
    """Evaluate ``expression`` on ``doc_dict`` (what mongomock's filter calls for ``$expr``)."""
    return _Parser(doc_dict, ignore_missing_keys=ignore_missing_keys).parse(expression)


_register: Callable[[Callable[..., Any]], None] = filtering.register_parse_expression


def install() -> None:
    """Make mongomock's query filter evaluate ``$expr`` with :func:`parse_expression`."""
    _register(parse_expression)
