"""Structured logs: one JSON line a record, identity masked, extras kept, cheap records."""

import io
import json
import logging
from collections.abc import Iterator

import pytest

from shared.logs import JsonFormatter, configure_logging, redact

pytestmark = pytest.mark.unit


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The root logger configured as a service configures it, writing into a buffer."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    configure_logging("intake", "INFO")
    buffer = io.StringIO()
    root.handlers[0].setStream(buffer)  # type: ignore[attr-defined]
    yield buffer
    root.handlers[:], level = saved
    root.setLevel(level)


def test_text_without_an_address_or_a_number_comes_back_as_it_was() -> None:
    text = "report accepted on channel web, RT 40 No. 12, kode 16.71"
    assert redact(text) == text


def test_a_phone_number_without_any_address_is_still_masked() -> None:
    assert redact("call 0812 7788 9900 now") == "call [phone] now"


def test_an_address_without_any_8_is_still_masked() -> None:
    assert redact("from siti@example.id") == "from [email]"


def test_a_record_is_one_json_line_with_its_extras_and_no_identity(
    captured: io.StringIO,
) -> None:
    logging.getLogger("lapor.intake").info(
        "report accepted from %s",
        "budi@example.id",
        extra={"tracking_id": "LPR-7KQ2", "count": 3, "note": "reply to +62 812-7788-9900"},
    )
    lines = captured.getvalue().splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["service"] == "intake" and entry["level"] == "INFO"
    assert entry["logger"] == "lapor.intake"
    assert entry["msg"] == "report accepted from [email]"
    assert entry["tracking_id"] == "LPR-7KQ2" and entry["count"] == 3
    assert entry["note"] == "reply to [phone]"
    assert "7788" not in lines[0] and "budi" not in lines[0]


def test_a_record_below_the_level_writes_nothing(captured: io.StringIO) -> None:
    logging.getLogger("lapor.intake").debug("not shown", extra={"tracking_id": "LPR-7KQ2"})
    logging.getLogger("lapor.intake").warning("shown")
    assert [json.loads(line)["msg"] for line in captured.getvalue().splitlines()] == ["shown"]


def test_an_exception_is_formatted_and_masked(captured: io.StringIO) -> None:
    try:
        raise ValueError("bad address siti@example.id")
    except ValueError:
        logging.getLogger("lapor.intake").exception("failed")
    entry = json.loads(captured.getvalue())
    assert "ValueError: bad address [email]" in entry["exc"]


def test_the_formatter_shows_extras_only_not_the_standard_attributes() -> None:
    record = logging.makeLogRecord({"msg": "m", "levelname": "INFO", "name": "x", "agency": "a"})
    entry = json.loads(JsonFormatter("routing").format(record))
    assert set(entry) == {"ts", "level", "service", "logger", "msg", "agency"}
