"""Time as a dependency: domain code asks a clock, so tests and demos can move time."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Something that tells the current instant (aware, UTC)."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        """The current instant in UTC."""
        return datetime.now(UTC)


class ShiftedClock:
    """The real time moved forward by an adjustable offset: the demo's time machine."""

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self._offset = offset
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The real instant plus the offset."""
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> None:
        """Move time forward by ``delta``."""
        with self._lock:
            self._offset += delta


class ManualClock:
    """A clock that stands still until told to move: for tests."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        """The instant the clock was set to."""
        return self._now

    def set(self, instant: datetime) -> None:
        """Jump to ``instant``."""
        self._now = instant.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        """Move forward by ``delta``."""
        self._now += delta
