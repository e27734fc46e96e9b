"""The portal's own collections; cases are read from ``complaints`` and never written.

- ``portal_notices``: intake's notifications for the web and Open311 channels, without
  the recipient (``_id`` = the notification's ``message_id``).
- ``portal_reply_codes``: a hash of each report's reply code, keyed by (channel,
  external_id) — the case document stays intake's.
- ``portal_api_keys``: Open311 API keys, hashed.
- ``portal_open311_tokens``: the tokens Open311 POSTs were answered with.
- ``fs.files`` / ``fs.chunks`` (GridFS bucket ``portal_attachments``): attachments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gridfs import AsyncGridFSBucket
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

Document = dict[str, Any]

NOTICES = "portal_notices"
REPLY_CODES = "portal_reply_codes"
API_KEYS = "portal_api_keys"
OPEN311_TOKENS = "portal_open311_tokens"
ATTACHMENTS_BUCKET = "portal_attachments"


@dataclass(frozen=True)
class ReplyCodeRecord:
    """A report's reply code as the portal keeps it: its hash, never the code in clear.

    ``code_sealed`` (the code, sealed for this report) lets the submitting ``browser`` see
    the code on the confirmation page for a while; it is removed after that.
    """

    channel: str
    external_id: str
    code_hash: str
    code_sealed: bytes
    browser: str
    created_at: datetime


class PortalStore:
    """The collections only the portal writes."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.db = db
        self.complaints: AsyncCollection[Document] = db["complaints"]
        self.agencies: AsyncCollection[Document] = db["agencies"]
        self.notices: AsyncCollection[Document] = db[NOTICES]
        self.reply_codes: AsyncCollection[Document] = db[REPLY_CODES]
        self.api_keys: AsyncCollection[Document] = db[API_KEYS]
        self.open311_tokens: AsyncCollection[Document] = db[OPEN311_TOKENS]
        self.attachment_files: AsyncCollection[Document] = db[f"{ATTACHMENTS_BUCKET}.files"]
        self.attachments = AsyncGridFSBucket(db, bucket_name=ATTACHMENTS_BUCKET)

    async def save_reply_code(self, record: ReplyCodeRecord) -> Document:
        """Keep a report's reply-code hash (first write wins: a resend keeps the first code)."""
        doc = await self.reply_codes.find_one_and_update(
            {"_id": f"{record.channel}:{record.external_id}"},
            {
                "$setOnInsert": {
                    "channel": record.channel,
                    "external_id": record.external_id,
                    "code_hash": record.code_hash,
                    "code_sealed": record.code_sealed,
                    "browser": record.browser,
                    "created_at": record.created_at,
                }
            },
            upsert=True,
            return_document=True,
        )
        assert doc is not None  # upsert with return_document=True always returns one
        return doc

    async def reply_code_of(self, channel: str, external_id: str) -> Document | None:
        """The reply-code record of a report, by its channel and external ID."""
        return await self.reply_codes.find_one({"_id": f"{channel}:{external_id}"})

    async def forget_shown_code(self, channel: str, external_id: str) -> None:
        """Drop the sealed copy of a code once its showing window is over."""
        await self.reply_codes.update_one(
            {"_id": f"{channel}:{external_id}"}, {"$unset": {"code_sealed": ""}}
        )

    async def case(self, tracking_id: str) -> Document | None:
        """A case by tracking ID (read-only)."""
        return await self.complaints.find_one({"_id": tracking_id.strip().upper()})

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
