"""Routing's use cases as pure decisions: dispatch, dispose, agencies' answers, replies."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.routing.decisions import Rules, decide_command, decide_route
from services.routing.registry import read_registry, sample_registry_path
from shared.calendar import WorkingCalendar
from shared.case import Case
from shared.contract import (
    ComplaintVerified,
    OpdRespond,
    ReporterReply,
    RoutingDispose,
)
from shared.lifecycle import Kind, Severity, Status
from shared.pii import IdentityUnreadable
from shared.senders import SenderPolicy, SendersMode
from shared.sla import SlaPolicy
from shared.unit_of_work import CaseChange, Command, Sender
from shared.vocabulary import Reason, Refusal
from tests import factories

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
AGENCIES = read_registry(sample_registry_path()).agencies
REPORTER_PRINTS = {"fp-reporter"}
RULES = Rules(
    sla=SlaPolicy(),
    calendar=WorkingCalendar(),
    timezone="Asia/Jakarta",
    hop_limit=3,
    default_severity=Severity.SEDANG,
    agencies=AGENCIES,
    identity=lambda _case: {"name": "Budi Santoso", "phone": "+6281234567890"},
    fingerprints=lambda reply: REPORTER_PRINTS if reply.reporter.name == "Budi" else {"other"},
    # These tests are about cases; who may send is tested with ENFORCE at the end.
    senders=SenderPolicy(mode=SendersMode.OPEN),
)
ENFORCED = dataclasses.replace(RULES, senders=SenderPolicy())


def verified_case(**fields: Any) -> Case:
    doc = factories.received(NOW - timedelta(hours=1), **fields)
    doc["reporter"]["fingerprints"] = sorted(REPORTER_PRINTS)
    return Case(doc | {"status": "verified", "category": "jalan", "severity": "sedang"})


def holding(agency: str = "pupr-palembang", status: str = "dispatched") -> Case:
    doc = factories.dispatched(dict(verified_case().doc), NOW - timedelta(days=1), agency)
    return Case(doc | {"status": status})


def verified_event(case: Case, **fields: Any) -> ComplaintVerified:
    values: dict[str, Any] = {
        "message_id": f"verified:{case.tracking_id}",
        "tracking_id": case.tracking_id,
        "occurred_at": NOW,
        "status": Status.VERIFIED,
        "kind": Kind.PENGADUAN,
        "category": "jalan",
        "severity": Severity.SEDANG,
        "anonymous": False,
        "confidential": False,
        "by": "system",
    }
    return ComplaintVerified.model_validate(values | fields)


def command(
    case: Case, model: type[Any], sender: str = "tester", rules: Rules = RULES, **fields: Any
) -> Any:
    message = model.model_validate(
        {"message_id": "cmd-1", "tracking_id": case.tracking_id} | fields
    )
    return decide_command(case, Command(message, Sender(sender)), NOW, rules)


def change_of(decision: Any) -> CaseChange:
    assert isinstance(decision, CaseChange), decision
    return decision


def keys(change: CaseChange) -> list[str]:
    return [m.routing_key for m in change.messages]


# --- dispatching ------------------------------------------------------------------------


def test_a_verified_road_report_goes_to_the_city_road_agency() -> None:
    case = verified_case()
    change = change_of(decide_route(case, verified_event(case), NOW, RULES))
    assert (change.step, change.target) == ("dispatch", Status.DISPATCHED)
    assert keys(change) == ["opd.pupr-palembang", "complaint.dispatched"]
    assert change.fields["hop"] == 1 and change.fields["agency"] == "pupr-palembang"
    assert change.filter() == {"_id": case.tracking_id, "status": "verified", "hop": None}
    disposition = change.messages[0].body
    assert disposition["message_id"] == f"disposition:{case.tracking_id}:1"
    assert disposition["reporter_name"] == "Budi Santoso"  # not anonim: the name, no contact
    assert "6281234567890" not in str(disposition)


def test_a_report_no_rule_matches_waits_for_the_admin() -> None:
    case = verified_case(location={"region_code": "99"})
    event = verified_event(case, category="listrik")
    change = change_of(decide_route(case, event, NOW, RULES))
    assert (change.step, change.target) == ("route_manually", Status.AWAITING_ROUTING)
    assert keys(change) == ["complaint.needs_routing"]
    assert "agency" in change.unset and change.entry["rule"] == "manual"


def test_a_case_already_routed_is_left_alone() -> None:
    case = holding()
    assert decide_route(case, verified_event(case), NOW, RULES) is None


def test_the_admin_routes_by_hand_or_is_refused_an_unknown_agency() -> None:
    waiting = Case(dict(verified_case().doc) | {"status": "awaiting_routing"})
    change = change_of(
        command(waiting, RoutingDispose, agency="pdam-palembang", admin="admin-1", note="air")
    )
    assert change.fields["agency"] == "pdam-palembang" and change.command_id == "cmd-1"
    assert change.entry["by"] == "admin-1" and change.entry["rule"] == "admin"
    refused = command(waiting, RoutingDispose, agency="pln-ulp-ilir-timur", admin="admin-1")
    assert isinstance(refused, Refusal) and refused.reason is Reason.UNKNOWN_AGENCY
    assert command(verified_case(), RoutingDispose, agency="pdam-palembang", admin="a") is None


# --- agencies' answers ------------------------------------------------------------------


def test_an_agency_answer_moves_the_case_and_records_the_first_answer() -> None:
    case = holding()
    ack = change_of(
        command(case, OpdRespond, agency="pupr-palembang", action="acknowledge", liaison="L")
    )
    assert ack.target is Status.IN_PROGRESS and ack.minimum == {"first_answer_at": NOW}
    assert ack.filter()["agency"] == "pupr-palembang"
    assert ack.messages[0].body["acknowledged_only"] is True
    resolved = change_of(
        command(case, OpdRespond, agency="pupr-palembang", action="resolve", liaison="L",
                message="Sudah ditambal.")
    )  # fmt: skip
    assert resolved.target is Status.RESOLVED
    assert resolved.fields["deadlines.auto_close"] > NOW
    assert keys(resolved) == ["complaint.resolved"]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"agency": "pdam-palembang", "action": "acknowledge"}, Reason.NOT_HOLDING_AGENCY),
        ({"agency": "pupr-palembang", "action": "resolve"}, Reason.MESSAGE_REQUIRED),
    ],
)
def test_an_answer_that_can_never_apply_is_refused(fields: dict[str, Any], reason: Reason) -> None:
    refused = command(holding(), OpdRespond, liaison="L", **fields)
    assert isinstance(refused, Refusal) and refused.reason is reason


def test_a_redelivered_answer_is_acknowledged_even_after_the_case_moved_on() -> None:
    moved = Case(dict(holding("pdam-palembang").doc) | {"applied": ["cmd-1"]})
    assert command(moved, OpdRespond, agency="pupr-palembang", action="acknowledge",
                   liaison="L") is None  # fmt: skip


def test_not_our_authority_forwards_to_the_next_agency_closing_the_hop() -> None:
    case = holding("dinkes-palembang")
    change = change_of(
        command(case, OpdRespond, agency="dinkes-palembang", action="not_our_authority",
                liaison="L", message="Ini jalan, bukan kesehatan.")
    )  # fmt: skip
    assert change.step == "forward" and change.fields["agency"] == "pupr-palembang"
    assert keys(change) == ["complaint.forwarded", "opd.pupr-palembang", "complaint.dispatched"]
    assert change.fields["hops"][0]["outcome"] == "not_our_authority"
    assert change.filter()["hop"] == 1


def test_not_our_authority_with_no_agency_left_returns_to_the_admin() -> None:
    case = holding("dinkes-palembang")
    rules = dataclasses.replace(
        RULES, agencies=[a for a in AGENCIES if a.code.startswith("dinkes")]
    )
    message = OpdRespond(
        message_id="cmd-1",
        tracking_id=case.tracking_id,
        agency="dinkes-palembang",
        action="not_our_authority",
        liaison="L",
        message="Bukan kami.",
    )
    change = change_of(decide_command(case, Command(message), NOW, rules))
    assert (change.step, change.target) == ("return_to_admin", Status.AWAITING_ROUTING)
    assert keys(change) == ["complaint.forwarded", "complaint.needs_routing"]
    assert change.command_id == "cmd-1" and change.filter()["agency"] == "dinkes-palembang"


# --- reporters' replies -----------------------------------------------------------------


def reply(case: Case, who: str = "Budi", **fields: Any) -> Any:
    return command(case, ReporterReply, channel="whatsapp", reporter={"name": who}, **fields)


def test_only_the_reporter_may_reply() -> None:
    refused = reply(holding(), who="Orang Lain", action="add_information", message="x")
    assert isinstance(refused, Refusal) and refused.reason is Reason.NOT_THE_REPORTER
    assert reply(holding(), action="rate").reason is Reason.RATING_REQUIRED


def test_added_information_reaches_the_agency_holding_the_case() -> None:
    change = change_of(reply(holding(), action="add_information", message="Lubangnya melebar"))
    assert change.target is Status.DISPATCHED and "status" not in change.update()["$set"]
    assert keys(change) == ["complaint.information_added", "opd.pupr-palembang"]
    assert "Lubangnya melebar" in change.messages[1].body["note"]


def test_a_resolved_case_is_accepted_rated_or_reopened() -> None:
    resolved = holding(status="resolved")
    accepted = change_of(reply(resolved, action="accept", rating=5))
    assert accepted.target is Status.CLOSED and accepted.fields["close_reason"] == "accepted"
    assert keys(accepted) == ["complaint.rated", "complaint.closed"]
    reopened = change_of(reply(resolved, action="reopen", message="Belum diperbaiki"))
    assert reopened.target is Status.DISPATCHED and reopened.inc == {"reopen_count": 1}
    assert "deadlines.auto_close" in reopened.unset
    assert keys(reopened) == ["opd.pupr-palembang", "complaint.reopened"]
    assert reply(holding(), action="accept") is None  # not resolved yet: nothing to do


# --- who may send (LAPOR_SENDERS=enforce) -----------------------------------------------


@pytest.mark.parametrize(
    ("sender", "agency"),
    [
        ("opd-pdam-palembang", "pupr-palembang"),  # another agency, in the holder's name
        ("opd-pdam-palembang", "pdam-palembang"),  # another agency, in its own name
        ("channel-whatsapp", "pupr-palembang"),  # a channel posing as an agency
        ("tester", "pupr-palembang"),  # nobody LAPOR knows
    ],
)
def test_only_the_holding_agency_or_the_portal_may_answer(sender: str, agency: str) -> None:
    refused = command(
        holding(), OpdRespond, sender, ENFORCED, agency=agency, action="acknowledge", liaison="L"
    )
    assert isinstance(refused, Refusal) and refused.reason is Reason.UNAUTHORISED
    for allowed in ("opd-pupr-palembang", "lapor-portal"):
        change = command(
            holding(), OpdRespond, allowed, ENFORCED,
            agency="pupr-palembang", action="acknowledge", liaison="L",
        )  # fmt: skip
        assert change_of(change).target is Status.IN_PROGRESS


def test_only_the_cases_own_channel_may_relay_a_reply() -> None:
    fields: dict[str, Any] = {
        "channel": "whatsapp", "reporter": {"name": "Budi"}, "action": "add_information",
        "message": "x",
    }  # fmt: skip
    for sender in ("channel-sms", "lapor-portal", "opd-pupr-palembang", "tester"):
        refused = command(holding(), ReporterReply, sender, ENFORCED, **fields)
        assert isinstance(refused, Refusal) and refused.reason is Reason.UNAUTHORISED, sender
    assert change_of(command(holding(), ReporterReply, "channel-whatsapp", ENFORCED, **fields))


# --- identity fails closed --------------------------------------------------------------


def _unreadable(_case: Case) -> dict[str, object]:
    raise IdentityUnreadable("another key")


def test_a_case_whose_identity_does_not_open_goes_to_the_admin_not_to_an_agency() -> None:
    rules = dataclasses.replace(RULES, identity=_unreadable)
    case = verified_case()
    change = change_of(decide_route(case, verified_event(case), NOW, rules))
    assert (change.step, change.target) == ("route_manually", Status.AWAITING_ROUTING)
    assert keys(change) == ["complaint.needs_routing"]  # no Disposition
    assert "identitas pelapor tidak dapat dibuka" in change.messages[0].body["reason"]


def test_the_admin_cannot_dispose_a_case_whose_identity_does_not_open() -> None:
    rules = dataclasses.replace(RULES, identity=_unreadable)
    case = Case(dict(verified_case().doc) | {"status": "awaiting_routing"})
    refused = command(case, RoutingDispose, "tester", rules, agency="pupr-palembang", admin="a")
    assert isinstance(refused, Refusal) and refused.reason is Reason.IDENTITY_UNREADABLE


def test_not_our_authority_goes_to_the_admin_when_the_identity_does_not_open() -> None:
    rules = dataclasses.replace(RULES, identity=_unreadable)
    change = change_of(
        command(holding(), OpdRespond, "tester", rules, agency="pupr-palembang",
                action="not_our_authority", liaison="L", message="bukan kami")
    )  # fmt: skip
    assert change.target is Status.AWAITING_ROUTING
    assert not any(k.startswith("opd.") for k in keys(change))
