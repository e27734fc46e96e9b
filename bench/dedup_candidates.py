"""How many stored cases share a duplicate key with each new report, as cases accumulate.

The duplicate look-up (``services/verification/handlers.py``) fetches every open case that
shares a key with the new report and tests each one's similarity; this counts those
candidates for the pipeline benchmark's own reports (``bench.pipeline.report``), without a
server, under today's term order (rarest first) and the earlier one (longest first)::

    python -m bench.dedup_candidates --reports 20000 --segments 5
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.pipeline import report
from services.verification import checks
from services.verification.policy import VerificationPolicy


def _longest_first(term: str) -> tuple[bool, int, str]:
    """The order before KEY_ORDER 2: not a common complaint word, then longest first."""
    return (term in checks.COMMON_TERMS, -len(term), term)


def candidates(reports: int, longest_first: bool) -> list[int]:
    """For each report in turn: how many earlier reports share one of its keys."""
    threshold = VerificationPolicy().duplicate_similarity
    rarest_first = checks._term_order
    checks._term_order = _longest_first if longest_first else rarest_first  # type: ignore[assignment]
    try:
        rng = random.Random(7)
        holders: dict[str, set[int]] = defaultdict(set)
        counts = []
        for n in range(reports):
            terms = checks.text_terms(str(report(n, rng)["description"]))
            keys = checks.dedup_keys(terms, threshold)
            counts.append(len(set().union(*(holders[key] for key in keys))))
            for key in keys:
                holders[key].add(n)
        return counts
    finally:
        checks._term_order = rarest_first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=20_000)
    parser.add_argument("--segments", type=int, default=5)
    args = parser.parse_args()
    size = args.reports // args.segments
    print(f"candidates per look-up, mean over each {size} reports (max in brackets)")
    print(f"{'reports':>15} {'longest first':>16} {'rarest first':>16}")
    longest, rarest = candidates(args.reports, True), candidates(args.reports, False)
    for start in range(0, size * args.segments, size):
        a, b = longest[start : start + size], rarest[start : start + size]
        print(
            f"{start:>7}-{start + size:<7} {sum(a) / len(a):>9.0f} ({max(a):>5}) "
            f"{sum(b) / len(b):>9.0f} ({max(b):>5})"
        )


if __name__ == "__main__":
    main()
