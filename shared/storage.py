"""MongoDB through PyMongo's native async API: one database, a collection per concern.

``LAPOR_MONGO_URL=memory://`` starts the development stand-in server inside this
process (see :mod:`lapor_devdb`); every other URL goes to a real MongoDB. Either way
the code below talks to a server through the real driver and wire protocol.

The ``complaints`` document (``_id`` = tracking ID), by who writes which fields:

- intake: ``tracking_id channel external_id kind title description category_hint
  agency_hint location attachments anonymous confidential reporter{sealed,
  fingerprints, has_contact} raw_sealed unknown_fields status submitted_at received_at
  updated_at deadlines.verification timeline[]``
- verification: ``checks[] category severity kind anonymous confidential duplicate_of
  verified_at archive_reason question``; also ``suggestion{category, severity}``,
  ``text_terms[] dedup_keys[] dedup_version`` (the duplicate look-up; the version says
  which term order and similarity made the keys), ``duplicates[]`` (on an original:
  the cases archived as its duplicates), ``archived_at``, ``agency_hint`` (when the admin
  names the agency) and ``deadlines.verification`` (restarted when a deferred case resumes)
- routing: ``agency agency_name agency_tz hop hops[] dispatched_at deadlines.follow_up
  deadlines.resolution first_answer_at resolved_at final_answer deadlines.auto_close
  additions[] reopened_at reopen_count rating rated_at closed_at close_reason``
- escalation: ``escalation{next_at, live, fired[]}``, and on the auto-close step
  ``closed_at close_reason``. Intake (a new case), verification (verified) and routing
  (dispatched) also write ``escalation.next_at`` and ``escalation.live``: the timer
  escalation would compute, stored with the step (:mod:`shared.timers`).
- every writer: ``status`` (only through a step of :mod:`shared.lifecycle`, guarded by the
  expected current status), ``timeline[]`` entries ``{at, step, actor, by?, from?, to,
  note?}``, ``applied[]`` (message IDs of commands already applied, so a redelivered
  command is a no-op), ``outbox[] outbox_due_at`` (see :mod:`shared.outbox`).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

from pymongo import ASCENDING, AsyncMongoClient, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure
from pymongo.monitoring import CommandListener

from shared.settings import LaporSettings

Document = dict[str, Any]

COMPLAINTS = "complaints"
QUARANTINE = "quarantine"
AGENCIES = "agencies"

MEMORY_URL = "memory://"

_INDEX_OPTIONS = ("unique", "sparse", "partialFilterExpression", "expireAfterSeconds")
_INDEX_OPTIONS_CONFLICT = 85
_INDEX_KEY_SPECS_CONFLICT = 86


class IndexMismatch(RuntimeError):
    """Existing indexes differ from what LAPOR declares; says how to migrate them."""

    def __init__(self, database: str, mismatches: list[str]) -> None:
        self.mismatches = mismatches
        lines = "\n".join(f"  - {m}" for m in mismatches)
        super().__init__(
            f"MongoDB database '{database}' has indexes that differ from what this LAPOR "
            f"version declares (shared/storage.py):\n{lines}\n"
            "To migrate: drop each index named above (mongosh: "
            "`db.<collection>.dropIndex('<name>')`), then start any LAPOR service (or "
            "`lapor agencies load`), which creates the declared ones. Queries that rely on "
            "a dropped index scan until it is rebuilt; a unique index fails to build while "
            "duplicates exist, and says which."
        )


def _index_key(spec: Any) -> list[tuple[str, int]]:
    return [(str(field), int(direction)) for field, direction in dict(spec).items()]


def _index_options(spec: Any) -> dict[str, Any]:
    return {option: spec[option] for option in _INDEX_OPTIONS if spec.get(option)}


def index_mismatches(
    collection: str, existing: Sequence[Mapping[str, Any]], declared: list[IndexModel]
) -> list[str]:
    """How the ``existing`` indexes of ``collection`` contradict the ``declared`` ones."""
    by_name = {index["name"]: index for index in existing}
    found: list[str] = []
    for model in declared:
        wanted = model.document
        name, key, options = wanted["name"], _index_key(wanted["key"]), _index_options(wanted)
        have = by_name.get(name)
        if have is not None:
            if _index_key(have["key"]) != key or _index_options(have) != options:
                found.append(
                    f"{collection}.{name}: exists as key {dict(_index_key(have['key']))} "
                    f"{_index_options(have)}, declared as key {dict(key)} {options}"
                )
            continue
        for other in existing:
            if _index_key(other["key"]) == key and other["name"] != name:
                found.append(
                    f"{collection}.{other['name']}: has the key {dict(key)} that LAPOR "
                    f"declares as index '{name}' {options}"
                )
    return found


_stand_in_lock = threading.Lock()
_stand_in_url: str | None = None


class StandInMissing(RuntimeError):
    """The development stand-in MongoDB is wanted but not installed (a production install)."""


def import_stand_in() -> ModuleType:
    """The development stand-in package (:mod:`lapor_devdb`), imported only when asked for.

    It is an optional extra so that production installs and the image carry no fake
    database; the services never import it.
    """
    try:
        import lapor_devdb
    except ImportError as exc:
        raise StandInMissing(
            "the development stand-in MongoDB (LAPOR_MONGO_URL=memory://, `lapor devdb`) is "
            "not installed here: install it with `pip install 'lapor[devdb]'` (development "
            "and tests only), or point LAPOR_MONGO_URL at a real MongoDB "
            f"({type(exc).__name__}: {exc})"
        ) from None
    return lapor_devdb


def _in_process_stand_in() -> str:
    global _stand_in_url
    with _stand_in_lock:
        if _stand_in_url is None:
            _stand_in_url = import_stand_in().StandInMongoServer().start()
        return _stand_in_url


def resolve_mongo_url(url: str) -> str:
    """The URL to connect to; ``memory://`` becomes this process's stand-in server."""
    return _in_process_stand_in() if url.startswith(MEMORY_URL) else url


# Given to every client this process makes: the tests record the query shapes the services
# send with one (tests/query_shapes.py); empty, and so free, everywhere else.
command_listeners: list[CommandListener] = []


def mongo_client(
    settings: LaporSettings,
    app_name: str = "lapor",
    server_selection_timeout_ms: int | None = None,
) -> AsyncMongoClient[Document]:
    """A client for the configured server (timezone-aware datetimes).

    ``server_selection_timeout_ms``: how long an operation waits for a server before failing
    (None: the driver's 30 s; a command at a terminal wants an answer in seconds).
    """
    url = resolve_mongo_url(settings.mongo_url.get_secret_value())
    if server_selection_timeout_ms is None:
        return AsyncMongoClient(
            url, tz_aware=True, appname=app_name, event_listeners=list(command_listeners)
        )
    return AsyncMongoClient(
        url,
        tz_aware=True,
        appname=app_name,
        event_listeners=list(command_listeners),
        serverSelectionTimeoutMS=server_selection_timeout_ms,
        connectTimeoutMS=server_selection_timeout_ms,
    )


class Store:
    """The database and its collections."""

    def __init__(self, client: AsyncMongoClient[Document], database: str) -> None:
        self.client = client
        self.db: AsyncDatabase[Document] = client[database]
        self.complaints: AsyncCollection[Document] = self.db[COMPLAINTS]
        self.quarantine: AsyncCollection[Document] = self.db[QUARANTINE]
        self.agencies: AsyncCollection[Document] = self.db[AGENCIES]

    @classmethod
    def from_settings(
        cls,
        settings: LaporSettings,
        app_name: str = "lapor",
        server_selection_timeout_ms: int | None = None,
    ) -> Store:
        """A store on the configured server and database."""
        client = mongo_client(settings, app_name, server_selection_timeout_ms)
        return cls(client, settings.mongo_db)

    def declared_indexes(self) -> list[tuple[AsyncCollection[Document], list[IndexModel]]]:
        """Every index the services' queries rely on, by collection."""
        return [
            (
                self.complaints,
                [
                    IndexModel(
                        [("channel", ASCENDING), ("external_id", ASCENDING)],
                        unique=True,
                        name="channel_external_id",
                    ),
                    IndexModel([("status", ASCENDING)], name="status"),
                    IndexModel([("outbox_due_at", ASCENDING)], sparse=True, name="outbox_due"),
                    IndexModel(
                        [("escalation.next_at", ASCENDING)], sparse=True, name="next_deadline"
                    ),
                    IndexModel(
                        [("agency", ASCENDING), ("status", ASCENDING)], name="agency_status"
                    ),
                    IndexModel(
                        [("reporter.fingerprints", ASCENDING)], name="reporter_fingerprints"
                    ),
                    IndexModel([("received_at", ASCENDING)], name="received_at"),
                    IndexModel([("dedup_keys", ASCENDING)], name="dedup_keys"),
                ],
            ),
            (
                self.quarantine,
                [IndexModel([("quarantined_at", ASCENDING)], name="quarantined_at")],
            ),
            (
                self.agencies,
                [
                    IndexModel([("region_codes", ASCENDING)], name="region_codes"),
                    IndexModel([("categories", ASCENDING)], name="categories"),
                ],
            ),
            (
                # Intake's rate-limit counters go when their window has passed.
                self.db["rate_limits"],
                [IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expires_at")],
            ),
        ]

    async def ensure_indexes(self) -> None:
        """Create the indexes every query of the services relies on (idempotent).

        An existing index that differs from its declaration (another key or options under
        the same name, or the same key under another name) is not replaced behind the
        operator's back: :class:`IndexMismatch` says which and how to migrate.
        """
        declared = self.declared_indexes()
        mismatches: list[str] = []
        for collection, models in declared:
            existing = [index async for index in await collection.list_indexes()]
            mismatches += index_mismatches(collection.name, existing, models)
        if mismatches:
            raise IndexMismatch(self.db.name, mismatches)
        for collection, models in declared:
            try:
                await collection.create_indexes(models)
            except OperationFailure as exc:
                if exc.code not in (_INDEX_OPTIONS_CONFLICT, _INDEX_KEY_SPECS_CONFLICT):
                    raise
                # another process made a different one in between: the same advice
                raise IndexMismatch(self.db.name, [f"{collection.name}: {exc}"]) from None

    async def close(self) -> None:
        """Close the client."""
        await self.client.close()
