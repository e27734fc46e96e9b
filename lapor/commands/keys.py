"""``lapor keys rotate``: re-seal every stored identity under the current identity key.

Rotating ``LAPOR_PII_KEY``, step by step (deploy/README.md):

1. ``lapor keygen`` makes the new key. Every process gets ``LAPOR_PII_KEY`` = the new
   key, ``LAPOR_PII_KEY_ID`` = a new id (``k2``), and ``LAPOR_PII_OLD_KEYS`` =
   ``k1:<old key>``, and is restarted: new data is sealed under ``k2``, old data still
   opens, and fingerprints are computed under both keys, so "same reporter" look-ups keep
   matching across the two.
2. ``lapor keys rotate`` (same settings) opens every sealed value that is not under
   ``k2`` and seals it again under ``k2``; a case's fingerprints are recomputed from its
   identity under the current key. Each write is guarded by the value it replaces, so a
   case changed meanwhile is simply read again. It is idempotent: run it until it
   reports nothing left.
3. Drop ``LAPOR_PII_OLD_KEYS`` everywhere and restart. Destroy the old key.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass, field
from typing import Any

from shared.pii import IdentityProtector, IdentityUnreadable

Document = dict[str, Any]


@dataclass
class RotationReport:
    """What a rotation did; ``unreadable`` lists what no key held opens (by id only)."""

    resealed: int = 0
    current: int = 0
    unreadable: list[str] = field(default_factory=list)
    changed_meanwhile: int = 0


def _fingerprints(protector: IdentityProtector, channel: str, identity: Document) -> list[str]:
    values = [identity.get(k) for k in ("phone", "email", "handle")]
    phone, email, handle = (v if isinstance(v, str) else None for v in values)
    return sorted(protector.current_fingerprints(channel, phone, email, handle))


async def _rotate_complaint(
    complaints: Any, protector: IdentityProtector, case: Document, report: RotationReport
) -> bool:
    """Re-seal one case; False if it changed meanwhile (read it again)."""
    tracking_id = str(case["_id"])
    guard: Document = {"_id": case["_id"]}
    updates: Document = {}
    sealed = (case.get("reporter") or {}).get("sealed")
    raw = case.get("raw_sealed")
    try:
        if isinstance(sealed, bytes) and not protector.is_current(sealed):
            identity = protector.open_json(sealed, tracking_id)
            guard["reporter.sealed"] = sealed
            updates["reporter.sealed"] = protector.reseal(sealed, tracking_id)
            updates["reporter.fingerprints"] = _fingerprints(
                protector, str(case.get("channel") or ""), identity
            )
        if isinstance(raw, bytes) and not protector.is_current(raw):
            guard["raw_sealed"] = raw
            updates["raw_sealed"] = protector.reseal(raw, tracking_id)
    except IdentityUnreadable:
        report.unreadable.append(tracking_id)
        return True
    if not updates:
        report.current += 1
        return True
    result = await complaints.update_one(guard, {"$set": updates})
    if result.matched_count == 0:
        return False
    report.resealed += 1
    return True


async def rotate(store: Any, protector: IdentityProtector, batch: int = 500) -> RotationReport:
    """Re-seal every case's identity and raw message, and every quarantined message."""
    report = RotationReport()
    projection = {"reporter.sealed": 1, "raw_sealed": 1, "channel": 1}
    async for listed in store.complaints.find({}, projection, batch_size=batch):
        case: Document | None = listed
        for _ in range(10):  # a case changed meanwhile is read again
            if case is None or await _rotate_complaint(store.complaints, protector, case, report):
                break
            case = await store.complaints.find_one({"_id": listed["_id"]}, projection)
        else:
            report.changed_meanwhile += 1
    async for record in store.quarantine.find({}, {"raw_sealed": 1}, batch_size=batch):
        raw = record.get("raw_sealed")
        if not isinstance(raw, bytes) or protector.is_current(raw):
            report.current += 1
            continue
        try:
            fresh = protector.reseal(raw, str(record["_id"]))
        except IdentityUnreadable:
            report.unreadable.append(str(record["_id"]))
            continue
        result = await store.quarantine.update_one(
            {"_id": record["_id"], "raw_sealed": raw}, {"$set": {"raw_sealed": fresh}}
        )
        if result.matched_count:
            report.resealed += 1
        else:
            report.changed_meanwhile += 1
    return report


async def _run_rotation() -> int:
    from shared.settings import LaporSettings
    from shared.storage import Store

    settings = LaporSettings()
    protector = IdentityProtector.from_keyring(settings.pii_keyring(), settings.pii_key_id)
    store = Store.from_settings(settings, app_name="lapor-keys")
    try:
        report = await rotate(store, protector)
    finally:
        await store.close()
    out = sys.stdout
    out.write(
        f"key {settings.pii_key_id}: {report.resealed} re-sealed, {report.current} already "
        f"current, {report.changed_meanwhile} changed meanwhile (run again), "
        f"{len(report.unreadable)} unreadable with the keys given\n"
    )
    for record_id in report.unreadable:
        out.write(f"  unreadable: {record_id}\n")
    left = report.changed_meanwhile + len(report.unreadable)
    if not left:
        out.write("nothing left under an old key: LAPOR_PII_OLD_KEYS can be removed\n")
    return 1 if left else 0


def _rotate(_: argparse.Namespace) -> int:
    return asyncio.run(_run_rotation())


def register(subparsers: Any) -> None:
    """Add ``keys rotate``."""
    parser = subparsers.add_parser(
        "keys",
        help="manage the identity key (LAPOR_PII_KEY)",
        description="Identity key management. Rotation: give every process the new key as "
        "LAPOR_PII_KEY with a new LAPOR_PII_KEY_ID and the old one in LAPOR_PII_OLD_KEYS "
        "(id:base64), restart them, then run `lapor keys rotate`.",
    )
    actions = parser.add_subparsers(dest="keys_action", metavar="ACTION", required=True)
    rotate_parser = actions.add_parser(
        "rotate",
        help="re-seal every stored identity under the current key (idempotent)",
        description="Open every sealed identity, raw message and quarantined message that is "
        "not under LAPOR_PII_KEY_ID and seal it again under it; recompute the reporter "
        "fingerprints. Exit 1 while anything is left under an old key.",
    )
    rotate_parser.set_defaults(handler=_rotate)
