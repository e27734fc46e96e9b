"""Summarise py-spy profiles (``--format raw``, as ``bench/pipeline.py --profile`` writes).

    python -m bench.profiles DIR [--top 25] [--match services/]

For each process: the functions where most samples sit (inclusive: the function is on
the stack; self: it is the innermost frame), grouped by function and file, line numbers
dropped so a function's samples add up.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

#: Innermost frames where a thread waits rather than works: py-spy's ``--nonblocking``
#: mode cannot always tell an idle thread from a busy one, so these are left out and
#: every share below is of the samples where the process was working (or runnable).
IDLE = frozenset(
    {
        "EpollSelector.select (selectors.py)",
        "Condition.wait (threading.py)",
        "_worker (concurrent/futures/thread.py)",
        "Event.wait (threading.py)",
        "Thread._wait_for_tstate_lock (threading.py)",
    }
)
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:()]*)(?::\d+)?\)$")
_SITE = re.compile(r".*?/(site-packages|lib/python3\.\d+)/")


def _frame(raw: str) -> str:
    """``func (short/path.py)``, the line number and the environment's prefix dropped."""
    match = _FRAME.match(raw.strip())
    if not match:
        return raw.strip()
    path = _SITE.sub("", match["file"])
    path = path.split("/work/wt/", 1)[-1].split("/", 1)[-1] if "/work/wt/" in path else path
    return f"{match['func']} ({path})"


def package(frame: str) -> str:
    """The package (or the project's folder) a frame belongs to, by its file path."""
    path = frame.rsplit("(", 1)[-1].rstrip(")")
    top = path.split("/", 1)[0]
    if top in {"services", "shared"} and "/" in path:
        return "/".join(path.split("/")[:2]).removesuffix(".py")
    if top.endswith(".py") or top.startswith("<"):
        return "stdlib:" + top.removesuffix(".py").strip("<>")
    return top


def summarise(path: Path) -> tuple[int, int, Counter[str], Counter[str], Counter[str]]:
    """Working and idle samples, inclusive, self and self-by-package counts of a profile."""
    inclusive: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    total = idle = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame(f) for f in stack.split(";")]
        if not frames:
            continue
        if frames[-1] in IDLE:
            idle += count
            continue
        total += count
        for name in set(frames):
            inclusive[name] += count
        leaf[frames[-1]] += count
        packages[package(frames[-1])] += count
    return total, idle, inclusive, leaf, packages


def main() -> None:
    """Print the top functions of every profile in a directory."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument(
        "--match", default="", help="inclusive: only functions whose text contains this"
    )
    args = parser.parse_args()
    for path in sorted(args.directory.glob("*.txt")):
        total, idle, inclusive, leaf, packages = summarise(path)
        print(f"\n== {path.stem}: {total} working samples ({idle} idle left out)")
        for title, counts in (
            ("self, by package", packages),
            ("inclusive", inclusive),
            ("self", leaf),
        ):
            print(f"-- {title}")
            match = args.match if title == "inclusive" else ""
            shown = [(n, c) for n, c in counts.most_common() if match in n][: args.top]
            for name, count in shown:
                print(f"{count / total * 100:6.1f}%  {name}")


if __name__ == "__main__":
    main()
