"""The MongoDB stand-in lives apart: an optional extra the services and the image never carry."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from lapor.cli import build_parser
from shared import storage
from shared.storage import StandInMissing, resolve_mongo_url

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
FAKES = ("mockupdb", "mongomock")  # mockupdb: what the stand-in used before


def _project() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        project: dict[str, object] = tomllib.load(file)["project"]
    return project


def test_a_plain_install_carries_no_fake_database() -> None:
    project = _project()
    dependencies = " ".join(project["dependencies"])  # type: ignore[arg-type]
    for fake in FAKES:
        assert fake not in dependencies
    extras: dict[str, list[str]] = project["optional-dependencies"]  # type: ignore[assignment]
    assert "mongomock" in {dep.split(">")[0] for dep in extras["devdb"]}
    # [dev] brings it, through [test], since the tests run against it
    assert "lapor[test]" in extras["dev"] and "lapor[devdb]" in extras["test"]


def test_the_image_does_not_copy_the_stand_in() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "lapor_devdb" not in dockerfile
    assert "lapor_devdb" not in (ROOT / ".dockerignore").read_text()


def test_the_services_never_import_the_stand_in() -> None:
    code = (
        "import sys\n"
        "import services.intake.app, services.verification.app\n"
        "import services.routing.app, services.escalation.app, shared.storage\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('lapor_devdb', 'mockupdb', 'mongomock'))\n"
        "print(loaded)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_memory_url_without_the_extra_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(storage, "_stand_in_url", None)
    monkeypatch.setitem(sys.modules, "lapor_devdb", None)  # as if not installed
    with pytest.raises(StandInMissing, match=r"pip install 'lapor\[devdb\]'"):
        resolve_mongo_url("memory://")
    assert resolve_mongo_url("mongodb://db:27017") == "mongodb://db:27017"


def test_lapor_devdb_without_the_extra_fails_clearly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "lapor_devdb", None)
    args = build_parser().parse_args(["devdb", "--port", "0"])
    assert args.handler(args) == 2
    assert "lapor[devdb]" in capsys.readouterr().err
