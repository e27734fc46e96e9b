"""The typed case view over documents exactly as intake stores them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.case import Case, Receipt, new_case, reporter_fingerprints
from shared.lifecycle import Kind, Status
from tests import factories

pytestmark = pytest.mark.unit

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_a_received_case_reads_as_intake_stored_it() -> None:
    doc = factories.received(AT, title="Jalan rusak", agency="pupr-palembang")
    case = Case(doc)
    assert case.tracking_id == doc["_id"]
    assert case.status is Status.RECEIVED
    assert case.kind is Kind.PENGADUAN
    assert case.text.startswith("Jalan rusak\nJalan berlubang")
    assert case.region_code == "16.71"
    assert case.agency_hint == "pupr-palembang"
    assert case.received_at == AT
    assert case.deadline("verification") is not None and case.deadline("verification") > AT
    assert len(case.reporter_fingerprints) == 1  # the phone
    assert case.sealed_identity is not None and b"Budi" not in case.sealed_identity
    assert case.hop is None and case.hops == [] and case.text_terms is None


def test_a_projected_case_reads_absent_fields_as_empty() -> None:
    case = Case({"_id": "T1", "status": "dispatched"})
    assert case.location == {} and case.region_code is None
    assert case.reporter_fingerprints == frozenset()
    assert case.deadline("follow_up") is None
    assert not case.has_applied("m-1") and not case.anonymous


def test_the_severity_falls_back_to_the_latest_hop() -> None:
    case = Case({"_id": "T1", "status": "dispatched", "hops": [{"severity": "berat"}]})
    assert str(case.severity) == "berat"


def test_a_dispatched_case_keeps_what_intake_stored() -> None:
    doc = factories.dispatched(factories.received(AT), AT)
    case = Case(doc)
    assert case.status is Status.DISPATCHED and case.agency == "pupr-palembang"
    assert case.deadline("verification") is not None and case.deadline("resolution") is not None


def test_fingerprints_made_once_by_intake_are_the_ones_the_case_would_make() -> None:
    # Intake makes the reporter's fingerprints once (its rate limit counts by them) and
    # hands them to new_case; the stored case is the same as when new_case makes them.
    report = factories.report(reporter={"phone": "+6281234567890", "email": "b@x.id"})
    receipt = Receipt(tracking_id="T1", received_at=AT, verification_deadline=AT)
    protector = factories.UNIT_PROTECTOR
    prints = reporter_fingerprints(report, protector)
    given = new_case(report, b"{}", receipt, protector, prints)
    made = new_case(report, b"{}", receipt, protector)
    assert len(prints) == 2
    assert given["reporter"]["fingerprints"] == made["reporter"]["fingerprints"] == sorted(prints)
    sealed = ("reporter", "raw_sealed")
    assert {k: v for k, v in given.items() if k not in sealed} == {
        k: v for k, v in made.items() if k not in sealed
    }
    assert reporter_fingerprints(factories.report(reporter=None), protector) == set()
