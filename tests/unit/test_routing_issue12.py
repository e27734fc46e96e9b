"""Issue 12 in routing's decisions: withdrawal, extension, koordinasi, the admin desk's clock.

Dates are counted over a calendar with an operator holiday (Wed 4 Nov 2026). A case is
disposed on Mon 2 Nov 2026, 09:00 WIB.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.routing.decisions import Rules, decide_command
from services.routing.registry import read_registry, sample_registry_path
from shared.calendar import ExtraHoliday, WorkingCalendar
from shared.case import Case
from shared.contract import ExtensionDecide, OpdRespond, ReporterReply, RoutingDispose
from shared.lifecycle import Severity, Status
from shared.senders import SenderPolicy, SendersMode
from shared.sla import SlaPolicy
from shared.unit_of_work import CaseChange, Command, Sender
from shared.vocabulary import Reason, Refusal
from tests import factories

pytestmark = pytest.mark.unit

WIB = ZoneInfo("Asia/Jakarta")
CAL = WorkingCalendar([ExtraHoliday(date=dt.date(2026, 11, 4), name="cuti bersama (uji)")])
DISPOSED = dt.datetime(2026, 11, 2, 9, 0, tzinfo=WIB)
NOW = dt.datetime(2026, 11, 5, 10, 0, tzinfo=WIB)
PRINTS = {"fp-reporter"}
LEAD, HELPERS = "dinkes-palembang", ["dinkes-sumsel", "dishub-sumsel"]
RULES = Rules(
    sla=SlaPolicy(),
    calendar=CAL,
    timezone="Asia/Jakarta",
    hop_limit=3,
    default_severity=Severity.SEDANG,
    agencies=read_registry(sample_registry_path()).agencies,
    identity=lambda _case: {"name": "Budi Santoso"},
    fingerprints=lambda reply: PRINTS if reply.reporter.name == "Budi" else {"other"},
    # These tests are about the steps; who may send is tested in test_senders.
    senders=SenderPolicy(mode=SendersMode.OPEN),
)


def end_of(month: int, day: int) -> dt.datetime:
    return dt.datetime(2026, month, day, 23, 59, 59, 999_999, tzinfo=WIB)


def case_in(status: str, agency: str | None = LEAD, **more: Any) -> Case:
    doc = factories.received(DISPOSED - dt.timedelta(hours=2))
    doc["reporter"]["fingerprints"] = sorted(PRINTS)
    if agency is not None:
        doc = factories.dispatched(doc, DISPOSED, agency)
        doc["deadlines"]["resolution"] = RULES.sla.resolution_deadline(
            CAL, DISPOSED, Severity.SEDANG
        )
    return Case(doc | {"status": status, "category": "kesehatan", "severity": "sedang"} | more)


def run(case: Case, model: type[Any], message_id: str = "cmd-1", **fields: Any) -> Any:
    message = model.model_validate(
        {"message_id": message_id, "tracking_id": case.tracking_id} | fields
    )
    return decide_command(case, Command(message, Sender("tester")), NOW, RULES)


def change_of(decision: Any) -> CaseChange:
    assert isinstance(decision, CaseChange), decision
    return decision


def keys(change: CaseChange) -> list[str]:
    return [m.routing_key for m in change.messages]


# --- withdrawal ---------------------------------------------------------------------------


def withdraw(case: Case, who: str = "Budi") -> Any:
    return run(case, ReporterReply, channel="whatsapp", reporter={"name": who}, action="withdraw")


@pytest.mark.parametrize("status", ["needs_review", "deferred", "dispatched", "in_progress"])
def test_the_reporter_withdraws_before_resolution_and_the_case_is_kept_closed(
    status: str,
) -> None:
    holds = status in {"dispatched", "in_progress"}
    case = case_in(status, agency=LEAD if holds else None)
    change = change_of(withdraw(case))
    assert (change.step, change.target) == ("withdraw", Status.CLOSED)
    assert change.fields["close_reason"] == "withdrawn"
    assert change.messages[0].body["reason"] == "withdrawn"
    # The agency holding it is told; a case no agency has yet tells nobody else.
    expected = ["complaint.closed", f"opd.{LEAD}"] if holds else ["complaint.closed"]
    assert keys(change) == expected
    if holds:
        assert change.messages[1].body["notice"] == "withdrawn"
    assert "$unset" not in change.update() or "_id" not in change.update()["$unset"]


def test_a_withdrawal_after_resolution_is_refused_and_only_the_reporter_may_withdraw() -> None:
    for status in ("resolved", "closed"):
        refused = withdraw(case_in(status))
        assert isinstance(refused, Refusal) and refused.reason is Reason.STEP_NOT_ALLOWED
    stranger = withdraw(case_in("dispatched"), who="Orang Lain")
    assert isinstance(stranger, Refusal) and stranger.reason is Reason.NOT_THE_REPORTER


def test_a_koordinasi_withdrawal_tells_every_agency() -> None:
    change = change_of(withdraw(case_in("in_progress", supporting_agencies=HELPERS)))
    assert keys(change)[1:] == [f"opd.{code}" for code in (LEAD, *HELPERS)]


# --- extension ----------------------------------------------------------------------------


def ask(case: Case, until: dt.date, message: str | None = "survei lapangan butuh 2 pekan") -> Any:
    return run(
        case,
        OpdRespond,
        agency=LEAD,
        liaison="penghubung-1",
        action="request_extension",
        message=message,
        extend_until=until.isoformat(),
    )


def test_an_agency_asks_once_for_a_later_date_within_the_cap() -> None:
    case = case_in("in_progress")
    current = case.deadline("resolution")
    assert current is not None
    change = change_of(ask(case, dt.date(2026, 12, 4)))
    assert change.target is Status.IN_PROGRESS and "status" not in change.update()["$set"]
    stored = change.fields["extension"]
    assert (stored["state"], stored["until"]) == ("requested", end_of(12, 4))
    assert change.filter()["extension"] == {"$exists": False}
    assert keys(change) == ["complaint.extension_requested"]
    # A second request, once one was made, is refused, whatever became of the first.
    asked = case.with_fields(extension=stored)
    second = ask(asked, dt.date(2026, 12, 11))
    assert isinstance(second, Refusal) and second.reason is Reason.EXTENSION_REFUSED
    assert second.details["code"] == "extension_already_requested"


@pytest.mark.parametrize(
    ("until", "message", "code"),
    [(dt.date(2026, 11, 10), "x", "not_later"), (dt.date(2027, 3, 1), "x", "beyond_cap")],
)
def test_an_extension_request_out_of_the_rules_is_refused_with_its_code(
    until: dt.date, message: str, code: str
) -> None:
    refused = ask(case_in("in_progress"), until, message)
    assert isinstance(refused, Refusal) and refused.reason is Reason.EXTENSION_REFUSED
    assert refused.details["code"] == code


def test_an_extension_request_without_a_reason_or_a_date_is_refused() -> None:
    blank = ask(case_in("in_progress"), dt.date(2026, 12, 4), "   ")
    assert isinstance(blank, Refusal) and blank.reason is Reason.MESSAGE_REQUIRED
    no_date = respond(case_in("in_progress"), LEAD, "request_extension")
    assert isinstance(no_date, Refusal) and no_date.reason is Reason.INVALID_COMMAND


def requested_case() -> Case:
    case = case_in("in_progress")
    stored = change_of(ask(case, dt.date(2026, 12, 4))).fields["extension"]
    return case.with_fields(extension=stored)


def test_the_admin_grants_the_extension_and_the_resolution_deadline_moves() -> None:
    case = requested_case()
    before = case.deadline("resolution")
    change = change_of(run(case, ExtensionDecide, "ext-1", admin="admin-1", grant=True))
    assert change.step == "grant_extension"
    assert change.fields["deadlines.resolution"] == end_of(12, 4)
    assert change.fields["extension.state"] == "granted"
    assert change.filter()["extension.state"] == "requested"
    assert keys(change) == ["complaint.extension_granted", f"opd.{LEAD}"]
    granted = change.messages[0].body
    assert dt.datetime.fromisoformat(granted["previous_deadline"]) == before
    assert change.messages[1].body["notice"] == "extension_granted"
    # Decided once: nothing is waiting any more.
    decided = case.with_fields(extension=dict(case.doc["extension"], state="granted"))
    again = run(decided, ExtensionDecide, "ext-2", admin="admin-1", grant=True)
    assert isinstance(again, Refusal) and again.details["code"] == "no_pending_request"


def test_the_admin_refuses_the_extension_and_the_deadline_stays() -> None:
    change = change_of(
        run(requested_case(), ExtensionDecide, admin="admin-1", grant=False, note="tidak cukup")
    )
    assert change.step == "refuse_extension"
    assert "deadlines.resolution" not in change.fields
    assert keys(change) == ["complaint.extension_refused", f"opd.{LEAD}"]
    assert change.messages[1].body["notice"] == "extension_refused"


# --- koordinasi ---------------------------------------------------------------------------


def test_the_admin_dispatches_a_koordinasi_to_a_lead_and_supporting_agencies() -> None:
    case = case_in("awaiting_routing", agency=None)
    change = change_of(run(case, RoutingDispose, agency=LEAD, admin="admin-1", supporting=HELPERS))
    assert (change.step, change.target) == ("coordinate", Status.DISPATCHED)
    assert change.fields["supporting_agencies"] == HELPERS
    assert "deadlines.admin_desk" in change.unset
    dispositions = [m.body for m in change.messages if m.routing_key.startswith("opd.")]
    assert [(d["agency"], d["role"]) for d in dispositions] == [
        (LEAD, "lead"),
        (HELPERS[0], "supporting"),
        (HELPERS[1], "supporting"),
    ]
    assert {d["lead_agency"] for d in dispositions} == {LEAD}
    dispatched = next(m.body for m in change.messages if m.routing_key == "complaint.dispatched")
    assert (dispatched["agency"], dispatched["supporting_agencies"]) == (LEAD, HELPERS)


@pytest.mark.parametrize(
    ("supporting", "reason"),
    [([LEAD], Reason.INVALID_KOORDINASI), (["tidak-ada"], Reason.UNKNOWN_AGENCY)],
)
def test_a_koordinasi_with_the_lead_supporting_or_an_unknown_agency_is_refused(
    supporting: list[str], reason: Reason
) -> None:
    case = case_in("awaiting_routing", agency=None)
    refused = run(case, RoutingDispose, agency=LEAD, admin="admin-1", supporting=supporting)
    assert isinstance(refused, Refusal) and refused.reason is reason


def respond(case: Case, agency: str, action: str, message: str | None = "catatan") -> Any:
    return run(
        case, OpdRespond, f"r-{agency}", agency=agency, liaison="p", action=action, message=message
    )


def test_supporting_agencies_add_information_the_lead_sees_and_only_the_lead_resolves() -> None:
    case = case_in("in_progress", supporting_agencies=HELPERS)
    added = change_of(respond(case, HELPERS[0], "add_information", "data puskesmas terlampir"))
    assert added.step == "support" and added.target is Status.IN_PROGRESS
    assert added.push["agency_notes"]["agency"] == HELPERS[0]
    assert keys(added) == ["complaint.agency_information_added", f"opd.{LEAD}"]
    notice = added.messages[1].body
    assert (notice["notice"], notice["from_agency"]) == ("information_added", HELPERS[0])
    assert "data puskesmas terlampir" in notice["text"]
    assert not added.minimum  # a supporting agency's note is no answer to the reporter
    for action in ("resolve", "acknowledge", "follow_up", "request_extension"):
        refused = respond(case, HELPERS[1], action)
        assert isinstance(refused, Refusal) and refused.reason is Reason.NOT_HOLDING_AGENCY
    resolved = change_of(respond(case, LEAD, "resolve", "sudah diperbaiki"))
    assert resolved.target is Status.RESOLVED
    assert resolved.minimum["first_answer_at"] == NOW


# --- the admin desk's clock -----------------------------------------------------------


def test_a_case_handed_back_gets_the_admin_desks_one_working_day() -> None:
    rules = dataclasses.replace(RULES, hop_limit=1)
    case = case_in("dispatched")
    message = OpdRespond.model_validate(
        {
            "message_id": "r-1",
            "tracking_id": case.tracking_id,
            "agency": LEAD,
            "liaison": "p",
            "action": "not_our_authority",
            "message": "bukan kewenangan kami",
        }
    )
    # Handed back on Tue 3 Nov: Wed 4 is the holiday, so the desk has until Thu 5 Nov.
    at = dt.datetime(2026, 11, 3, 10, 0, tzinfo=WIB)
    change = change_of(decide_command(case, Command(message, Sender("t")), at, rules))
    assert (change.step, change.target) == ("return_to_admin", Status.AWAITING_ROUTING)
    assert change.fields["deadlines.admin_desk"] == end_of(11, 5)
    routed = next(m.body for m in change.messages if m.routing_key == "complaint.needs_routing")
    assert dt.datetime.fromisoformat(routed["admin_desk_deadline"]) == end_of(11, 5)
