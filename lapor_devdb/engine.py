"""The stand-in's engine: MongoDB commands answered from mongomock's in-memory store."""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import secrets
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import bson
import mongomock
from bson.errors import InvalidDocument
from bson.int64 import Int64
from bson.objectid import ObjectId
from mongomock import aggregate as mongomock_aggregate
from mongomock import filtering, helpers
from mongomock.collection import Collection as _MongomockCollection
from mongomock.store import CollectionStore
from pymongo.errors import DuplicateKeyError, OperationFailure

from lapor_devdb import expressions, matcher, strict
from lapor_devdb.errors import RolledBack, _CommandError
from lapor_devdb.indexes import (
    MAX_FOR_SORTING,
    Index,
    Plan,
    UnionPlan,
    best_plan,
    candidates,
    sort_walk_bounds,
    union_plan,
)

log = logging.getLogger("lapor.devdb")

expressions.install()  # $expr with $setIntersection (verification's near-duplicate test)

Document = dict[str, Any]
_Handler = Callable[[str, Document], Document]
_filter_applies: Callable[[Mapping[str, Any], Mapping[str, Any]], bool] = filtering.filter_applies

_WIRE_VERSION = 21  # MongoDB 7.0
_MAX_BSON_SIZE = 16 * 1024 * 1024
_MAX_MESSAGE_SIZE = 48_000_000
_MAX_WRITE_BATCH = 100_000
_FIRST_BATCH = 101  # MongoDB's default first batch
_CURSOR_IDLE_SECONDS = 600.0  # MongoDB's cursorTimeoutMillis
_TTL_SWEEP_SECONDS = 60.0  # MongoDB's ttlMonitorSleepSecs
# A filter is compiled (lapor_devdb.matcher) once a command has tested this many documents
# with it: a look-up of a document or two pays nothing for compiling.
_COMPILE_AFTER = 4
_MAX_FILTERS_KEPT = 256  # per command; an insert of many documents makes a filter for each


def _expire_only_in_the_sweep(store: object) -> None:
    """Reads leave expired documents alone, as on MongoDB (whose TTL monitor deletes them
    in the background, once a minute: :meth:`_Engine._sweep_expired` imitates it).

    mongomock instead deletes them on every read of a collection by scanning all its
    documents, a cost per read that grows with the collection (the rate-limit counters:
    one per reporter).
    """


# The stand-in process (and the tests' reference mongomock) keep MongoDB's TTL timing.
setattr(CollectionStore, "_remove_expired_documents", _expire_only_in_the_sweep)  # noqa: B010

# Drivers add these to any command; on one in-memory node they change nothing.
_GENERIC_FIELDS = frozenset(
    {
        "$db",
        "lsid",
        "$clusterTime",
        "$readPreference",
        "readConcern",
        "writeConcern",
        "maxTimeMS",
        "comment",
        "apiVersion",
        "apiStrict",
        "apiDeprecationErrors",
    }
)
_TRANSACTION_FIELDS = frozenset({"startTransaction", "autocommit", "txnNumber"})
# mongomock applies some other operators wrongly (e.g. it stores "$mul" as a field name).
_UPDATE_OPERATORS = frozenset(
    {
        "$set",
        "$unset",
        "$inc",
        "$push",
        "$pull",
        "$pullAll",
        "$addToSet",
        "$pop",
        "$setOnInsert",
        "$min",
        "$max",
        "$currentDate",
        "$rename",
    }
)
_PIPELINE_STAGES = frozenset(
    {
        "$match",
        "$group",
        "$sort",
        "$project",
        "$limit",
        "$skip",
        "$count",
        "$unwind",
        "$addFields",
        "$set",
        "$replaceRoot",
        "$lookup",
        "$facet",
    }
)
_INDEX_OPTIONS = frozenset(
    {"name", "unique", "sparse", "partialFilterExpression", "expireAfterSeconds"}
)
_INDEX_IGNORED = frozenset({"key", "v", "background"})  # "key" is passed on separately


def _unsupported(what: str) -> _CommandError:
    return _CommandError(
        238, f"LAPOR's development stand-in MongoDB does not support {what}; use a real MongoDB"
    )


def _as_command_error(exc: Exception, command: str) -> _CommandError:
    if isinstance(exc, _CommandError):
        return exc
    if isinstance(exc, RolledBack):  # before DuplicateKeyError, which it poses as
        return exc.error
    if isinstance(exc, DuplicateKeyError):
        return _CommandError(
            11000, f"E11000 duplicate key error: '{command}' violates a unique index"
        )
    if isinstance(exc, OperationFailure):
        return _CommandError(exc.code or 2, str(exc))
    if isinstance(exc, NotImplementedError):
        return _unsupported(f"this use of '{command}' ({exc})")
    if isinstance(exc, ValueError | TypeError | InvalidDocument):
        return _CommandError(2, f"{type(exc).__name__}: {exc}")
    log.exception("the stand-in MongoDB failed on %r", command)
    return _CommandError(
        1,
        f"LAPOR's development stand-in MongoDB failed on '{command}' ({type(exc).__name__}: "
        f"{exc}); its query engine may not support this, use a real MongoDB",
    )


def _check_fields(doc: Mapping[str, Any], allowed: frozenset[str], what: str) -> None:
    unknown = doc.keys() - allowed - _GENERIC_FIELDS
    if unknown:
        raise _unsupported(f"{', '.join(sorted(unknown))} in {what}")


def _check_update(update: Any) -> bool:
    """Whether ``update`` is a replacement document; refuses what cannot be applied right."""
    if isinstance(update, list):
        raise _unsupported("pipeline-style updates")
    if not isinstance(update, Mapping):
        raise _CommandError(9, "an update must be a document")
    operators = [key for key in update if key.startswith("$")]
    if not operators:
        return True
    if len(operators) != len(update):
        raise _CommandError(9, "an update document cannot mix operators and fields")
    for operator, fields in update.items():
        if operator not in _UPDATE_OPERATORS:
            raise _unsupported(f"the update operator '{operator}'")
        if isinstance(fields, Mapping) and any("$[" in path for path in fields):
            raise _unsupported("the positional operators '$[]' and '$[<identifier>]'")
    strict.check_conflicts(update)
    return False


def _check_pipeline(pipeline: Any) -> None:
    if not isinstance(pipeline, list):
        raise _CommandError(9, "'pipeline' must be an array")
    for stage in pipeline:
        if not isinstance(stage, Mapping) or len(stage) != 1:
            raise _CommandError(9, "a pipeline stage must be a document with exactly one field")
        ((name, spec),) = stage.items()
        if name not in _PIPELINE_STAGES:
            raise _unsupported(f"the aggregation stage '{name}'")
        if name == "$facet":
            for sub_pipeline in spec.values():
                _check_pipeline(sub_pipeline)
        if name == "$lookup" and "pipeline" in spec:
            _check_pipeline(spec["pipeline"])


def _sort_spec(sort: Any) -> list[tuple[str, int]] | None:
    if not sort:
        return None
    if not isinstance(sort, Mapping):
        raise _CommandError(2, "'sort' must be a document")
    for key, direction in sort.items():
        if direction not in (1, -1):
            raise _unsupported(f"the sort order {direction!r} for '{key}'")
    return [(key, int(direction)) for key, direction in sort.items()]


def _count(value: Any, name: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise _CommandError(2, f"'{name}' must be a non-negative number")
    return int(value)


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise _CommandError(73, f"invalid collection name {value!r}")
    return value


@dataclass
class _Cursor:
    namespace: str
    documents: list[Document]
    position: int = 0
    last_used: float = field(default_factory=time.monotonic)


# -- looking documents up instead of scanning ------------------------------------------------
#
# mongomock scans the whole collection for every query, and again per unique index for every
# document it inserts or changes. _IndexedCollection looks documents up instead where that
# gives exactly mongomock's answer: by _id in the store's own dict (mongomock keeps a
# collection's documents in a dict keyed by _id, and matches a plain query value with
# Python's ``==``, which for these types agrees with their hash), and through the declared
# indexes (lapor_devdb.indexes) otherwise; the whole filter is then applied to what was
# found. bool and Int64 are ints.
#
# _id lookups leave out datetimes: mongomock files a document under its _id as given but
# stores the _id truncated to milliseconds and made naive, so the two can differ.
_PLAIN_ID = (str, int, float, ObjectId)
_MAX_ID_LOOKUPS = 32  # an _id $in list longer than this is scanned like any other filter
_NOT_STORED = object()


def _plain_ids(condition: Any) -> list[Any] | None:
    """The values an ``_id`` condition accepts, when it is equality with plain values."""
    if isinstance(condition, _PLAIN_ID):
        return [condition]
    if isinstance(condition, dict) and len(condition) == 1:
        ((operator, operand),) = condition.items()
        if operator == "$eq" and isinstance(operand, _PLAIN_ID):
            return [operand]
        if (
            operator == "$in"
            and isinstance(operand, list)
            and len(operand) <= _MAX_ID_LOOKUPS
            and all(isinstance(value, _PLAIN_ID) for value in operand)
        ):
            return list(operand)
    return None


def _id_candidates(query: Any) -> list[Any] | None:
    """Values one of which a document's ``_id`` must equal to match ``query`` (None: unknown).

    A top-level ``_id`` condition, or one inside a top-level ``$and``, constrains every
    match; the whole query is still applied to the documents found.
    """
    if not isinstance(query, dict):
        return None
    if "_id" in query:
        ids = _plain_ids(query["_id"])
        if ids is not None:
            return ids
    conditions = query.get("$and")
    if isinstance(conditions, list):
        for condition in conditions:
            ids = _id_candidates(condition)
            if ids is not None:
                return ids
    return None


def _string_conditions(query: Any) -> list[tuple[list[str], frozenset[str]]]:
    """(path, strings) for each top-level condition "``path`` equals one of ``strings``".

    ``{path: "s"}``, ``{path: {"$eq": "s"}}`` and ``{path: {"$in": ["s", ...]}}``, where every
    value is a string. A document can match ``query`` only if it meets each of them.
    """
    if not isinstance(query, dict):
        return []
    conditions: list[tuple[list[str], frozenset[str]]] = []
    for path, condition in query.items():
        if not isinstance(path, str) or path.startswith("$") or not path:
            continue
        values: Any = None
        if isinstance(condition, str):
            values = [condition]
        elif isinstance(condition, dict) and len(condition) == 1:
            ((operator, operand),) = condition.items()
            if operator == "$eq" and isinstance(operand, str):
                values = [operand]
            elif operator == "$in" and isinstance(operand, list):
                values = operand
        if values is not None and all(isinstance(value, str) for value in values):
            conditions.append((path.split("."), frozenset(values)))
    return conditions


def _cannot_match(document: Mapping[str, Any], path: list[str], strings: frozenset[str]) -> bool:
    """True only when ``document`` surely fails "``path`` equals one of ``strings``".

    Sure cases: the field is missing (under sub-documents only), holds another string, or
    holds an array of strings none of which is wanted. Everything else (arrays on the
    way, other types) is left to mongomock's filter: this is a shortcut, never a verdict.
    """
    value: Any = document
    for part in path:
        if not isinstance(value, dict):
            return False
        if part not in value:
            return True
        value = value[part]
    if isinstance(value, str):
        return value not in strings
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return strings.isdisjoint(value)
    return False


def _first_in_order(
    documents: list[Document], sort: list[tuple[str, int]], wanted: int
) -> list[Document]:
    """The first ``wanted`` of ``documents`` in ``sort`` order, sorted as mongomock sorts
    (stable passes, last key first), so that its own sort afterwards keeps them as they are;
    mongomock would otherwise copy every match for the projection before it limits."""
    if len(documents) <= wanted or any(key.startswith("$") for key, _ in sort):
        return documents
    for key, direction in reversed(sort):
        documents = sorted(documents, key=functools.partial(_sort_key, key), reverse=direction < 0)
    return documents[:wanted]


def _sort_key(key: str, document: Document) -> Any:
    return _resolve_sort_key(key, document)


class _FilterTests:
    """How one command tests documents against each filter it meets: mongomock's
    ``filter_applies`` for the first few, then the filter compiled (:mod:`lapor_devdb.matcher`).

    Filters are told apart by identity; each is kept (so its id stays its own) until the
    command ends with the collection object that holds this.
    """

    def __init__(self) -> None:
        self._seen: dict[int, _FilterTest] = {}

    def test_of(self, filter: Any) -> Callable[[Document], bool]:
        """A test of documents against ``filter``, giving ``filter_applies``'s answers."""
        entry = self._seen.get(id(filter))
        if entry is None or entry.filter is not filter:
            if len(self._seen) >= _MAX_FILTERS_KEPT:
                self._seen.clear()
            entry = self._seen[id(filter)] = _FilterTest(filter)
        return entry.compiled or entry


class _FilterTest:
    """One filter's test within a command: ``filter_applies`` at first, then compiled."""

    __slots__ = ("compiled", "filter", "tested")

    def __init__(self, filter: Any) -> None:
        self.filter = filter
        self.tested = 0
        self.compiled: Callable[[Document], bool] | None = None

    def __call__(self, document: Document) -> bool:
        if self.compiled is None:
            self.tested += 1
            if self.tested <= _COMPILE_AFTER:
                return _applies(self.filter, document)
            self.compiled = matcher.compiled(self.filter) or functools.partial(
                _applies, self.filter
            )
        return self.compiled(document)


def _applies(filter: Any, document: Document) -> bool:
    return _filter_applies(filter, document)  # looked up each time: tests replace it


class _StoreIndexes:
    """The declared indexes of one collection's store, and the documents to refile in them."""

    def __init__(self) -> None:
        self.by_name: dict[str, Index] = {}
        # store keys whose document changed behind the indexes' back (a failed write that
        # mongomock rolled back): refiled before the next query
        self.dirty: set[Any] = set()


@dataclass(frozen=True)
class _Touched:
    """What an operator update can change in a stored document: the top-level fields it
    writes (``roots``), and whether all it writes sits within the nesting limit
    (``shallow``), so that a document stored within the limit stays within it."""

    roots: frozenset[str]
    shallow: bool

    @classmethod
    def by(cls, update: Any) -> _Touched | None:
        """For an operator update; None for a replacement, a pipeline or anything odd (then
        every field may have changed, and mongomock decides whether it is valid)."""
        if not isinstance(update, Mapping) or not update:
            return None
        roots: set[str] = set()
        shallow = True
        for operator, fields in update.items():
            if not (isinstance(operator, str) and operator.startswith("$")):
                return None
            if not isinstance(fields, Mapping):
                return None
            for path, value in fields.items():
                if not isinstance(path, str):
                    return None
                parts = path.split(".")
                roots.add(parts[0])
                if operator == "$rename":
                    if not isinstance(value, str):
                        return None
                    roots.add(value.split(".", 1)[0])
                    shallow = False  # a moved value's own depth is not in the update
                elif shallow:
                    # the value sits below the path's levels; one more for an array it joins
                    shallow = len(parts) + 1 + strict.depth(value) <= strict.MAX_DEPTH
        return cls(frozenset(roots), shallow)


# collection store -> its indexes; weak, so a dropped collection's indexes go with it
_IndexCache = weakref.WeakKeyDictionary[Any, _StoreIndexes]
# mongomock's own (untyped) methods that _IndexedCollection builds on
_collection_init: Callable[..., None] = _MongomockCollection.__init__
_scan: Callable[[Any, Any], Iterable[Document]] = _MongomockCollection._iter_documents
_mongomock_update: Callable[..., Any] = _MongomockCollection._update
_mongomock_insert: Callable[..., Any] = _MongomockCollection._insert
_mongomock_apply_update: Callable[..., Any] = _MongomockCollection._apply_update_document
_get_value_by_dot: Callable[[Any, str], Any] = helpers.get_value_by_dot
_process_pipeline: Callable[..., Any] = mongomock_aggregate.process_pipeline
_resolve_sort_key: Callable[[str, Any], Any] = filtering.resolve_sort_key
_mongomock_find: Callable[..., Any] = _MongomockCollection.find
_mongomock_aggregate: Callable[..., Any] = _MongomockCollection.aggregate


class _IndexedCollection(_MongomockCollection):
    """A mongomock collection that finds documents through indexes instead of scanning.

    It replaces mongomock's internal ``_iter_documents`` (under every find, count, update,
    delete and unique-key check) and keeps its results: a query that pins ``_id`` to plain
    values looks its documents up in the store's dict; any other query that a declared
    index can narrow (:mod:`lapor_devdb.indexes`) takes its candidates from that index; a
    sorted query with a limit walks an index on its sort field in order and stops once it
    has enough. mongomock's own ``filter_applies`` then decides on every candidate.

    The indexes are kept in step with the documents through ``_ensure_uniques``, which
    mongomock calls for every document it inserts or changes; a deleted document is
    dropped from them when it is next met; a write that fails half-way marks what it
    touched for refiling. Every insert and change must go through this class
    (``_Engine._collection`` makes sure); deletes may go elsewhere.

    mongomock leaves a wrong _id on a document when an update fails half-way (a replacement
    with another _id, ``$set`` of _id followed by a failing operator, or any change of a
    document-valued _id), so two documents can share an _id: ``_update`` puts the old _id
    back then; the rest of such a document stays as mongomock leaves it.
    """

    def __init__(self, database: Any, name: str, indexes: _IndexCache) -> None:
        _collection_init(
            self,
            database,
            name,
            _db_store=database._store,
            read_preference=database.read_preference,
            codec_options=database.codec_options,
        )
        self._lapor_indexes = indexes
        # (store key, document, its _id) of each document an update in progress has seen
        self._lapor_seen: list[tuple[Any, Document, Any]] | None = None
        # store keys _ensure_uniques refiled during the update in progress
        self._lapor_refiled: set[Any] = set()
        # what the operator update in progress can change (_Touched); None: anything
        self._lapor_touched: _Touched | None = None
        # while a sorted query with a limit runs: (sort, how many matches it needs)
        self._lapor_order: tuple[list[tuple[str, int]], int] | None = None
        # made for one command (_Engine._collection), and so is this
        self._lapor_tests = _FilterTests()

    @contextlib.contextmanager
    def sorted_by(self, sort: list[tuple[str, int]] | None, wanted: int) -> Iterator[None]:
        """Within this block, queries may stop at the first ``wanted`` matches in ``sort``."""
        self._lapor_order = (sort, wanted) if sort and wanted > 0 else None
        try:
            yield
        finally:
            self._lapor_order = None

    def aggregate(self, pipeline: Any, session: Any = None, **unused: Any) -> Any:
        """mongomock's aggregate, with a leading ``$match`` served like a find."""
        if pipeline and isinstance(pipeline[0], dict) and "$match" in pipeline[0]:
            documents = list(_mongomock_find(self, pipeline[0]["$match"]))
            return _process_pipeline(documents, self.database, pipeline[1:], session)
        return _mongomock_aggregate(self, pipeline, session=session)

    # -- the indexes ------------------------------------------------------------------------

    def _indexes(self) -> list[Index]:
        """This collection's indexes, (re)built where out of date, pending refiles done."""
        store = self._store
        state = self._lapor_indexes.get(store)
        if state is None:
            state = self._lapor_indexes[store] = _StoreIndexes()
        documents = store._documents
        current: dict[str, Index] = {}
        for name, spec in store.indexes.items():
            index = state.by_name.get(name)
            if (
                index is None
                or index.spec is not spec
                or index.documents is not documents
                or len(index.keys_of) > 2 * len(documents) + 1000  # many deleted: start afresh
            ):
                index = Index(spec, documents, [key for key, _ in spec["key"]])
                for key, document in documents.items():
                    index.file(key, document)
            current[name] = index
        state.by_name = current
        if state.dirty:
            for key in state.dirty:
                document = documents.get(key)
                for index in current.values():
                    index.file(key, document)
            state.dirty.clear()
        return list(current.values())

    def _mark_dirty(self, keys: Iterable[Any]) -> None:
        state = self._lapor_indexes.get(self._store)
        if state is not None:
            state.dirty.update(key for key in keys if key is not _NOT_STORED)

    def _refile(
        self, key: Any, document: Document | None, roots: frozenset[str] | None = None
    ) -> None:
        """File ``document`` again where it may have changed: in every index, or (``roots``:
        the top-level fields an operator update wrote) in those reading one of them."""
        for index in self._indexes():
            if index.reads_any(roots) or not index.has_filed(key):
                index.file(key, document)

    # -- finding documents ------------------------------------------------------------------

    def _iter_documents(self, filter: Any) -> Iterator[Document]:
        documents = self._matching(filter)
        if self._lapor_seen is None:
            return documents
        return self._noting(documents, self._lapor_seen)

    def _matching(self, filter: Any) -> Iterator[Document]:
        ids = _id_candidates(filter)
        if ids is None:
            return self._through_indexes(filter)
        store = self._store
        found: list[Document] = []
        for value in ids:
            document = store._documents.get(value)
            if document is not None and all(document is not other for other in found):
                found.append(document)
        if len(found) > 1:
            # several documents must come in the store's (insertion) order: let mongomock scan
            return iter(_scan(self, filter))
        if not found:
            _filter_applies(filter, {})  # mongomock validates a query that meets no document
            return iter(())
        test = self._lapor_tests.test_of(filter)
        return (document for document in found if test(document))

    def _through_indexes(self, filter: Any) -> Iterator[Document]:
        """The matches of ``filter`` from the best index plan, or a scan if none helps."""
        if not isinstance(filter, dict) or not self._store.indexes:
            return self._scan_quickly(filter)
        indexes = self._indexes()
        plan: Plan | UnionPlan | None = best_plan(indexes, filter)
        union = union_plan(indexes, filter)
        if union is not None and (plan is None or union.cost < plan.cost):
            plan = union
        if self._lapor_order is not None:
            walked = self._sorted_walk(indexes, plan, filter, *self._lapor_order)
            if walked is not None:
                return walked
        if plan is None:
            return self._scan_quickly(filter)
        matches = self._checked(candidates(plan), filter)
        if self._lapor_order is not None:
            return iter(_first_in_order(list(matches), *self._lapor_order))
        return matches

    def _checked(self, keys: Iterable[Any], filter: Any) -> Iterator[Document]:
        """The documents under ``keys`` that match ``filter``; forgets keys since deleted."""
        documents = self._store._documents
        test = self._lapor_tests.test_of(filter)
        matches: list[Document] = []
        gone: list[Any] = []
        for key in keys:
            document = documents.get(key)
            if document is None:
                gone.append(key)
            elif test(document):
                matches.append(document)
        if not matches and not documents:
            _filter_applies(filter, {})  # mongomock validates a query that meets no document
        self._forget(gone)
        return iter(matches)

    def _forget(self, gone: list[Any]) -> None:
        if gone:
            for index in self._indexes():
                for key in gone:
                    index.discard(key)

    def _sorted_walk(
        self,
        indexes: list[Index],
        plan: Plan | UnionPlan | None,
        filter: Any,
        sort: list[tuple[str, int]],
        wanted: int,
    ) -> Iterator[Document] | None:
        """The first ``wanted`` matches in ``sort`` order (and their ties), walking an index
        on the sort field; None when no index leads with it or a plan is cheaper.

        mongomock sorts what comes back by the whole sort, so it is enough to return every
        match whose first sort value is at most the ``wanted``-th one's, plus the documents
        the index could not order (arrays, sub-documents), which mongomock places itself.
        """
        field_name, direction = sort[0]
        leading = [index for index in indexes if index.fields[0] == field_name]
        if not leading:
            return None
        index = min(leading, key=lambda each: len(each.fields))
        bounds = sort_walk_bounds(index, filter)
        if bounds is None:
            if plan is not None and plan.cost <= MAX_FOR_SORTING:
                return None
            entries = index.everything(reverse=direction < 0)
        else:
            if plan is not None and plan.cost < index.range_count(bounds):
                return None
            entries = index.in_ranges(bounds, reverse=direction < 0)
        documents = self._store._documents
        unordered = index.others | index.multikey
        matches: list[Document] = []
        seen: set[Any] = set()
        gone: list[Any] = []
        last: Any = _NOT_STORED
        test = self._lapor_tests.test_of(filter)
        for ranked, _, key in entries:
            if last is not _NOT_STORED and ranked[0] != last:
                break
            if key in seen or key in unordered:
                continue
            seen.add(key)
            document = documents.get(key)
            if document is None:
                gone.append(key)
            elif test(document):
                matches.append(document)
                if len(matches) >= wanted and last is _NOT_STORED:
                    last = ranked[0]  # take the rest of this value's ties, then stop
        matches.extend(self._checked(list(unordered), filter))
        if not matches and not documents:
            _filter_applies(filter, {})  # mongomock validates a query that meets no document
        self._forget(gone)
        return iter(matches)

    def _scan_quickly(self, filter: Any) -> Iterator[Document]:
        """mongomock's scan, skipping documents a string condition rules out cheaply."""
        conditions = _string_conditions(filter)
        if not conditions:
            return iter(_scan(self, filter))
        store = self._store
        if store.is_empty:
            _filter_applies(filter, {})  # mongomock validates a query that meets no document
        test = self._lapor_tests.test_of(filter)
        return (
            document
            for document in list(store.documents)
            if not any(_cannot_match(document, path, strings) for path, strings in conditions)
            and test(document)
        )

    def _noting(
        self, documents: Iterator[Document], seen: list[tuple[Any, Document, Any]]
    ) -> Iterator[Document]:
        for document in documents:
            seen.append((self._key_of(document), document, document.get("_id")))
            yield document

    def _key_of(self, document: Document) -> Any:
        """The key ``document`` is filed under in the store (``_NOT_STORED``: it is not)."""
        documents = self._store._documents
        document_id = document.get("_id")
        key = helpers.hashdict(document_id) if isinstance(document_id, dict) else document_id
        try:
            if documents.get(key) is document:
                return key
        except TypeError:  # an unhashable _id, left by a failed update
            pass
        for key, stored in documents.items():  # its _id is not what it is filed under
            if stored is document:
                return key
        return _NOT_STORED

    # -- updates ----------------------------------------------------------------------------

    def _update(self, *args: Any, **kwargs: Any) -> Any:
        seen: list[tuple[Any, Document, Any]] = []
        outer, self._lapor_seen = self._lapor_seen, seen
        refiled_before, self._lapor_refiled = self._lapor_refiled, set()
        update = args[1] if len(args) > 1 else kwargs.get("document")
        touched_before, self._lapor_touched = self._lapor_touched, _Touched.by(update)
        try:
            result = _mongomock_update(self, *args, **kwargs)
        except BaseException:
            self._after_failed_update(seen)
            raise
        finally:
            self._lapor_seen = outer
            self._lapor_touched = touched_before
            refiled, self._lapor_refiled = self._lapor_refiled, refiled_before
        # mongomock refiles (through _ensure_uniques) only what compares unequal after the
        # update, but 1 -> True or 1 -> 1.0 are changes to an index: refile the rest it met
        self._mark_dirty(key for key, _, _ in seen if key not in refiled)
        return result

    def _after_failed_update(self, seen: list[tuple[Any, Document, Any]]) -> None:
        """Give the documents a failed update touched their own _id back; refile them."""
        documents = self._store._documents
        for key, document, document_id in seen:
            stored = documents.get(key) if key is not _NOT_STORED else None
            if (
                stored is document
                and "_id" in document
                and not isinstance(document["_id"], dict)  # never equal to a plain value
                and document["_id"] != key
            ):
                document["_id"] = document_id
        self._mark_dirty(key for key, _, _ in seen)

    def _apply_update_document(
        self, existing_document: Document, spec: Any, document: Any, was_insert: bool
    ) -> Any:
        """mongomock's update of one document, refused where MongoDB 7 refuses it (28), and
        with ``$min`` / ``$max`` decided by BSON type order."""
        if isinstance(document, Mapping) and any(key.startswith("$") for key in document):
            strict.check_paths_viable(existing_document, document)
            document = strict.resolve_min_max(existing_document, document)
        return _mongomock_apply_update(self, existing_document, spec, document, was_insert)

    # -- unique indexes ---------------------------------------------------------------------

    def _insert(self, *args: Any, **kwargs: Any) -> Any:
        # a new document (an upsert's too): every field of it is new to the indexes
        touched_before, self._lapor_touched = self._lapor_touched, None
        try:
            return _mongomock_insert(self, *args, **kwargs)
        finally:
            self._lapor_touched = touched_before

    def _check_storable(self, new_data: Document, touched: _Touched | None = None) -> None:
        """Refuse what MongoDB 7 would not store (mongomock then undoes the write)."""
        try:
            strict.check_stored(
                new_data,
                inserted=self._lapor_seen is None,
                nesting_checked=touched is not None and touched.shallow,
            )
            for index in self._store.indexes.values():
                if len(index["key"]) > 1:
                    strict.check_parallel_arrays(new_data, [key for key, _ in index["key"]])
        except _CommandError as refusal:
            raise RolledBack(refusal) from None

    def _ensure_uniques(self, new_data: Document) -> None:
        """mongomock's check (``new_data`` is already stored): 11000 if a unique key repeats.

        Also where the indexes learn of every document mongomock inserts or changes. After
        an operator update (``_Touched``) only the indexes reading a field it wrote are
        refiled: the document's entries in the others cannot have changed. The unique
        keys are all checked, as mongomock does (a story in which a unique index came to
        hold a repeat answers exactly as mongomock's own scans would).
        """
        new_key = self._key_of(new_data)
        touched = self._lapor_touched
        roots = None if touched is None else touched.roots
        try:
            self._check_storable(new_data, touched)
        except RolledBack:
            self._mark_dirty([new_key])
            raise
        if new_key is not _NOT_STORED:
            self._refile(new_key, new_data, roots)
            self._lapor_refiled.add(new_key)
        try:
            for index in list(self._store.indexes.values()):
                if not index.get("unique"):
                    continue
                find_kwargs: Document = {}
                for key, _ in index.get("key"):
                    try:
                        find_kwargs[key] = _get_value_by_dot(new_data, key)
                    except KeyError:
                        find_kwargs[key] = None
                if index.get("sparse") and set(find_kwargs.values()) == {None}:
                    continue
                query: Document = find_kwargs
                if index.get("partialFilterExpression") is not None:
                    query = {"$and": [index["partialFilterExpression"], find_kwargs]}
                if sum(1 for _ in self._iter_documents(query)) > 1:
                    raise DuplicateKeyError("E11000 Duplicate Key Error", 11000)
        except BaseException:
            # mongomock puts the old document back, or keeps the new one (on other errors)
            self._mark_dirty([new_key])
            raise


class _Engine:
    """Runs decoded commands against one in-memory mongomock client, one at a time."""

    def __init__(self) -> None:
        self._client: Any = mongomock.MongoClient()
        self._lock = threading.Lock()
        self._indexes: _IndexCache = weakref.WeakKeyDictionary()
        self._cursors: dict[int, _Cursor] = {}
        self._next_ttl_sweep = 0.0
        self._connection_ids = itertools.count(1)
        # command name -> (handler, the options it understands; None: any)
        self._commands: dict[str, tuple[_Handler, frozenset[str] | None]] = {
            "hello": (self._hello, None),
            "isMaster": (self._hello, None),
            "ismaster": (self._hello, None),
            "ping": (self._nothing, frozenset()),
            "buildInfo": (self._build_info, frozenset()),
            "buildinfo": (self._build_info, frozenset()),
            "getParameter": (self._get_parameter, None),
            "endSessions": (self._nothing, None),
            "listDatabases": (
                self._list_databases,
                frozenset({"nameOnly", "filter", "authorizedDatabases"}),
            ),
            "dropDatabase": (self._drop_database, frozenset()),
            "insert": (
                self._insert,
                frozenset({"documents", "ordered", "bypassDocumentValidation"}),
            ),
            "update": (self._update, frozenset({"updates", "ordered", "bypassDocumentValidation"})),
            "delete": (self._delete, frozenset({"deletes", "ordered"})),
            "find": (
                self._find,
                frozenset(
                    {"filter", "projection", "sort", "skip", "limit", "batchSize", "singleBatch"}
                )
                | {"hint", "allowDiskUse", "noCursorTimeout", "allowPartialResults"},
            ),
            "getMore": (self._get_more, frozenset({"collection", "batchSize"})),
            "killCursors": (self._kill_cursors, frozenset({"cursors"})),
            "findAndModify": (
                self._find_and_modify,
                frozenset({"query", "sort", "remove", "update", "new", "fields", "upsert"})
                | {"bypassDocumentValidation", "hint"},
            ),
            "count": (self._count_documents, frozenset({"query", "limit", "skip", "hint"})),
            "distinct": (self._distinct, frozenset({"key", "query", "hint"})),
            "aggregate": (
                self._aggregate,
                frozenset({"pipeline", "cursor", "allowDiskUse", "hint"}),
            ),
            "create": (self._create, frozenset()),
            "drop": (self._drop, frozenset()),
            "listCollections": (
                self._list_collections,
                frozenset({"filter", "nameOnly", "authorizedCollections", "cursor"}),
            ),
            "createIndexes": (self._create_indexes, frozenset({"indexes", "commitQuorum"})),
            "listIndexes": (self._list_indexes, frozenset({"cursor"})),
            "dropIndexes": (self._drop_indexes, frozenset({"index"})),
        }

    def execute(self, db: str, command: Document) -> Document:
        """The reply to ``command`` on database ``db``; failures become error replies."""
        name = next(iter(command), "")
        try:
            handler = self._handler(name, command)
            with self._lock:
                self._sweep_expired()
                reply = handler(db, command)
        # Any failure must become a reply: an unanswered request hangs the client.
        except Exception as exc:
            return _as_command_error(exc, name).as_reply()
        reply["ok"] = 1
        return reply

    def _handler(self, name: str, command: Document) -> _Handler:
        if (
            name in ("commitTransaction", "abortTransaction")
            or _TRANSACTION_FIELDS & command.keys()
        ):
            raise _CommandError(
                20,
                f"LAPOR's development stand-in MongoDB does not support transactions "
                f"(command '{name}'); use a real MongoDB replica set",
            )
        entry = self._commands.get(name)
        if entry is None:
            raise _CommandError(
                59,
                f"LAPOR's development stand-in MongoDB does not support command '{name}'; "
                "use a real MongoDB",
            )
        handler, options = entry
        if options is not None:
            _check_fields(command, options | {name}, f"command '{name}'")
        return handler

    def _collection(self, db: str, name: Any) -> Any:
        database = self._client[db]
        collection = database[_name(name)]  # validates the name, as mongomock does
        return _IndexedCollection(database, collection.name, self._indexes)

    def _exists(self, db: str, name: str) -> bool:
        return name in self._client[db].list_collection_names()

    # -- handshake and admin ------------------------------------------------------------

    def _hello(self, db: str, command: Document) -> Document:
        if command.get("loadBalanced"):
            raise _unsupported("load-balanced mode")
        primary_field = "isWritablePrimary" if "hello" in command else "ismaster"
        # No topologyVersion: it would switch the driver's monitor to the streaming
        # protocol, which needs several replies to one request.
        return {
            primary_field: True,
            "helloOk": True,
            "maxBsonObjectSize": _MAX_BSON_SIZE,
            "maxMessageSizeBytes": _MAX_MESSAGE_SIZE,
            "maxWriteBatchSize": _MAX_WRITE_BATCH,
            "localTime": datetime.now(UTC),
            # Sessions are accepted (and their lsid ignored) so code that opens one works.
            "logicalSessionTimeoutMinutes": 30,
            "connectionId": next(self._connection_ids),
            "minWireVersion": 0,
            "maxWireVersion": _WIRE_VERSION,
            "readOnly": False,
        }

    def _nothing(self, db: str, command: Document) -> Document:
        return {}

    def _build_info(self, db: str, command: Document) -> Document:
        return {
            "version": "7.0.0",
            "versionArray": [7, 0, 0, 0],
            "gitVersion": "lapor-development-stand-in",
            "modules": [],
            "bits": 64,
            "debug": False,
            "maxBsonObjectSize": _MAX_BSON_SIZE,
            "storageEngines": ["lapor-in-memory"],
            "laporDevelopmentStandIn": True,
        }

    def _get_parameter(self, db: str, command: Document) -> Document:
        known: Document = {"featureCompatibilityVersion": {"version": "7.0"}}
        if command["getParameter"] == "*":
            return known
        wanted = command.keys() - {"getParameter"} - _GENERIC_FIELDS
        unknown = wanted - known.keys()
        if unknown:
            raise _unsupported(f"getParameter of {', '.join(sorted(unknown))}")
        return {key: known[key] for key in wanted}

    def _list_databases(self, db: str, command: Document) -> Document:
        databases: list[Document] = [
            {"name": name, "sizeOnDisk": 0, "empty": False}
            for name in sorted(self._client.list_database_names())
        ]
        if command.get("filter"):
            databases = [d for d in databases if _filter_applies(command["filter"], d)]
        if command.get("nameOnly"):
            databases = [{"name": d["name"]} for d in databases]
        return {"databases": databases, "totalSize": 0, "totalSizeMb": 0}

    def _drop_database(self, db: str, command: Document) -> Document:
        self._client.drop_database(db)
        return {"dropped": db}

    # -- writes --------------------------------------------------------------------------

    def _each(self, command: Document, key: str, run: Callable[[int, Any], None]) -> list[Document]:
        """Run every statement of a write command; its write errors (ordered: up to the first)."""
        statements = command.get(key)
        if not isinstance(statements, list):
            raise _CommandError(9, f"'{key}' must be an array")
        errors: list[Document] = []
        for index, statement in enumerate(statements):
            try:
                run(index, statement)
            except Exception as exc:
                error = _as_command_error(exc, next(iter(command)))
                errors.append({"index": index, "code": error.code, "errmsg": str(error)})
                if command.get("ordered", True):
                    break
        return errors

    @staticmethod
    def _write_reply(reply: Document, errors: list[Document]) -> Document:
        if errors:
            reply["writeErrors"] = errors
        return reply

    def _insert(self, db: str, command: Document) -> Document:
        collection = self._collection(db, command["insert"])
        inserted = 0

        def run(index: int, document: Any) -> None:
            nonlocal inserted
            collection.insert_one(document)
            inserted += 1

        errors = self._each(command, "documents", run)
        return self._write_reply({"n": inserted}, errors)

    def _update(self, db: str, command: Document) -> Document:
        collection = self._collection(db, command["update"])
        matched = modified = 0
        upserted: list[Document] = []

        def run(index: int, statement: Any) -> None:
            nonlocal matched, modified
            _check_fields(statement, frozenset({"q", "u", "multi", "upsert", "hint"}), "an update")
            query, update = statement.get("q") or {}, statement.get("u")
            multi, upsert = bool(statement.get("multi")), bool(statement.get("upsert"))
            if _check_update(update):
                if multi:
                    raise _CommandError(9, "multi update is not supported for a replacement")
                result = collection.replace_one(query, update, upsert=upsert)
            elif multi:
                result = collection.update_many(query, update, upsert=upsert)
            else:
                result = collection.update_one(query, update, upsert=upsert)
            if result.upserted_id is not None:  # mongomock never upserts an _id of None
                matched += 1
                upserted.append({"index": index, "_id": result.upserted_id})
            else:
                matched += result.matched_count
                modified += result.modified_count

        errors = self._each(command, "updates", run)
        reply: Document = {"n": matched, "nModified": modified}
        if upserted:
            reply["upserted"] = upserted
        return self._write_reply(reply, errors)

    def _delete(self, db: str, command: Document) -> Document:
        collection = self._collection(db, command["delete"])
        deleted = 0

        def run(index: int, statement: Any) -> None:
            nonlocal deleted
            _check_fields(statement, frozenset({"q", "limit", "hint"}), "a delete")
            query = statement.get("q") or {}
            if statement.get("limit"):
                deleted += collection.delete_one(query).deleted_count
            else:
                deleted += collection.delete_many(query).deleted_count

        errors = self._each(command, "deletes", run)
        return self._write_reply({"n": deleted}, errors)

    def _find_and_modify(self, db: str, command: Document) -> Document:
        collection = self._collection(db, command["findAndModify"])
        query: Document = command.get("query") or {}
        projection = command.get("fields") or None
        update, remove = command.get("update"), bool(command.get("remove"))
        if remove == (update is not None) or (remove and command.get("upsert")):
            raise _CommandError(
                9, "findAndModify needs either 'remove' or 'update' (with 'upsert')"
            )
        # mongomock's own find_one_and_* lose the target when the projection drops _id.
        sort = _sort_spec(command.get("sort"))
        with collection.sorted_by(sort, 1):
            target = collection.find_one(query, sort=sort)
        if target is None:
            if not command.get("upsert"):
                return {"lastErrorObject": {"n": 0, "updatedExisting": False}, "value": None}
            replacement = _check_update(update)
            write = collection.replace_one if replacement else collection.update_one
            new_id = write(query, update, upsert=True).upserted_id
            value = collection.find_one({"_id": new_id}, projection) if command.get("new") else None
            return {
                "lastErrorObject": {"n": 1, "updatedExisting": False, "upserted": new_id},
                "value": value,
            }
        by_id = {"_id": target["_id"]}
        before = collection.find_one(by_id, projection)
        if remove:
            collection.delete_one(by_id)
            return {"lastErrorObject": {"n": 1}, "value": before}
        # The original query stays in the filter so a positional '$' update still works.
        own_filter = {**query, **by_id} if "_id" not in query else {"$and": [query, by_id]}
        if _check_update(update):
            collection.replace_one(own_filter, update)
        else:
            collection.update_one(own_filter, update)
        value = collection.find_one(by_id, projection) if command.get("new") else before
        return {"lastErrorObject": {"n": 1, "updatedExisting": True}, "value": value}

    # -- reads and cursors ------------------------------------------------------------------

    def _find(self, db: str, command: Document) -> Document:
        name = _name(command["find"])
        collection = self._collection(db, name)
        skip, limit = _count(command.get("skip"), "skip"), _count(command.get("limit"), "limit")
        sort = _sort_spec(command.get("sort"))
        with collection.sorted_by(sort, skip + limit if limit else 0):
            documents = list(
                collection.find(
                    command.get("filter") or {},
                    command.get("projection") or None,
                    skip=skip,
                    limit=limit,
                    sort=sort,
                )
            )
        return self._open_cursor(
            f"{db}.{name}",
            documents,
            command.get("batchSize"),
            single_batch=bool(command.get("singleBatch")),
        )

    def _count_documents(self, db: str, command: Document) -> Document:
        documents = self._collection(db, command["count"]).find(
            command.get("query") or {},
            {"_id": 1},
            skip=_count(command.get("skip"), "skip"),
            limit=abs(int(command.get("limit") or 0)),
        )
        return {"n": len(list(documents))}

    def _distinct(self, db: str, command: Document) -> Document:
        key = command.get("key")
        if not isinstance(key, str):
            raise _CommandError(2, "'key' must be a string")
        values = self._collection(db, command["distinct"]).distinct(
            key, command.get("query") or None
        )
        return {"values": values}

    def _aggregate(self, db: str, command: Document) -> Document:
        if not isinstance(command["aggregate"], str):
            raise _unsupported("database-level aggregation ('aggregate: 1')")
        _check_pipeline(command.get("pipeline"))
        options = command.get("cursor")
        if not isinstance(options, Mapping):
            raise _CommandError(9, "the 'cursor' option is required")
        name = _name(command["aggregate"])
        documents = list(self._collection(db, name).aggregate(command["pipeline"]))
        return self._open_cursor(f"{db}.{name}", documents, options.get("batchSize"))

    def _open_cursor(
        self,
        namespace: str,
        documents: list[Document],
        batch_size: Any,
        single_batch: bool = False,
    ) -> Document:
        now = time.monotonic()
        for cursor_id in [
            i for i, c in self._cursors.items() if now - c.last_used > _CURSOR_IDLE_SECONDS
        ]:
            del self._cursors[cursor_id]
        cursor_id = secrets.randbelow(2**63 - 1) + 1
        self._cursors[cursor_id] = _Cursor(namespace, documents)
        size = _count(batch_size, "batchSize") if batch_size is not None else _FIRST_BATCH
        reply = self._next_batch(cursor_id, size, "firstBatch")
        if single_batch:
            self._cursors.pop(cursor_id, None)
            reply["cursor"]["id"] = Int64(0)
        return reply

    def _next_batch(self, cursor_id: int, batch_size: int, key: str) -> Document:
        """The next batch of a cursor: ``batch_size`` documents (0: any), within the size limit."""
        cursor = self._cursors[cursor_id]
        start = end = cursor.position
        stop = len(cursor.documents)
        if batch_size:
            stop = min(stop, start + batch_size)
        size = 0
        while end < stop:
            size += len(bson.encode(cursor.documents[end]))
            if size > _MAX_BSON_SIZE and end > start:
                break
            end += 1
        cursor.position, cursor.last_used = end, time.monotonic()
        if end >= len(cursor.documents):
            del self._cursors[cursor_id]
            cursor_id = 0
        batch = cursor.documents[start:end]
        return {"cursor": {key: batch, "id": Int64(cursor_id), "ns": cursor.namespace}}

    def _get_more(self, db: str, command: Document) -> Document:
        cursor_id = int(command["getMore"])
        if cursor_id not in self._cursors:
            raise _CommandError(43, f"cursor id {cursor_id} not found")
        return self._next_batch(
            cursor_id, _count(command.get("batchSize"), "batchSize"), "nextBatch"
        )

    def _kill_cursors(self, db: str, command: Document) -> Document:
        killed: list[Any] = []
        not_found: list[Any] = []
        for cursor_id in command.get("cursors") or []:
            found = self._cursors.pop(int(cursor_id), None) is not None
            (killed if found else not_found).append(cursor_id)
        return {
            "cursorsKilled": killed,
            "cursorsNotFound": not_found,
            "cursorsAlive": [],
            "cursorsUnknown": [],
        }

    # -- collections and indexes --------------------------------------------------------------

    def _create(self, db: str, command: Document) -> Document:
        name = _name(command["create"])
        if self._exists(db, name):
            raise _CommandError(48, f"Collection {db}.{name} already exists.")
        self._client[db].create_collection(name)
        return {}

    def _drop(self, db: str, command: Document) -> Document:
        name = _name(command["drop"])
        if not self._exists(db, name):
            return {}  # as MongoDB 7 answers
        indexes = len(list(self._client[db][name].list_indexes()))
        self._client[db].drop_collection(name)
        return {"nIndexesWas": indexes, "ns": f"{db}.{name}"}

    def _list_collections(self, db: str, command: Document) -> Document:
        collections: list[Document] = [
            {
                "name": name,
                "type": "collection",
                "options": {},
                "info": {"readOnly": False},
                "idIndex": {"v": 2, "key": {"_id": 1}, "name": "_id_"},
            }
            for name in sorted(self._client[db].list_collection_names())
        ]
        if command.get("filter"):
            collections = [c for c in collections if _filter_applies(command["filter"], c)]
        if command.get("nameOnly"):
            collections = [{"name": c["name"], "type": c["type"]} for c in collections]
        batch_size = (command.get("cursor") or {}).get("batchSize")
        return self._open_cursor(f"{db}.$cmd.listCollections", collections, batch_size)

    def _create_indexes(self, db: str, command: Document) -> Document:
        name = _name(command["createIndexes"])
        existed = self._exists(db, name)
        collection = self._collection(db, name)
        before = len(list(collection.list_indexes())) if existed else 0
        specs = command.get("indexes")
        if not isinstance(specs, list) or not specs:
            raise _CommandError(2, "'indexes' must be a non-empty array")
        for spec in specs:
            _check_fields(spec, _INDEX_OPTIONS | _INDEX_IGNORED, "an index")
            keys = spec.get("key")
            if not isinstance(keys, Mapping) or not keys or "name" not in spec:
                raise _CommandError(9, "an index needs a 'key' document and a 'name'")
            for key, kind in keys.items():
                if kind not in (1, -1):
                    raise _unsupported(f"the index type {kind!r} (on '{key}')")
            if not strict.check_index(collection._store.indexes, spec["name"], spec):
                continue  # exactly this index exists already
            if len(keys) > 1:
                for document in collection._store.documents:
                    strict.check_parallel_arrays(document, list(keys))
            options = {k: spec[k] for k in _INDEX_OPTIONS if k in spec}
            collection.create_index([(k, int(v)) for k, v in keys.items()], **options)
        return {
            "createdCollectionAutomatically": not existed,
            "numIndexesBefore": before,
            "numIndexesAfter": len(list(collection.list_indexes())),
        }

    def _list_indexes(self, db: str, command: Document) -> Document:
        name = _name(command["listIndexes"])
        if not self._exists(db, name):
            raise _CommandError(26, f"ns does not exist: {db}.{name}")
        indexes = list(self._client[db][name].list_indexes())
        batch_size = (command.get("cursor") or {}).get("batchSize")
        return self._open_cursor(f"{db}.$cmd.listIndexes.{name}", indexes, batch_size)

    def _drop_indexes(self, db: str, command: Document) -> Document:
        name = _name(command["dropIndexes"])
        if not self._exists(db, name):
            raise _CommandError(26, f"ns not found: {db}.{name}")
        collection = self._client[db][name]
        before = len(list(collection.list_indexes()))
        index = command.get("index")
        if index == "*":
            collection.drop_indexes()
        elif isinstance(index, Mapping):
            collection.drop_index(list(index.items()))
        else:
            for index_name in index if isinstance(index, list) else [index]:
                collection.drop_index(index_name)
        return {"nIndexesWas": before}

    def _sweep_expired(self) -> None:
        """Delete documents past a TTL index's expiry, at most once a minute like MongoDB."""
        now = time.monotonic()
        if now < self._next_ttl_sweep:
            return
        self._next_ttl_sweep = now + _TTL_SWEEP_SECONDS
        utc_now = datetime.now(UTC).replace(tzinfo=None)  # mongomock stores naive UTC
        for db_name in self._client.list_database_names():
            database = self._client[db_name]
            for name in database.list_collection_names():
                for index in database[name].list_indexes():
                    if "expireAfterSeconds" not in index or len(index["key"]) != 1:
                        continue
                    (key,) = index["key"]
                    cutoff = utc_now - timedelta(seconds=index["expireAfterSeconds"])
                    expired: Document = {key: {"$lt": cutoff}}
                    if "partialFilterExpression" in index:
                        expired = {"$and": [index["partialFilterExpression"], expired]}
                    database[name].delete_many(expired)
