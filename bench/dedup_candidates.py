"""How many stored cases share a duplicate key with each new report, as cases accumulate.

The duplicate look-up (``services/verification/handlers.py``) fetches every open case that
shares a key with the new report and tests each one's similarity; this counts those
candidates for the pipeline benchmark's own reports (``bench.pipeline.report``), without a
server, under today's term order (``KEY_ORDER`` 3: rarest first, the category rules' words
last) and the earlier ones (2: rarest first; 1: longest first)::

    python -m bench.dedup_candidates --reports 20000 --segments 5
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.pipeline import report
from services.verification import checks
from services.verification.policy import VerificationPolicy


def _longest_first(term: str) -> tuple[bool, int, str]:
    """KEY_ORDER 1: not a common complaint word, then longest first."""
    return (term in checks.COMMON_TERMS, -len(term), term)


_today = checks._term_order


def _rarest_first(term: str) -> tuple[Any, ...]:
    """KEY_ORDER 2: today's order, but only COMMON_TERMS last (not the category words)."""
    return (term in checks.COMMON_TERMS, *_today(term)[1:])


ORDERS: dict[str, Callable[[str], tuple[Any, ...]] | None] = {
    "longest first (1)": _longest_first,
    "rarest first (2)": _rarest_first,
    f"today ({checks.KEY_ORDER})": None,
}


def candidates(reports: int, order: Callable[[str], tuple[Any, ...]] | None) -> list[int]:
    """For each report in turn: how many earlier reports share one of its keys, under
    ``order`` (None: today's)."""
    threshold = VerificationPolicy().duplicate_similarity
    if order is not None:
        checks._term_order = order  # type: ignore[assignment]
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
        checks._term_order = _today


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=20_000)
    parser.add_argument("--segments", type=int, default=5)
    args = parser.parse_args()
    size = args.reports // args.segments
    print(f"candidates per look-up, mean over each {size} reports (max in brackets)")
    print(f"{'reports':>15}" + "".join(f"{name:>22}" for name in ORDERS))
    counts = [candidates(args.reports, order) for order in ORDERS.values()]
    for start in range(0, size * args.segments, size):
        cells = [c[start : start + size] for c in counts]
        print(
            f"{start:>7}-{start + size:<7}"
            + "".join(f"{sum(c) / len(c):>14.0f} ({max(c):>5})" for c in cells)
        )


if __name__ == "__main__":
    main()
