"""The stand-in's refusals, with MongoDB's own error codes and code names."""

from __future__ import annotations

from typing import Any

from pymongo.errors import DuplicateKeyError

CODE_NAMES = {
    1: "InternalError",
    2: "BadValue",
    9: "FailedToParse",
    15: "Overflow",
    20: "IllegalOperation",
    26: "NamespaceNotFound",
    28: "PathNotViable",
    40: "ConflictingUpdateOperators",
    43: "CursorNotFound",
    48: "NamespaceExists",
    59: "CommandNotFound",
    73: "InvalidNamespace",
    85: "IndexOptionsConflict",
    86: "IndexKeySpecsConflict",
    171: "CannotIndexParallelArrays",
    238: "NotImplemented",
    11000: "DuplicateKey",
    17419: "Location17419",
}


class _CommandError(Exception):
    """A command (or one write of it) failed; becomes ``{ok: 0, code, errmsg}``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code

    def as_reply(self) -> dict[str, Any]:
        """The error reply a driver reads."""
        return {
            "ok": 0,
            "errmsg": str(self),
            "code": self.code,
            "codeName": CODE_NAMES.get(self.code, "Location"),
        }


class RolledBack(DuplicateKeyError):
    """A refusal found after mongomock changed or stored a document.

    mongomock puts the document back only when a write fails with a duplicate key, so a
    refusal found at that point travels as one, carrying the real error.
    """

    def __init__(self, error: _CommandError) -> None:
        super().__init__(str(error), error.code)
        self.error = error
