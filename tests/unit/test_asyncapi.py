"""docs/asyncapi.yaml is what the code defines: regenerated, it is the committed file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from lapor.asyncapi import document
from shared import topology
from shared.contract import ReportSubmitted

pytestmark = pytest.mark.unit

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml"


@pytest.fixture(scope="module")
def generated() -> str:
    return document()


@pytest.fixture(scope="module")
def spec(generated: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(generated)
    return data


def test_the_committed_document_is_up_to_date(generated: str) -> None:
    assert COMMITTED.read_text(encoding="utf-8") == generated, (
        "docs/asyncapi.yaml is stale: run `lapor asyncapi` and commit the result"
    )


def test_it_is_asyncapi_3(spec: dict[str, Any]) -> None:
    assert spec["asyncapi"] == "3.0.0"
    assert spec["servers"]["development"]["pathname"] == "/lapor"


def test_it_names_every_exchange_and_every_queue(spec: dict[str, Any]) -> None:
    bindings = [channel["bindings"]["amqp"] for channel in spec["channels"].values()]
    exchanges = {b["exchange"]["name"] for b in bindings if b["is"] == "routingKey"}
    queues = {b["queue"]["name"] for b in bindings if b["is"] == "queue"}
    assert set(topology.EXCHANGES) <= exchanges
    assert {q.name for q in topology.QUEUES} <= queues
    assert "opd.{agency_code}" in queues


def test_the_messages_are_the_contracts_models(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    report = schemas["ReportSubmitted"]
    assert set(report["required"]) == {
        name for name, field in ReportSubmitted.model_fields.items() if field.is_required()
    }
    for model in ("Notification", "ReporterReply", "Disposition", "ComplaintReceived"):
        assert model in schemas
    intake = spec["channels"]["lapor.intake:channel"]
    assert intake["address"] == "channel.{channel}"


def test_publishing_is_persistent(spec: dict[str, Any]) -> None:
    sends = [op for op in spec["operations"].values() if op["action"] == "send"]
    assert sends
    assert all(op["bindings"]["amqp"]["deliveryMode"] == 2 for op in sends)
