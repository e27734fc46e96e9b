"""Verification's use cases as pure decisions: a case in, a change (or a refusal) out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.verification.decisions import (
    Rules,
    decide_admin,
    decide_checked,
    decide_link_duplicate,
    decide_resume,
    facts_of,
)
from services.verification.policy import (
    AutoArchive,
    AutoVerify,
    HoldForReview,
    VerificationPolicy,
    assess,
    decide,
)
from shared.case import Case
from shared.contract import CheckFinding, VerificationDecide
from shared.lifecycle import ArchiveReason, Severity, Status
from shared.tracking import new_tracking_id
from shared.unit_of_work import CaseChange, Command, Sender
from shared.vocabulary import Reason, Refusal
from tests import factories

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
POLICY = VerificationPolicy()
RULES = Rules(
    POLICY,
    verification_deadline=lambda at: at + timedelta(days=3),
    deferral_deadline=lambda at: at + timedelta(days=14),
    admin_desk_deadline=lambda at: at + timedelta(days=1),
)


def received(**fields: Any) -> Case:
    return Case(factories.received(NOW - timedelta(minutes=5), **fields))


def decided(case: Case, **fields: Any) -> CaseChange | Refusal | None:
    command = VerificationDecide.model_validate(
        {"message_id": "cmd-1", "tracking_id": case.tracking_id, "admin": "admin-1"} | fields
    )
    return decide_admin(case, Command(command, Sender("lapor-admin")), NOW, RULES)


def change_of(decision: CaseChange | Refusal | None) -> CaseChange:
    assert isinstance(decision, CaseChange), decision
    return decision


def routing_keys(change: CaseChange) -> list[str]:
    return [m.routing_key for m in change.messages]


# --- the automatic checks -------------------------------------------------------------


def test_a_clear_road_report_is_verified_with_its_findings_stored() -> None:
    case = received()
    assessment = assess(facts_of(case), [], POLICY)
    verdict = decide(facts_of(case), assessment, POLICY)
    change = change_of(decide_checked(case, assessment, verdict, NOW))
    assert isinstance(verdict, AutoVerify)
    assert (change.step, change.source, change.target) == (
        "auto_verify",
        Status.RECEIVED,
        Status.VERIFIED,
    )
    assert change.filter() == {"_id": case.tracking_id, "status": "received"}
    assert change.update()["$set"]["status"] == "verified"
    assert change.fields["category"] == verdict.category
    assert routing_keys(change) == ["complaint.verified"]
    assert change.messages[0].message_id == f"verified:{case.tracking_id}"
    assert change.timeline_entry()["from"] == "received"


def test_a_duplicate_is_archived_naming_its_original_on_the_timeline() -> None:
    case = received()
    original = new_tracking_id()
    finding = CheckFinding(code="duplicate", detail="same as the original")
    verdict = AutoArchive(ArchiveReason.DUPLICATE, "sama", finding, duplicate_of=original)
    assessment = assess(facts_of(case), [], POLICY)
    change = change_of(decide_checked(case, assessment, verdict, NOW))
    assert change.target is Status.ARCHIVED
    assert change.fields["duplicate_of"] == original
    entry = change.timeline_entry()
    assert entry["duplicate_of"] == original and entry["note"] == "duplicate"
    assert change.messages[0].body["duplicate_of"] == original


def test_a_held_report_goes_to_review_with_the_verification_deadline() -> None:
    case = received()
    findings = (CheckFinding(code="no_location", detail="?"),)
    assessment = assess(facts_of(case), [], POLICY)
    change = change_of(decide_checked(case, assessment, HoldForReview(findings), NOW))
    assert change.target is Status.NEEDS_REVIEW
    assert change.entry["note"] == "no_location"
    review_deadline = change.messages[0].body["review_deadline"]
    assert review_deadline is not None


def test_a_case_already_past_the_checks_is_left_alone() -> None:
    case = Case(factories.received(NOW) | {"status": "verified"})
    assessment = assess(facts_of(case), [], POLICY)
    assert decide_checked(case, assessment, HoldForReview(), NOW) is None


def test_a_duplicate_is_linked_to_its_original_once() -> None:
    original = received()
    change = change_of(decide_link_duplicate(original, "T-DUP", NOW))
    assert change.push["duplicates"] == "T-DUP"
    assert change.filter()["duplicates"] == {"$ne": "T-DUP"}
    assert change.target is change.source  # linking does not move the case
    linked = Case(dict(original.doc) | {"duplicates": ["T-DUP"]})
    assert decide_link_duplicate(linked, "T-DUP", NOW) is None


# --- the reporter answers a deferred case ---------------------------------------------


def test_a_deferred_case_resumes_once_with_a_fresh_deadline() -> None:
    deferred = Case(factories.received(NOW) | {"status": "deferred"})
    change = change_of(decide_resume(deferred, "info-1", NOW, RULES))
    assert change.target is Status.NEEDS_REVIEW
    assert change.fields["deadlines.verification"] == NOW + timedelta(days=3)
    assert change.filter()["applied"] == {"$ne": "info-1"}
    assert change.messages[0].message_id == f"needs_review:{deferred.tracking_id}:info-1"
    codes = [f["code"] for f in change.messages[0].body["findings"]]
    assert codes[-1] == "information_added"
    again = Case(dict(deferred.doc) | {"applied": ["info-1"]})
    assert decide_resume(again, "info-1", NOW, RULES) is None
    assert decide_resume(received(), "info-1", NOW, RULES) is None


# --- the admin's decisions --------------------------------------------------------------


def test_a_verification_takes_the_admins_corrections() -> None:
    change = change_of(
        decided(
            received(),
            decision="verify",
            flags_confirmed=True,
            category="Jalan Rusak",
            severity="berat",
            anonymous=True,
            agency="pupr-palembang",
        )
    )
    assert change.target is Status.VERIFIED and change.command_id == "cmd-1"
    assert change.fields["category"] == "jalan_rusak"
    assert change.fields["severity"] == str(Severity.BERAT)
    assert change.fields["anonymous"] is True and change.fields["agency_hint"] == "pupr-palembang"
    assert change.entry["by"] == "admin-1"
    assert change.messages[0].body["by"] == "admin"


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"decision": "verify"}, Reason.FLAGS_NOT_CONFIRMED),
        ({"decision": "defer", "question": "  "}, Reason.QUESTION_REQUIRED),
        ({"decision": "not_our_authority"}, Reason.REASON_REQUIRED),
        ({"decision": "archive"}, Reason.ARCHIVE_REASON_REQUIRED),
    ],
)
def test_an_incomplete_decision_is_refused_with_its_reason(
    fields: dict[str, Any], reason: Reason
) -> None:
    refusal = decided(received(), **fields)
    assert isinstance(refusal, Refusal) and refusal.reason is reason


def test_a_decision_the_status_does_not_allow_is_refused() -> None:
    verified = Case(factories.received(NOW) | {"status": "verified"})
    refusal = decided(verified, decision="defer", question="Di mana tepatnya?")
    assert refusal == Refusal(Reason.STEP_NOT_ALLOWED, {"status": "verified"})


def test_a_repeated_decision_changes_nothing() -> None:
    applied = Case(factories.received(NOW) | {"applied": ["cmd-1"]})
    assert decided(applied, decision="defer", question="Di mana tepatnya?") is None


def test_defer_refer_and_archive_each_emit_their_event() -> None:
    deferred = change_of(decided(received(), decision="defer", question=" Di mana? "))
    assert deferred.fields["question"] == "Di mana?"
    assert routing_keys(deferred) == ["complaint.deferred"]
    assert deferred.messages[0].message_id.endswith(":cmd-1")
    referred = change_of(decided(received(), decision="not_our_authority", note="urusan pusat"))
    assert referred.target is Status.AWAITING_ROUTING
    assert routing_keys(referred) == ["complaint.needs_routing"]
    archived = change_of(decided(received(), decision="archive", archive_reason="too_general"))
    assert archived.fields["archive_reason"] == "too_general"
    assert routing_keys(archived) == ["complaint.archived"]
