"""Where MongoDB 7 refuses what mongomock accepts: the same refusals, with MongoDB's codes.

A mistake the stand-in lets through passes every test and fails only in production, so
the stand-in checks what a real server checks, before or after mongomock applies a write:

* two update operators (or one operator twice) touching one path or a path and its
  prefix: 40, "Updating the path 'a.b' would create a conflict at 'a'";
* a path through a value that is not a document or an array: 28, "Cannot create field
  'b' in element {a: 5}" (mongomock silently does nothing);
* a stored document nested deeper than 100 levels: 15 (Overflow);
* a document over 16 MiB after an update: 17419; an insert over 16 MiB: 2;
* two arrays in the fields of one compound index: 171, "cannot index parallel arrays";
* an index whose name or key pattern clashes with an existing one: 86 / 85;
* ``$min`` / ``$max`` compare by BSON type order (mongomock compares with Python's ``<``,
  which fails across types).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import bson
from mongomock import filtering

from lapor_devdb.errors import _CommandError

MAX_BSON_SIZE = 16 * 1024 * 1024
MAX_DEPTH = 100  # "MongoDB supports no more than 100 levels of nesting for BSON documents"
_INDEX_OPTIONS = ("unique", "sparse", "partialFilterExpression", "expireAfterSeconds")
# operators whose paths are created when missing, and so must not run through a scalar
_CREATING = frozenset(
    {"$set", "$setOnInsert", "$inc", "$push", "$addToSet", "$min", "$max", "$currentDate"}
)
_MISSING = object()
_bson_compare: Callable[..., bool] = filtering.bson_compare


def _shell(value: Any) -> str:
    """A value as MongoDB's messages show it (close enough to read)."""
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def update_paths(update: Mapping[str, Any]) -> Iterator[str]:
    """Every path an operator update touches, in order ($rename: source and target)."""
    for operator, fields in update.items():
        if not isinstance(fields, Mapping):
            continue
        for path, value in fields.items():
            yield path
            if operator == "$rename" and isinstance(value, str):
                yield value


def check_conflicts(update: Mapping[str, Any]) -> None:
    """Refuse (40) an update two of whose paths are one path, or a path and its prefix."""
    seen: list[str] = []
    for path in update_paths(update):
        for earlier in seen:
            shorter, longer = sorted((earlier, path), key=len)
            if longer == shorter or longer.startswith(shorter + "."):
                raise _CommandError(
                    40, f"Updating the path '{path}' would create a conflict at '{shorter}'"
                )
        seen.append(path)


def check_paths_viable(document: Mapping[str, Any], update: Mapping[str, Any]) -> None:
    """Refuse (28) an update that would create a field inside a non-document."""
    for operator, fields in update.items():
        if operator not in _CREATING or not isinstance(fields, Mapping):
            continue
        for path in fields:
            _check_path(document, path)
    renames = update.get("$rename")
    if isinstance(renames, Mapping):
        for target in renames.values():
            if isinstance(target, str):
                _check_path(document, target)


def _check_path(document: Mapping[str, Any], path: str) -> None:
    parts = path.split(".")
    value: Any = document
    for depth, part in enumerate(parts[:-1]):
        if isinstance(value, Mapping):
            if part not in value:
                return  # created from here on
            value = value[part]
        elif isinstance(value, list):
            if not part.isdigit():
                if part.startswith("$"):
                    return  # a positional operator: mongomock resolves it
                raise _not_viable(parts[depth], parts[depth - 1] if depth else "", value)
            if int(part) >= len(value):
                return
            value = value[int(part)]
        else:
            raise _not_viable(part, parts[depth - 1] if depth else "", value)
    if not isinstance(value, Mapping | list):
        raise _not_viable(parts[-1], parts[-2] if len(parts) > 1 else "", value)
    if isinstance(value, list) and not parts[-1].isdigit() and not parts[-1].startswith("$"):
        raise _not_viable(parts[-1], parts[-2] if len(parts) > 1 else "", value)


def _not_viable(part: str, parent: str, value: Any) -> _CommandError:
    return _CommandError(
        28, f"Cannot create field '{part}' in element {{{parent}: {_shell(value)}}}"
    )


def resolve_min_max(document: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """``update`` with each ``$min`` / ``$max`` decided by BSON type order: a winning value
    moves to ``$set``, a losing one is dropped (paths through arrays are left as they are)."""
    if "$min" not in update and "$max" not in update:
        return dict(update)
    result: dict[str, Any] = {k: v for k, v in update.items() if k not in ("$min", "$max")}
    to_set: dict[str, Any] = dict(result.get("$set") or {})
    kept: dict[str, dict[str, Any]] = {}
    for operator, wins in (("$min", -1), ("$max", 1)):
        fields = update.get(operator)
        if not isinstance(fields, Mapping):
            if operator in update:
                result[operator] = fields  # not a document: mongomock says what is wrong
            continue
        for path, value in fields.items():
            current = _value_at(document, path)
            if current is _MISSING:
                to_set[path] = value
            elif current is _THROUGH_ARRAY:
                kept.setdefault(operator, {})[path] = value
            elif compare(value, current) == wins:
                to_set[path] = value
    if to_set:
        result["$set"] = to_set
    result.update(kept)
    if not any(k.startswith("$") for k in result):
        result["$set"] = {}  # nothing changes, but it stays an operator update
    return result


_THROUGH_ARRAY = object()


def _value_at(document: Mapping[str, Any], path: str) -> Any:
    value: Any = document
    for part in path.split("."):
        if isinstance(value, list):
            return _THROUGH_ARRAY
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def compare(a: Any, b: Any) -> int:
    """-1, 0 or 1: ``a`` against ``b`` in BSON order (types first, then values)."""
    if _bson_compare(lambda x, y: x < y, a, b):
        return -1
    if _bson_compare(lambda x, y: x > y, a, b):
        return 1
    return 0


def depth(value: Any) -> int:
    """How many levels of documents and arrays ``value`` nests (a plain value: 0)."""
    if isinstance(value, Mapping):
        children: Any = value.values()
    elif isinstance(value, list):
        children = value
    else:
        return 0
    deepest = 0
    for child in children:
        if isinstance(child, Mapping | list):  # a call only where a level can begin
            deepest = max(deepest, depth(child))
    return 1 + deepest


def check_stored(
    document: Mapping[str, Any], inserted: bool, nesting_checked: bool = False
) -> None:
    """Refuse a document no MongoDB would store: too deep (15) or too large (2 / 17419).

    ``nesting_checked``: the write is known to keep the document within
    :data:`MAX_DEPTH` (an update that nests no deeper, of a document stored within it).
    """
    if not nesting_checked and depth(document) > MAX_DEPTH:
        raise _CommandError(
            15, f"cannot store a document that exceeds {MAX_DEPTH} levels of nesting"
        )
    size = len(bson.encode(document))
    if size > MAX_BSON_SIZE:
        if inserted:
            raise _CommandError(
                2, f"object to insert too large. size in bytes: {size}, max size: {MAX_BSON_SIZE}"
            )
        raise _CommandError(
            17419, f"Resulting document after update is larger than {MAX_BSON_SIZE}"
        )


def check_parallel_arrays(document: Mapping[str, Any], fields: list[str]) -> None:
    """Refuse (171) a document holding arrays in two fields of one compound index."""
    arrays = [path for path in fields if _holds_array(document, path)]
    if len(arrays) > 1:
        raise _CommandError(171, f"cannot index parallel arrays [{arrays[1]}] [{arrays[0]}]")


def _holds_array(document: Mapping[str, Any], path: str) -> bool:
    value: Any = document
    for part in path.split("."):
        if isinstance(value, list):
            return True
        if not isinstance(value, Mapping) or part not in value:
            return False
        value = value[part]
    return isinstance(value, list)


def check_index(
    existing: Mapping[str, Mapping[str, Any]], name: str, spec: Mapping[str, Any]
) -> bool:
    """Whether ``spec`` is new; refuses a clash with an existing index (86: same name, other
    key; 85: same name, other options, or same key under another name)."""
    key = [(field, int(direction)) for field, direction in spec["key"].items()]
    options = {option: spec[option] for option in _INDEX_OPTIONS if spec.get(option)}
    requested = {"name": name, "key": dict(key), **options}
    for other_name, other in existing.items():
        other_key = [(field, int(direction)) for field, direction in other["key"]]
        other_options = {option: other[option] for option in _INDEX_OPTIONS if other.get(option)}
        shown = {"name": other_name, "key": dict(other_key), **other_options}
        if other_name == name:
            if other_key != key:
                raise _CommandError(
                    86,
                    "An existing index has the same name as the requested index. When index "
                    "names are not specified, they are auto generated and can cause "
                    "conflicts. Please refer to our documentation. "
                    f"Requested index: {requested}, existing index: {shown}",
                )
            if other_options != options:
                raise _CommandError(
                    85,
                    "An equivalent index already exists with the same name but different "
                    f"options. Requested index: {requested}, existing index: {shown}",
                )
            return False
        if other_key == key and other_options.get("partialFilterExpression") == options.get(
            "partialFilterExpression"
        ):
            raise _CommandError(85, f"Index already exists with a different name: {other_name}")
    return True
