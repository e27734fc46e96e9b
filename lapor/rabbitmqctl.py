"""Running ``rabbitmqctl`` without leaving it behind.

``rabbitmqctl`` is a shell wrapper that starts an Erlang VM (through ``su`` on Debian). A plain
``subprocess.run(..., timeout=...)`` kills only the wrapper when the time is up, and the VM under
it lives on, holding one of the few ports the command-line tool may use: a dozen such orphans
and every later ``rabbitmqctl`` call fails, while the node itself still waits on their
requests. Each call here runs in its own process group, and the whole group is killed on timeout.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess


class RabbitmqctlError(RuntimeError):
    """``rabbitmqctl`` is missing, failed, or did not answer in time (the message says which)."""


def rabbitmqctl(*args: str, stdin: str | None = None, timeout: float = 60.0) -> str:
    """Run ``rabbitmqctl ARGS`` and return its standard output; raise on failure or timeout."""
    executable = shutil.which("rabbitmqctl")
    if executable is None:
        raise RabbitmqctlError("rabbitmqctl is not installed on this host")
    process = subprocess.Popen(  # noqa: S603 - a fixed program; the arguments are ours
        [executable, *args],
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        raise RabbitmqctlError(
            f"rabbitmqctl {args[0] if args else ''} did not answer in {timeout:.0f} s "
            "(stopped it); is the local RabbitMQ node healthy? (rabbitmq-diagnostics ping)"
        ) from None
    if process.returncode != 0:
        raise RabbitmqctlError(f"rabbitmqctl {args[0] if args else ''} failed: {err.strip()[:500]}")
    return out


def _kill_group(process: subprocess.Popen[str]) -> None:
    """Kill ``process`` and everything it started (its own process group)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate()
