"""MongoDB through PyMongo's native async API: one database, a collection per concern.

``LAPOR_MONGO_URL=memory://`` starts the development stand-in server inside this
process (see :mod:`shared.devdb`); every other URL goes to a real MongoDB. Either way
the code below talks to a server through the real driver and wire protocol.

The ``complaints`` document (``_id`` = tracking ID), by who writes which fields:

- intake: ``tracking_id channel external_id kind title description category_hint
  agency_hint location attachments anonymous confidential reporter{sealed,
  fingerprints, has_contact} raw_sealed unknown_fields status submitted_at received_at
  updated_at deadlines.verification timeline[]``
- verification: ``checks[] category severity kind anonymous confidential duplicate_of
  verified_at archive_reason question``; also ``suggestion{category, severity}``,
  ``text_terms[] dedup_keys[]`` (the duplicate look-up), ``duplicates[]`` (on an original:
  the cases archived as its duplicates), ``archived_at``, ``agency_hint`` (when the admin
  names the agency) and ``deadlines.verification`` (restarted when a deferred case resumes)
- routing: ``agency agency_name agency_tz hop hops[] dispatched_at deadlines.follow_up
  deadlines.resolution first_answer_at resolved_at final_answer deadlines.auto_close
  additions[] reopened_at reopen_count rating rated_at closed_at close_reason``
- escalation: ``escalation{next_at, live, fired[]}``, and on the auto-close step
  ``closed_at close_reason``.
- every writer: ``status`` (only through a step of :mod:`shared.lifecycle`, guarded by the
  expected current status), ``timeline[]`` entries ``{at, step, actor, by?, from?, to,
  note?}``, ``applied[]`` (message IDs of commands already applied, so a redelivered
  command is a no-op), ``outbox[] outbox_due_at`` (see :mod:`shared.outbox`).
"""

from __future__ import annotations

import threading
from typing import Any

from pymongo import ASCENDING, AsyncMongoClient, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from shared.settings import LaporSettings

Document = dict[str, Any]

COMPLAINTS = "complaints"
QUARANTINE = "quarantine"
AGENCIES = "agencies"

MEMORY_URL = "memory://"

_stand_in_lock = threading.Lock()
_stand_in_url: str | None = None


def _in_process_stand_in() -> str:
    global _stand_in_url
    with _stand_in_lock:
        if _stand_in_url is None:
            from shared.devdb import StandInMongoServer

            _stand_in_url = StandInMongoServer().start()
        return _stand_in_url


def resolve_mongo_url(url: str) -> str:
    """The URL to connect to; ``memory://`` becomes this process's stand-in server."""
    return _in_process_stand_in() if url.startswith(MEMORY_URL) else url


def mongo_client(settings: LaporSettings, app_name: str = "lapor") -> AsyncMongoClient[Document]:
    """A client for the configured server (timezone-aware datetimes)."""
    url = resolve_mongo_url(settings.mongo_url.get_secret_value())
    return AsyncMongoClient(url, tz_aware=True, appname=app_name)


class Store:
    """The database and its collections."""

    def __init__(self, client: AsyncMongoClient[Document], database: str) -> None:
        self.client = client
        self.db: AsyncDatabase[Document] = client[database]
        self.complaints: AsyncCollection[Document] = self.db[COMPLAINTS]
        self.quarantine: AsyncCollection[Document] = self.db[QUARANTINE]
        self.agencies: AsyncCollection[Document] = self.db[AGENCIES]

    @classmethod
    def from_settings(cls, settings: LaporSettings, app_name: str = "lapor") -> Store:
        """A store on the configured server and database."""
        return cls(mongo_client(settings, app_name), settings.mongo_db)

    async def ensure_indexes(self) -> None:
        """Create the indexes every query of the services relies on (idempotent)."""
        await self.complaints.create_indexes(
            [
                IndexModel(
                    [("channel", ASCENDING), ("external_id", ASCENDING)],
                    unique=True,
                    name="channel_external_id",
                ),
                IndexModel([("status", ASCENDING)], name="status"),
                IndexModel([("outbox_due_at", ASCENDING)], sparse=True, name="outbox_due"),
                IndexModel([("escalation.next_at", ASCENDING)], sparse=True, name="next_deadline"),
                IndexModel([("agency", ASCENDING), ("status", ASCENDING)], name="agency_status"),
                IndexModel([("reporter.fingerprints", ASCENDING)], name="reporter_fingerprints"),
                IndexModel([("received_at", ASCENDING)], name="received_at"),
                IndexModel([("dedup_keys", ASCENDING)], name="dedup_keys"),
            ]
        )
        await self.quarantine.create_indexes(
            [IndexModel([("quarantined_at", ASCENDING)], name="quarantined_at")]
        )
        # Intake's rate-limit counters go when their window has passed.
        await self.db["rate_limits"].create_indexes(
            [IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expires_at")]
        )
        await self.agencies.create_indexes(
            [
                IndexModel([("region_codes", ASCENDING)], name="region_codes"),
                IndexModel([("categories", ASCENDING)], name="categories"),
            ]
        )

    async def close(self) -> None:
        """Close the client."""
        await self.client.close()
