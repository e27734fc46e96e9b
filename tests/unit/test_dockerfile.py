"""The Dockerfile: small, multi-stage, non-root, the project installed once, `lapor` in front."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text()
    text = re.sub(r"\\\n", " ", text)
    found = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def stages() -> list[list[tuple[str, str]]]:
    """The instructions of each stage, in order."""
    result: list[list[tuple[str, str]]] = []
    for keyword, rest in instructions():
        if keyword == "FROM":
            result.append([])
        if result:
            result[-1].append((keyword, rest))
    return result


def test_it_builds_in_one_stage_and_runs_from_a_slim_python_in_another() -> None:
    all_stages = stages()
    assert len(all_stages) >= 2
    args = dict(
        rest.split("=", 1) for keyword, rest in instructions() if keyword == "ARG" and "=" in rest
    )
    assert args["PYTHON_IMAGE"] == "python:3.12-slim"
    final = all_stages[-1]
    assert final[0][1].startswith("${PYTHON_IMAGE}")
    copies_from_build = [rest for keyword, rest in final if keyword == "COPY" and "--from=" in rest]
    assert copies_from_build, "the runtime stage takes the built virtualenv"
    # Nothing is installed in the runtime stage: it only receives the venv.
    assert not [rest for keyword, rest in final if keyword == "RUN" and "pip install" in rest]


def test_the_project_is_installed_once_as_a_wheel() -> None:
    build = stages()[0]
    runs = " ".join(rest for keyword, rest in build if keyword == "RUN")
    assert "pip wheel" in runs
    assert runs.count("--no-deps /tmp/wheels") == 1
    assert " -e " not in runs and "--editable" not in runs


def test_it_runs_as_an_unprivileged_user() -> None:
    final = stages()[-1]
    users = [rest for keyword, rest in final if keyword == "USER"]
    assert users, "the runtime stage sets USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    assert user.isdigit(), "numeric, so runAsNonRoot can be verified"


def test_lapor_is_the_entrypoint_and_the_health_check() -> None:
    final = stages()[-1]
    [entrypoint] = [rest for keyword, rest in final if keyword == "ENTRYPOINT"]
    assert json.loads(entrypoint) == ["lapor"]
    [healthcheck] = [rest for keyword, rest in final if keyword == "HEALTHCHECK"]
    command = json.loads(healthcheck.split("CMD", 1)[1])
    assert command[:2] == ["lapor", "health"]


def test_the_build_context_leaves_secrets_and_local_state_out() -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "an allowlist: everything out unless named"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert {"pyproject.toml", "shared", "services", "lapor"} <= allowed
    assert not allowed & {".env", ".git", ".venv", "tests"}


def test_everything_the_build_copies_is_in_the_build_context() -> None:
    allowed = {
        line.strip()[1:].rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip().startswith("!")
    }
    copied = [
        rest.split()[0]
        for keyword, rest in stages()[0]
        if keyword == "COPY" and not rest.startswith("--from")
    ]
    for source in copied:
        assert (ROOT / source).exists(), source
        assert source.rstrip("/") in allowed, f"{source} is left out by .dockerignore"
