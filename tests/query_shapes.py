"""The query and update shapes LAPOR sends to MongoDB, recorded while the tests run.

A shape is a command with every value replaced by its type's name (``"<str>"``,
``"<datetime>"``), field names and operators kept: what a real server judges when it decides
whether it accepts a command. The recorder listens on every client the services make
(``shared.storage.command_listeners``); the session writes what it saw to
``<pytest basetemp>/query-shapes.json``, and with ``LAPOR_RECORD_QUERY_SHAPES=FILE`` merges it
into FILE (the committed ``tests/query_shapes.json``). ``tests/test_query_shapes.py`` replays
them against a real MongoDB 7 replica set, so what passes on the stand-in is checked on the
real thing.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bson import Binary, Int64, ObjectId
from pymongo import monitoring

Shape = dict[str, Any]
COMMITTED = Path(__file__).with_name("query_shapes.json")
# the commands whose shapes matter; the rest are handshakes, cursors and admin
RECORDED = frozenset(
    {"find", "insert", "update", "delete", "findAndModify", "aggregate", "count", "distinct"}
)
# options a driver adds that say nothing about the query
_DRIVER_FIELDS = frozenset(
    {"lsid", "$db", "$clusterTime", "$readPreference", "txnNumber", "ordered", "batchSize"}
)


#: Operators whose array holds operands, each with a shape of its own (not a list of values).
_OPERAND_LISTS = frozenset({"$or", "$and", "$nor"})


def shape_of(value: Any, in_expression: bool = False) -> Any:
    """``value`` with every leaf replaced by ``"<type name>"`` (arrays by their first item).

    Operands keep their places: every branch of ``$or`` / ``$and`` / ``$nor`` and, inside an
    ``$expr``, every operator's arguments and the field paths they name (``"$text_terms"``:
    code, not data), so that a replayed expression is the one the service sent. A list of
    values (``$in``'s, or a literal array inside an expression) is shaped by its first item.
    """
    if isinstance(value, dict):
        return {key: _field_shape(key, item, in_expression) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [shape_of(value[0], in_expression)] if value else []
    if in_expression and isinstance(value, str) and value.startswith("$"):
        return value
    return f"<{type(value).__name__}>"


def _field_shape(key: str, value: Any, in_expression: bool) -> Any:
    inner = in_expression or key == "$expr"
    operands = key in _OPERAND_LISTS or (inner and key.startswith("$"))
    if operands and isinstance(value, list | tuple):
        return [shape_of(item, inner) for item in value]
    return shape_of(value, inner)


def command_shape(command: dict[str, Any]) -> Shape:
    """The shape of one command as a driver sent it."""
    name = next(iter(command))
    shape: Shape = {name: command[name]}  # the collection's name is kept as it is
    for key, value in command.items():
        if key == name or key in _DRIVER_FIELDS:
            continue
        shape[key] = shape_of(value)
    return shape


def example_of(shape: Any, counter: list[int]) -> Any:
    """A value of the given shape (the inverse of :func:`shape_of`), for replaying it."""
    if isinstance(shape, dict):
        return {key: example_of(item, counter) for key, item in shape.items()}
    if isinstance(shape, list):
        return [example_of(item, counter) for item in shape]
    counter[0] += 1
    examples: dict[str, Any] = {
        "<str>": f"shape-{counter[0]}",
        "<int>": 1,
        "<Int64>": Int64(1),
        "<float>": 1.5,
        "<bool>": True,
        "<NoneType>": None,
        "<datetime>": datetime(2026, 12, 1, tzinfo=UTC),
        "<ObjectId>": ObjectId(),
        "<bytes>": b"x",
        "<Binary>": Binary(b"x"),
    }
    return examples.get(shape, shape)


class ShapeRecorder(monitoring.CommandListener):
    """Collects the distinct shapes of the recorded commands (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.shapes: dict[str, Shape] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name not in RECORDED:
            return
        shape = command_shape(dict(event.command))
        key = json.dumps(shape, sort_keys=True)
        with self._lock:
            self.shapes.setdefault(key, shape)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def save(self, path: Path, merge: bool = False) -> int:
        """Write the shapes (merged with those already in ``path``); how many there are."""
        shapes = dict(self.shapes)
        if merge and path.exists():
            for shape in json.loads(path.read_text()):
                shapes.setdefault(json.dumps(shape, sort_keys=True), shape)
        ordered = [shapes[key] for key in sorted(shapes)]
        # not sort_keys: a command's name comes first, and a sort's order is its meaning
        path.write_text(json.dumps(ordered, indent=1) + "\n")
        return len(ordered)


def load(path: Path = COMMITTED) -> list[Shape]:
    """The shapes kept in ``path``."""
    if not path.exists():
        return []
    shapes: list[Shape] = json.loads(path.read_text())
    return shapes


RECORDER = ShapeRecorder()
