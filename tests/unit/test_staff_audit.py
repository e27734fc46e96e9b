"""The audit log is append-only in code: it can insert and read, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from services.portal.staff.audit import AppendOnly, AuditLog

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


class EveryOperation:
    """A stand-in collection that has every write a real one has."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: (name, args, kwargs)


def _public(thing: object) -> set[str]:
    return {name for name in dir(thing) if not name.startswith("_")}


def test_the_audit_log_offers_only_append_and_read() -> None:
    assert _public(AuditLog) == {"record", "search"}
    log = AuditLog(EveryOperation())  # type: ignore[arg-type]
    handle = log._entries
    assert isinstance(handle, AppendOnly)
    assert _public(handle) == {"find", "insert_one"}
    for write in ("update_one", "update_many", "replace_one", "delete_one", "delete_many",
                  "find_one_and_update", "find_one_and_delete", "bulk_write", "drop"):  # fmt: skip
        assert not hasattr(handle, write), write
    with pytest.raises(AttributeError):
        handle.update_one = print  # type: ignore[attr-defined]  # no slot to add one


def test_no_code_reaches_the_audit_collection_but_through_the_log() -> None:
    """The collection is named in one module, and there only to wrap it or index it."""
    named = re.compile(r"""\[\s*(?:AUDIT|["']audit["'])\s*\]""")
    uses: list[str] = []
    for folder in ("services", "lapor", "shared"):
        for path in (ROOT / folder).rglob("*.py"):
            for line in path.read_text().splitlines():
                if named.search(line):
                    uses.append(f"{path.relative_to(ROOT)}: {line.strip()}")
    assert uses == [
        "services/portal/staff/store.py: audit=AuditLog(db[AUDIT]),",
        "services/portal/staff/store.py: await db[AUDIT].create_indexes(",
    ]
