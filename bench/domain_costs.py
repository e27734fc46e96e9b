"""The services' own domain code per report, without broker or store: CPU µs per call.

    nice -n 5 .venv/bin/python -m bench.domain_costs [--reports 1000] [--rounds 5]

Each service's pure per-report path, on the pipeline benchmark's own reports
(``bench/pipeline.py``'s generator) and on a few hand-written ones (a private-sector
report, an insult, a link, an anonymous report with a name in the text):

- intake: ``parse_report`` (validate, normalise) and the case document with its sealed
  identity (``shared.case.new_case``);
- verification: ``facts_of`` (the report's terms) alone, and the whole check:
  ``facts_of``, ``dedup_keys``, ``assess`` (every check and the suggestions), ``decide``;
- routing: ``decide_route`` of the verified case (choose the agency, open the identity,
  mask it in the Disposition, the deadlines);
- escalation: ``presume`` for ``complaint.received`` and ``complaint.dispatched``.

CPU time (``time.process_time``) over every report, the best of ``--rounds`` rounds.
``--phones``: every reporter also gives a phone number (as on SMS and WhatsApp), which
intake fingerprints and routing masks in four spellings.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.pipeline import report as bench_report
from services.escalation.decisions import presume
from services.intake.reports import parse_report
from services.routing.decisions import Rules as RoutingRules
from services.routing.decisions import decide_route
from services.routing.registry import read_registry, sample_registry_path
from services.verification.checks import dedup_keys
from services.verification.decisions import facts_of
from services.verification.policy import VerificationPolicy, assess, decide
from shared.calendar import WorkingCalendar
from shared.case import Case, Receipt, new_case
from shared.contract import ComplaintVerified
from shared.lifecycle import Kind, Severity, Status
from shared.pii import IdentityProtector, open_identity
from shared.sla import SlaPolicy
from shared.tracking import new_tracking_id

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
EXTRA: list[dict[str, Any]] = [
    {"description": "Saldo ShopeePay saya hilang dan driver Gojek tidak datang di Palembang, "
                    "mohon dibantu segera karena sudah seminggu"},
    {"description": "Dasar pejabat babi goblok, jalan di depan rumah saya di Jl. Veteran "
                    "rusak parah tidak pernah diperbaiki"},
    {"description": "Promo slot gacor maxwin hari ini klik link www.gacor-maxwin.xyz/daftar "
                    "daftar sekarang bonus new member"},
    {"title": "Air PDAM mati", "anonymous": True, "reporter": {"name": "Budi Santoso",
     "phone": "081234567890"}, "description": "Air PDAM di Kelurahan 20 Ilir mati tiga hari, "
     "Budi Santoso dan tetangga di RT 05 tidak bisa mandi. Hubungi 081234567890."},
]  # fmt: skip


def _reports(n: int, phones: bool) -> list[bytes]:
    rng = random.Random(11)
    bodies = [bench_report(i, rng) for i in range(n)]
    if phones:  # SMS 1708 and WhatsApp reporters: a phone number to fingerprint and mask
        for i, body in enumerate(bodies):
            body["reporter"] = {"phone": f"0812{i:08d}", "email": f"warga{i}@example.id"}
    raws = [json.dumps(body).encode() for body in bodies]
    for i, extra in enumerate(EXTRA):
        raws.append(json.dumps({"channel": "bench", "external_id": f"extra-{i}", **extra}).encode())
    return raws


def _best(rounds: int, work: Callable[[], object], calls: int) -> float:
    """The fewest CPU µs per call over ``rounds`` runs of ``work`` (``calls`` calls each)."""
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        work()
        best = min(best, (time.process_time() - start) / calls * 1e6)
    return best


def _check(case: Case, policy: VerificationPolicy) -> object:
    """Verification's pure path for one received report (no candidates: that is IO)."""
    facts = facts_of(case)
    dedup_keys(facts.terms, policy.duplicate_similarity)
    return decide(facts, assess(facts, [], policy), policy)


def measure(reports: int, rounds: int, phones: bool = False) -> dict[str, float]:
    """CPU µs per report of each service's domain path."""
    protector = IdentityProtector(os.urandom(32))
    calendar, sla = WorkingCalendar(), SlaPolicy()
    raws = _reports(reports, phones)
    parsed = [parse_report(raw, "channel.bench", 1 << 20) for raw in raws]
    docs = [
        new_case(
            r,
            raw,
            Receipt(new_tracking_id(), NOW, sla.verification_deadline(calendar, NOW)),
            protector,
        )
        for i, (r, raw) in enumerate(zip(parsed, raws, strict=True))
    ]
    cases = [Case(doc) for doc in docs]
    policy = VerificationPolicy()
    verified = [
        Case(doc | {"status": "verified", "category": "jalan", "severity": "sedang"})
        for doc in docs
    ]
    events = [
        ComplaintVerified(
            message_id=f"verified:{case.tracking_id}",
            tracking_id=case.tracking_id,
            occurred_at=NOW,
            status=Status.VERIFIED,
            kind=Kind.PENGADUAN,
            category="jalan",
            severity=Severity.SEDANG,
            anonymous=case.anonymous,
            confidential=case.confidential,
            by="system",
        )
        for case in verified
    ]
    rules = RoutingRules(
        sla=sla,
        calendar=calendar,
        timezone="Asia/Jakarta",
        hop_limit=3,
        default_severity=Severity.SEDANG,
        agencies=read_registry(sample_registry_path()).agencies,
        identity=lambda case: open_identity(protector, case.doc),
    )
    deadline = sla.verification_deadline(calendar, NOW).isoformat()
    received_events: list[dict[str, Any]] = [
        {"event": "received", "status": "received", "occurred_at": NOW.isoformat(),
         "verification_deadline": deadline}
        for _ in cases
    ]  # fmt: skip
    dispatched_events: list[dict[str, Any]] = [
        {"event": "dispatched", "status": "dispatched", "occurred_at": NOW.isoformat(),
         "follow_up_deadline": sla.follow_up_deadline(calendar, NOW).isoformat(),
         "resolution_deadline": (NOW + timedelta(days=20)).isoformat()}
        for _ in cases
    ]  # fmt: skip
    n = len(cases)
    paths: dict[str, Callable[[], object]] = {
        "intake.parse_report": lambda: [parse_report(r, "channel.bench", 1 << 20) for r in raws],
        "intake.new_case": lambda: [
            new_case(r, raw, Receipt(f"T{i}", NOW, NOW), protector)
            for i, (r, raw) in enumerate(zip(parsed, raws, strict=True))
        ],
        "verification.facts_of": lambda: [facts_of(case) for case in cases],
        "verification.check": lambda: [_check(case, policy) for case in cases],
        "routing.decide_route": lambda: [
            decide_route(case, event, NOW, rules)
            for case, event in zip(verified, events, strict=True)
        ],
        "escalation.presume(received)": lambda: [
            presume(c.tracking_id, e, NOW, sla, calendar)
            for c, e in zip(cases, received_events, strict=True)
        ],
        "escalation.presume(dispatched)": lambda: [
            presume(c.tracking_id, e, NOW, sla, calendar)
            for c, e in zip(cases, dispatched_events, strict=True)
        ],
    }
    return {name: _best(rounds, work, n) for name, work in paths.items()}


def main() -> None:
    """Print CPU µs per report of each path."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--phones", action="store_true", help="every reporter gives a phone")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    result = measure(args.reports, args.rounds, args.phones)
    if args.json:
        print(json.dumps({k: round(v, 1) for k, v in result.items()}))
        return
    for name, micros in result.items():
        print(f"{name:34} {micros:9.1f} µs per report")


if __name__ == "__main__":
    main()
