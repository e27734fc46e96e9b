"""Run one ``lapor`` command in this process while counting the MongoDB commands it sends.

    python -m bench.probe COUNTS.json run intake

A PyMongo ``CommandListener`` registered globally (so every client the service creates
has it) counts started commands by name. SIGUSR1 writes a snapshot to
``COUNTS.json.ready`` (the benchmark sends it once the service consumes, so start-up
commands can be left out); the final counts go to ``COUNTS.json`` when the process ends.
The services themselves carry no hook: this wrapper is the benchmark's own.
"""

from __future__ import annotations

import atexit
import json
import signal
import sys
import threading
from collections import Counter
from pathlib import Path
from types import FrameType

from pymongo import monitoring


class CommandCounter(monitoring.CommandListener):
    """Counts every command the driver starts, by command name (thread-safe)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        """One more command of this name."""
        with self._lock:
            self.counts[event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        """Nothing to count."""

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        """Nothing to count."""

    def snapshot(self) -> dict[str, int]:
        """The counts so far."""
        with self._lock:
            return dict(self.counts)


def _write(path: Path, counts: dict[str, int]) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(counts))
    partial.replace(path)  # atomic: a reader never sees half a file


def main(argv: list[str]) -> int:
    """Count, then run ``lapor`` with the rest of ``argv``."""
    out = Path(argv[0])
    counter = CommandCounter()
    monitoring.register(counter)

    def on_usr1(_signum: int, _frame: FrameType | None) -> None:
        _write(out.with_name(out.name + ".ready"), counter.snapshot())

    signal.signal(signal.SIGUSR1, on_usr1)
    atexit.register(lambda: _write(out, counter.snapshot()))

    from lapor.cli import main as lapor

    return lapor(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
