"""The operator's command line fails in one clear line, and never echoes a secret (no IO)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from lapor.cli import main
from lapor.errors import explain, one_line, scrub, setting_name, without_credentials
from shared.settings import LaporSettings

pytestmark = pytest.mark.unit

SECRET = "c2VjcmV0LXRoYXQtbXVzdC1uZXZlci1zaG93"  # base64, but not 32 bytes


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No LAPOR_* from the machine, and no .env file in the working directory."""
    import os

    for name in list(os.environ):
        if name.startswith("LAPOR_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_urls_lose_their_credentials_wherever_they_appear() -> None:
    assert without_credentials("amqp://lapor:pw@rabbit:5672/lapor") == "amqp://rabbit:5672/lapor"
    assert without_credentials("mongodb://db:27017") == "mongodb://db:27017"
    text = "failed: mongodb://root:hunter2@db:27017/?authSource=admin and amqp://u:p@h/"
    assert scrub(text) == "failed: mongodb://db:27017/?authSource=admin and amqp://h/"
    assert setting_name(("sla", "deferral_days")) == "LAPOR_SLA__DEFERRAL_DAYS"


def test_a_bad_secret_is_named_by_its_setting_never_by_its_value() -> None:
    with pytest.raises(ValidationError) as bad:
        LaporSettings(pii_key=SECRET)  # a str, as the environment gives it
    line = explain(bad.value)
    assert line is not None
    assert line.startswith("bad setting LAPOR_PII_KEY: LAPOR_PII_KEY must decode to exactly")
    assert SECRET not in line and "\n" not in line
    assert SECRET in str(bad.value)  # what pydantic alone would have printed


def test_an_unknown_failure_is_named_as_such_with_where_to_look() -> None:
    line = one_line(ZeroDivisionError("division by zero"))
    assert line == (
        "unexpected ZeroDivisionError: division by zero (run again with --debug to see the "
        "traceback)"
    )


@pytest.mark.usefixtures("clean_env")
def test_a_command_with_bad_settings_exits_1_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LAPOR_PII_KEY", SECRET)
    monkeypatch.setenv("LAPOR_SLA__DEFERRAL_DAYS", "0")
    assert main(["recap"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = captured.err.splitlines()
    assert line.startswith("lapor recap: bad setting ")
    assert "LAPOR_PII_KEY" in line and "LAPOR_SLA__DEFERRAL_DAYS" in line
    assert SECRET not in captured.err and "Traceback" not in captured.err


@pytest.mark.usefixtures("clean_env")
def test_debug_anywhere_on_the_line_shows_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAPOR_PII_KEY", SECRET)
    with pytest.raises(ValidationError):
        main(["recap", "--debug"])


def test_mongodb_unreachable_says_where_and_how_long_it_waited(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pymongo.errors import ServerSelectionTimeoutError

    monkeypatch.setenv("LAPOR_MONGO_URL", "mongodb://lapor:hunter2@db.internal:27017/?tls=true")
    driver = ServerSelectionTimeoutError(
        "db.internal:27017: [Errno 111] Connection refused, Timeout: 3.0s, Topology "
        "Description: <TopologyDescription ... mongodb://lapor:hunter2@db.internal ...>"
    )
    assert explain(RuntimeError("while reading")) is None  # not an operator's problem
    wrapped = RuntimeError("recap failed")
    wrapped.__cause__ = driver
    line = explain(wrapped)
    assert line == (
        "cannot reach MongoDB at mongodb://db.internal:27017/?tls=true (no server answered "
        "within 3.0s): start MongoDB (`docker compose up -d mongodb`; for development "
        "`lapor devdb` or LAPOR_MONGO_URL=memory://) or point LAPOR_MONGO_URL at a running one"
    )
