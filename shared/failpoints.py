"""Test-only fault injection: lets a test kill a process at an exact point.

``LAPOR_FAILPOINTS="intake.after_store=exit"`` makes the process die abruptly (as under
SIGKILL) when it reaches that point; ``=raise`` raises :class:`InjectedFault` there;
``=pause`` holds the task there for two seconds (a message "in hand" during shutdown).
Empty in every real deployment.
"""

from __future__ import annotations

import asyncio
import os


class InjectedFault(RuntimeError):
    """Raised at a failpoint configured with ``raise``."""


def parse(spec: str) -> dict[str, str]:
    """``"a=exit,b=raise"`` as a mapping."""
    points: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, action = item.partition("=")
        if action not in {"exit", "raise", "pause"}:
            raise ValueError(
                f"failpoint {name!r}: action must be exit, raise or pause, not {action!r}"
            )
        points[name] = action
    return points


class Failpoints:
    """The configured failpoints of one process."""

    def __init__(self, spec: str = "") -> None:
        self._points = parse(spec)

    async def reached(self, name: str) -> None:
        """Act on failpoint ``name`` if it is configured."""
        action = self._points.get(name)
        if action == "exit":
            os._exit(137)
        if action == "raise":
            raise InjectedFault(name)
        if action == "pause":
            await asyncio.sleep(2.0)
