"""The desks speak Bahasa Indonesia: every timeline step, actor and check finding the
services write has a label, and the checks' English details are put in Bahasa."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.portal.staff.audit import ACTION_TITLES, AuditAction
from services.portal.staff.labels import (
    ACTOR_TITLES,
    FINDING_TITLES,
    STEP_TITLES,
    finding_view,
    step_title,
    timeline_note,
)
from services.verification import checks, policy
from services.verification.checks import Code
from services.verification.policy import PolicyCode
from shared.contract import CheckFinding
from shared.lifecycle import STEPS, Actor, Kind

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
#: The step argument of ``CaseChange.record(case, <step>, actor, at)``: a literal, an
#: expression of literals (``"remind" if … else "escalate"``) or a module constant.
_RECORDED = re.compile(r"CaseChange\.record\(\s*\w+,\s*([^,]+),")
_LITERAL = re.compile(r'"(\w+)"')
_CONSTANT = re.compile(r"^[A-Z][A-Z_]+$")


def _codes(holder: type) -> set[str]:
    return {v for k, v in vars(holder).items() if k.isupper() and isinstance(v, str)}


def recorded_steps() -> set[str]:
    """Every step name the services record without a lifecycle transition."""
    found = {"receive"}  # intake's first entry (shared/case.py)
    for path in (ROOT / "services").rglob("*.py"):
        source = path.read_text()
        for match in _RECORDED.finditer(source):
            argument = match[1].strip()
            if _CONSTANT.match(argument):
                defined = re.search(rf'^{argument} = "(\w+)"', source, re.MULTILINE)
                assert defined, f"{argument} in {path} is not a literal constant"
                argument = f'"{defined[1]}"'
            names = _LITERAL.findall(argument)
            assert names, f"a recorded step this test cannot read: {argument!r} in {path}"
            found |= set(names)
    return found


def test_every_step_and_actor_has_a_label() -> None:
    recorded = recorded_steps()
    assert {"remind", "escalate", "link_duplicate", "acknowledge_escalation"} <= recorded
    missing = (set(STEPS) | recorded) - set(STEP_TITLES)
    assert not missing, f"timeline steps without a Bahasa label: {sorted(missing)}"
    assert set(Actor) <= set(ACTOR_TITLES)


def test_every_finding_code_has_a_label() -> None:
    codes = _codes(Code) | _codes(PolicyCode)
    assert len(codes) >= 15
    missing = codes - set(FINDING_TITLES)
    assert not missing, f"finding codes without a Bahasa label: {sorted(missing)}"


def _findings_of_the_checks() -> list[CheckFinding]:
    found = [
        checks.check_content("jalan rusak", 6),
        checks.check_specific("sudah lama sekali tidak diperbaiki mohon", Kind.PENGADUAN, False),
        checks.check_duplicate(checks.DuplicateMatch("ABCD-EFGH-JKMN", 0.91, True)),
        checks.check_duplicate(checks.DuplicateMatch("ABCD-EFGH-JKMN", 0.8, False)),
        CheckFinding(code=Code.SPAM, detail="only links (3)"),
        CheckFinding(code=Code.SPAM, detail="mostly repeated characters or words"),
        CheckFinding(code=Code.SPAM_SUSPECTED, detail="promotion: slot gacor"),
        CheckFinding(code=Code.ABUSIVE, detail="3 insult(s) (bodoh, goblok); 2 other words"),
        CheckFinding(code=Code.SCOPE_UNCLEAR, detail="names a company of mixed ownership: pln"),
        CheckFinding(
            code=Code.SCOPE_UNCLEAR,
            detail="names private business in general (toko), no company",
        ),
        CheckFinding(
            code=Code.SCOPE_UNCLEAR,
            detail="names private (indihome) and public (puskesmas) services",
        ),
        CheckFinding(code=PolicyCode.NO_CATEGORY, detail="no category rule matched"),
        CheckFinding(code=PolicyCode.KIND_NEEDS_REVIEW, detail="aspirasi is verified by an admin"),
    ]
    return [f for f in found if f is not None]


ENGLISH = re.compile(r"\b(the|words|needed|names|matched|reporter|similarity|only|of|and)\b")


def test_the_checks_details_read_in_bahasa_and_keep_their_data() -> None:
    findings = _findings_of_the_checks()
    assert len(findings) == 13  # each example above is a finding
    for finding in findings:
        view = finding_view(finding.code, finding.detail)
        assert not view.untranslated, finding
        shown = f"{view.title} {view.detail or ''}"
        assert not ENGLISH.search(shown), (finding, shown)
    duplicate = finding_view(findings[2].code, findings[2].detail)
    assert duplicate.detail == "dari ABCD-EFGH-JKMN (pelapor yang sama, kemiripan 0.91)"
    assert finding_view(Code.PRIVATE_SECTOR, "indomaret").detail == "menyebut: indomaret"


def test_an_unknown_code_or_detail_is_shown_as_it_is_and_marked() -> None:
    unknown = finding_view("new_check", "something new")
    assert unknown.untranslated and unknown.title == "new_check"
    odd = finding_view(Code.SPAM, "a detail this version never wrote")
    assert odd.untranslated and odd.title == FINDING_TITLES[Code.SPAM]
    assert step_title("a_future_step") == "a_future_step"


def test_a_hold_notes_codes_read_as_labels() -> None:
    note = timeline_note("hold_for_review", "no_category, anonymous")
    assert note == f"{FINDING_TITLES['no_category']}; {FINDING_TITLES['anonymous']}"
    assert timeline_note("follow_up", "no_category") == "no_category"  # a person's words
    assert policy.PolicyCode.NO_CATEGORY in FINDING_TITLES


def test_every_audit_action_reads_in_bahasa() -> None:
    """The operator reads the audit log's actions by name; the codes stay the data."""
    missing = [a for a in AuditAction if not ACTION_TITLES.get(a)]
    assert missing == []
    assert all(ACTION_TITLES[a] != str(a) for a in AuditAction)
