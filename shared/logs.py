"""Structured logs (one JSON object a line) that never carry reporter identity.

Code never passes identity to a logger; as a second line of defence, anything that
looks like a phone number or an e-mail address is masked before a record is written.

Cheap when a level is off (the standard library's level check, cached per logger,
returns before a record is made) and cheaper when it is on: a record skips what the
JSON line never shows (the caller's source line, thread, process names), and text that
cannot hold an address or a number skips the masking expressions.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w-])(\+?62|0)[\s-]?8[\d\s-]{7,14}\d")
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def redact(text: str) -> str:
    """``text`` with e-mail addresses and Indonesian mobile numbers masked."""
    # Every address has an '@' and every mobile number an '8': most log text has neither,
    # and a substring test is far cheaper than running the expressions over it.
    if "@" in text:
        text = _EMAIL.sub("[email]", text)
    if "8" in text:
        text = _PHONE.sub("[phone]", text)
    return text


class JsonFormatter(logging.Formatter):
    """A log record as one JSON line, identity-like text masked."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        """The record as JSON."""
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "service": self._service,
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        attributes = vars(record)
        # The fields a call passed in ``extra``: a set difference, not a loop over all.
        for key in sorted(attributes.keys() - _STANDARD):
            if not key.startswith("_"):
                value = attributes[key]
                entry[key] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str, ensure_ascii=False)


def _lean_records() -> None:
    """Records stop collecting what the JSON line never shows (the logging HOWTO's advice).

    Finding the caller walks the stack on every record; thread and process names cost a
    look-up each. None of them is written, so none is collected.
    """
    logging._srcfile = None  # documented in the logging HOWTO: skips findCaller
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    if hasattr(logging, "logAsyncioTasks"):  # Python 3.12+
        logging.logAsyncioTasks = False


def configure_logging(service: str, level: str = "INFO") -> None:
    """Send every log record of this process to stderr as JSON."""
    _lean_records()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiormq").setLevel(logging.WARNING)
    logging.getLogger("aio_pika").setLevel(logging.WARNING)
    logging.getLogger("pymongo").setLevel(logging.WARNING)
