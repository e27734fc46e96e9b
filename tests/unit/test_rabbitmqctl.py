"""rabbitmqctl calls never leave a process behind (orphans once wedged the CLI and the node)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from lapor.rabbitmqctl import RabbitmqctlError, rabbitmqctl

pytestmark = pytest.mark.unit


def _fake_rabbitmqctl(tmp_path: Path, body: str) -> None:
    script = tmp_path / "rabbitmqctl"
    script.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    script.chmod(0o755)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purpose: it holds no port.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")


def test_a_call_that_hangs_is_stopped_with_everything_it_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pidfile = tmp_path / "child.pid"
    # Like the real wrapper: the work happens in a child process (the Erlang VM).
    _fake_rabbitmqctl(tmp_path, f"sleep 60 & echo $! > {pidfile}; wait")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(RabbitmqctlError, match="did not answer"):
        rabbitmqctl("add_vhost", "x", timeout=1.0)
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)


def test_a_failure_says_what_failed_and_an_answer_is_returned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    _fake_rabbitmqctl(tmp_path, 'echo "vhost exists" >&2; exit 70')
    with pytest.raises(RabbitmqctlError, match="add_vhost failed: vhost exists"):
        rabbitmqctl("add_vhost", "x")
    _fake_rabbitmqctl(tmp_path, 'echo "name"; echo "/"')
    assert rabbitmqctl("list_vhosts").splitlines() == ["name", "/"]
