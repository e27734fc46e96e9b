"""``lapor`` commands against servers that are not there: one line, fast, no secret.

Each test points a real ``lapor`` process at a port where nothing listens (bound, then
closed), exactly as an operator whose RabbitMQ or MongoDB is stopped would meet it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

PASSWORD = "n0t-f0r-y0ur-eyes"


def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def lapor(tmp_path: Path, *args: str, **env: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ``lapor ARGS`` in a clean directory with only ``env`` as LAPOR_* settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LAPOR_")}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "lapor", *args],
        check=False,
        cwd=tmp_path,
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done, time.monotonic() - started


def assert_one_clear_line(done: subprocess.CompletedProcess[str], *expected: str) -> str:
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert PASSWORD not in done.stderr + done.stdout
    [line] = done.stderr.splitlines()
    for text in expected:
        assert text in line, line
    return line


def test_rabbitmq_stopped_dlq_list(tmp_path: Path) -> None:
    port = closed_port()
    url = f"amqp://lapor:{PASSWORD}@127.0.0.1:{port}/"
    done, _ = lapor(tmp_path, "dlq", "list", LAPOR_AMQP_URL=url)
    line = assert_one_clear_line(
        done, "lapor dlq:", f"cannot reach RabbitMQ at amqp://127.0.0.1:{port}/", "refused"
    )
    assert "LAPOR_AMQP_URL" in line and "start RabbitMQ" in line


def test_rabbitmq_stopped_demo_tells_its_story_without_log_lines(tmp_path: Path) -> None:
    port = closed_port()
    done, _ = lapor(
        tmp_path, "demo", "--days", "1", LAPOR_AMQP_URL=f"amqp://guest:{PASSWORD}@127.0.0.1:{port}/"
    )
    assert_one_clear_line(done, "lapor demo:", f"RabbitMQ at amqp://127.0.0.1:{port}/")
    assert not [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert "lapor-demo.log" in done.stdout  # the narration says where the logs went
    assert '"aiormq.connection"' in (tmp_path / "lapor-demo.log").read_text()


def test_mongodb_down_recap_answers_within_seconds(tmp_path: Path) -> None:
    port = closed_port()
    url = f"mongodb://lapor:{PASSWORD}@127.0.0.1:{port}/?authSource=admin"
    done, took = lapor(tmp_path, "recap", LAPOR_MONGO_URL=url)
    line = assert_one_clear_line(
        done, "lapor recap:", f"cannot reach MongoDB at mongodb://127.0.0.1:{port}/"
    )
    assert "LAPOR_MONGO_URL" in line and "lapor devdb" in line
    assert took < 15, f"took {took:.1f} s: the driver's 30 s wait is back"


def test_mongodb_down_agencies_list(tmp_path: Path) -> None:
    port = closed_port()
    done, _ = lapor(tmp_path, "agencies", "list", LAPOR_MONGO_URL=f"mongodb://127.0.0.1:{port}")
    assert_one_clear_line(done, "lapor agencies:", f"MongoDB at mongodb://127.0.0.1:{port}")


def test_rabbitmq_stopped_topology_declare(tmp_path: Path) -> None:
    port = closed_port()
    url = f"amqp://lapor-admin:{PASSWORD}@127.0.0.1:{port}/lapor"
    done, _ = lapor(tmp_path, "topology", "declare", LAPOR_AMQP_URL=url)
    assert_one_clear_line(
        done, "lapor topology: cannot declare", f"RabbitMQ at amqp://127.0.0.1:{port}/lapor"
    )
