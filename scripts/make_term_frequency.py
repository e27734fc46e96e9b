"""Write ``services/verification/data/term_frequency_id.txt``: how common each Indonesian
word is, the order in which the duplicate look-up tries a report's terms (rarest first).

The table is frozen on purpose: the stored cases' duplicate keys depend on it, so a new
table means a new ``checks.KEY_ORDER`` version (verification re-keys the open cases when it
starts). Made once, with wordfreq (not a LAPOR dependency)::

    python -m venv /tmp/wf && /tmp/wf/bin/pip install 'wordfreq==3.1.1'
    /tmp/wf/bin/python scripts/make_term_frequency.py
"""

from __future__ import annotations

from collections import defaultdict
from importlib.metadata import version
from pathlib import Path

import wordfreq  # type: ignore[import-not-found]

TARGET = Path(__file__).resolve().parent.parent / "services/verification/data/term_frequency_id.txt"
#: Words rarer than this (Zipf 3.5: about three per million words) count as rare, like a
#: word the table does not know: names of streets, villages and people mostly.
FLOOR = 3.5

HEADER = f"""\
# How common each Indonesian word is: Zipf frequency x 10 (6.0 = once per thousand words),
# then the words of that band. Words below Zipf {FLOOR} and words not listed are rare.
# Derived from wordfreq {version("wordfreq")} (Robyn Speer, https://github.com/rspeer/wordfreq),
# whose data is licensed CC BY-SA 4.0; this file is under the same licence.
# Made by scripts/make_term_frequency.py. Frozen: stored duplicate keys depend on it.
"""


def main() -> None:
    bands: dict[int, list[str]] = defaultdict(list)
    for word in wordfreq.top_n_list("id", 100_000):
        zipf = wordfreq.zipf_frequency(word, "id")
        if zipf >= FLOOR and word.isalpha():
            bands[round(zipf * 10)].append(word)
    lines = [f"{band}\t{' '.join(sorted(words))}" for band, words in sorted(bands.items())]
    TARGET.write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
    print(f"{sum(len(w) for w in bands.values())} words in {len(bands)} bands -> {TARGET}")


if __name__ == "__main__":
    main()
