"""The portal's own collections; cases are read from ``complaints`` and never written.

- ``portal_notices``: intake's notifications for the web and Open311 channels, without
  the recipient (``_id`` = the notification's ``message_id``).
- ``portal_reply_codes``: a hash of each report's reply code, keyed by (channel,
  external_id) — the case document stays intake's.
- ``portal_api_keys``: Open311 API keys, hashed.
- ``fs.files`` / ``fs.chunks`` (GridFS bucket ``portal_attachments``): attachments.
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

Document = dict[str, Any]

NOTICES = "portal_notices"
REPLY_CODES = "portal_reply_codes"
API_KEYS = "portal_api_keys"
ATTACHMENTS_BUCKET = "portal_attachments"


class PortalStore:
    """The collections only the portal writes."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.db = db
        self.complaints: AsyncCollection[Document] = db["complaints"]
        self.agencies: AsyncCollection[Document] = db["agencies"]
        self.notices: AsyncCollection[Document] = db[NOTICES]
        self.reply_codes: AsyncCollection[Document] = db[REPLY_CODES]
        self.api_keys: AsyncCollection[Document] = db[API_KEYS]

    async def ensure_indexes(self) -> None:
        """The indexes behind the portal's own look-ups (idempotent)."""
        await self.notices.create_indexes(
            [
                IndexModel([("external_id", ASCENDING)], name="external_id"),
                IndexModel(
                    [("tracking_id", ASCENDING), ("occurred_at", DESCENDING)], name="tracking_id"
                ),
            ]
        )
        await self.api_keys.create_indexes(
            [IndexModel([("key_hash", ASCENDING)], unique=True, name="key_hash")]
        )
