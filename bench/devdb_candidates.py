"""Benchmark: the stand-in's CPU per candidate on verification's duplicate look-up, in process.

Fills an in-process stand-in engine (no server, no driver) with 3,000 cases whose duplicate
keys overlap heavily, then runs verification's look-up (``_id $ne``, ``status $in``, the
received window, and the ``$or`` of the key branch and the reporter branch with
``similar_to``'s ``$expr``) 60 times, as ``find`` commands sorted by ``received_at`` with a
limit. Prints how many candidates one look-up tests and the median CPU ms per look-up.

    .venv/bin/python bench/devdb_candidates.py

It imports the stand-in of the checkout it lies in (copy it into another to compare).
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lapor_devdb import engine as devdb
from services.verification.handlers import similar_to

WORDS = [f"kata{i}" for i in range(120)]
NOW = datetime(2026, 12, 2)


def main() -> None:
    rng = random.Random(1)
    stand_in = devdb._Engine()
    indexes = [
        {"key": {"dedup_keys": 1}, "name": "dedup"},
        {"key": {"received_at": 1}, "name": "received_at"},
        {"key": {"reporter.fingerprints": 1}, "name": "fingerprints"},
        {"key": {"status": 1}, "name": "status"},
    ]
    stand_in.execute("db", {"createIndexes": "complaints", "indexes": indexes})
    cases = [
        {
            "_id": f"C{i}",
            "status": rng.choice(["verified", "dispatched", "closed"]),
            "received_at": NOW - timedelta(minutes=rng.randrange(60 * 24 * 40)),
            "text_terms": sorted(rng.sample(WORDS, 12)),
            "dedup_keys": rng.sample(["k1", "k2", "k3", "k4", "k5", "k6"], 2),
            "reporter": {"fingerprints": [f"fp{i % 300}"]},
        }
        for i in range(3000)
    ]
    stand_in.execute("db", {"insert": "complaints", "documents": cases})

    def look_up() -> dict[str, Any]:
        terms = sorted(rng.sample(WORDS, 12))
        same_reporter = [{"text_terms": {"$exists": False}}, {"$expr": similar_to(terms, 0.5)}]
        like = [
            {"dedup_keys": {"$in": ["k1", "k2"]}, "$expr": similar_to(terms, 0.6)},
            {"reporter.fingerprints": {"$in": ["fp7"]}, "$or": same_reporter},
        ]
        query = {
            "_id": {"$ne": "C1"},
            "status": {"$in": ["received", "verified", "dispatched"]},
            "received_at": {"$gte": NOW - timedelta(days=30), "$lte": NOW},
            "$or": like,
        }
        return {"find": "complaints", "filter": query, "sort": {"received_at": -1}, "limit": 20}

    seconds = []
    for _ in range(60):
        command = look_up()
        started = time.process_time()
        reply = stand_in.execute("db", command)
        seconds.append(time.process_time() - started)
        assert reply["ok"] == 1, reply

    tested = 0
    applies = devdb._filter_applies

    def counting(query: Any, document: Any) -> bool:
        nonlocal tested
        tested += 1
        return bool(applies(query, document))

    devdb._filter_applies = counting
    devdb._COMPILE_AFTER = sys.maxsize  # every candidate through _filter_applies, counted
    stand_in.execute("db", look_up())
    median = statistics.median(seconds) * 1000
    print(f"candidates tested per look-up: {tested}")
    print(f"CPU ms per look-up (median of 60): {median:.2f}")
    print(f"CPU µs per candidate: {median * 1000 / tested:.1f}")


if __name__ == "__main__":
    main()
