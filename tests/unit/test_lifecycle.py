"""The complaint lifecycle: who may move a case where."""

from datetime import UTC, datetime, timedelta

import pytest

from shared.lifecycle import (
    STEPS,
    TERMINAL,
    Actor,
    AgencyRole,
    ArchiveReason,
    CloseReason,
    DeferralExpired,
    ExtensionRefused,
    ExtensionState,
    LifecycleError,
    NotHolding,
    Status,
    StepNotAllowed,
    UnknownStep,
    can_take,
    check_agency_step,
    check_can_decide_extension,
    check_can_request_extension,
    check_koordinasi,
    check_reply_in_time,
    sources_of,
    transition,
)

pytestmark = pytest.mark.unit


def test_the_happy_path_from_intake_to_closing() -> None:
    status = Status.RECEIVED
    for step, actor in [
        ("hold_for_review", Actor.SYSTEM),
        ("verify", Actor.ADMIN),
        ("dispatch", Actor.SYSTEM),
        ("acknowledge", Actor.AGENCY),
        ("follow_up", Actor.AGENCY),
        ("resolve", Actor.AGENCY),
        ("rate", Actor.REPORTER),
        ("accept", Actor.REPORTER),
    ]:
        status = transition(step, status, actor)
    assert status is Status.CLOSED


def test_nothing_leaves_a_terminal_status() -> None:
    for name, step in STEPS.items():
        for status in TERMINAL:
            if name == "rate" and status is Status.CLOSED:
                continue  # a closed case may still be rated; it stays closed
            assert status not in step.sources, name
    assert transition("rate", Status.CLOSED, Actor.REPORTER) is Status.CLOSED


def test_only_the_right_actor_may_take_a_step() -> None:
    assert can_take("resolve", Status.IN_PROGRESS, Actor.AGENCY)
    assert not can_take("resolve", Status.IN_PROGRESS, Actor.REPORTER)
    assert not can_take("verify", Status.RECEIVED, Actor.AGENCY)
    with pytest.raises(StepNotAllowed, match="not allowed from status"):
        transition("accept", Status.DISPATCHED, Actor.REPORTER)


def test_agency_not_our_authority_and_reporter_reopen() -> None:
    assert transition("forward", Status.IN_PROGRESS, Actor.AGENCY) is Status.DISPATCHED
    assert transition("return_to_admin", Status.DISPATCHED, Actor.SYSTEM) is Status.AWAITING_ROUTING
    assert transition("reopen", Status.RESOLVED, Actor.REPORTER) is Status.DISPATCHED
    assert transition("auto_close", Status.RESOLVED, Actor.CLOCK) is Status.CLOSED


def test_adding_information_keeps_the_status() -> None:
    assert transition("add_information", Status.IN_PROGRESS, Actor.REPORTER) is Status.IN_PROGRESS


def test_status_guards_list_every_source() -> None:
    assert sources_of("verify") == ["deferred", "needs_review", "received"]
    with pytest.raises(UnknownStep):
        sources_of("teleport")


def test_every_status_is_reachable() -> None:
    targets = {s.target for s in STEPS.values()} | {Status.RECEIVED}
    assert targets == set(Status)


# --- issue 12: every case has an owner and a clock ------------------------------------------

T = datetime(2026, 11, 23, 10, tzinfo=UTC)
DAY = timedelta(days=1)


def test_a_deferral_left_unanswered_is_archived_by_the_clock_only() -> None:
    assert transition("expire_deferral", Status.DEFERRED, Actor.CLOCK) is Status.ARCHIVED
    assert not can_take("expire_deferral", Status.DEFERRED, Actor.ADMIN)
    assert not can_take("expire_deferral", Status.NEEDS_REVIEW, Actor.CLOCK)
    assert str(ArchiveReason.NO_REPLY) == "no_reply"


def test_information_in_time_sends_a_deferred_case_back_to_verification() -> None:
    deadline = T + 9 * DAY
    check_reply_in_time(deadline, deadline)  # the last instant still counts
    assert transition("resume", Status.DEFERRED, Actor.REPORTER) is Status.NEEDS_REVIEW
    with pytest.raises(DeferralExpired, match="deferral window ended"):
        check_reply_in_time(deadline, deadline + timedelta(microseconds=1))
    # Once archived, a late reply revives nothing.
    assert not can_take("resume", Status.ARCHIVED, Actor.REPORTER)


def test_an_extension_is_asked_once_with_a_reason_for_a_later_date_within_the_cap() -> None:
    deadline, cap = T, T + 20 * DAY
    check_can_request_extension(None, deadline, T + 5 * DAY, cap, "butuh anggaran")
    for existing, until, reason, code in [
        ({"state": "refused"}, T + 5 * DAY, "lagi", "extension_already_requested"),
        ({"state": "granted"}, T + 5 * DAY, "lagi", "extension_already_requested"),
        (None, T + 5 * DAY, "  ", "reason_required"),
        (None, T, "butuh anggaran", "not_later"),
        (None, cap + DAY, "butuh anggaran", "beyond_cap"),
    ]:
        with pytest.raises(ExtensionRefused) as refused:
            check_can_request_extension(existing, deadline, until, cap, reason)
        assert refused.value.code == code
    check_can_request_extension(None, deadline, cap, cap, "tepat di batas")  # the cap itself


def test_the_admin_decides_a_waiting_extension_once_and_the_status_stays() -> None:
    check_can_decide_extension({"state": ExtensionState.REQUESTED})
    for existing in (None, {"state": "granted"}, {"state": "refused"}):
        with pytest.raises(ExtensionRefused, match="no_pending_request"):
            check_can_decide_extension(existing)
    for name, actor in [
        ("request_extension", Actor.AGENCY),
        ("grant_extension", Actor.ADMIN),
        ("refuse_extension", Actor.ADMIN),
    ]:
        assert transition(name, Status.DISPATCHED, actor) is Status.DISPATCHED
        assert transition(name, Status.IN_PROGRESS, actor) is Status.IN_PROGRESS
    assert not can_take("grant_extension", Status.IN_PROGRESS, Actor.AGENCY)
    assert not can_take("request_extension", Status.RESOLVED, Actor.AGENCY)


def test_koordinasi_the_supporting_agencies_add_and_only_the_lead_resolves() -> None:
    lead, supporting = "dinkes-sumsel", check_koordinasi("dinkes-sumsel", ["dinsos", "dpu"])
    assert transition("coordinate", Status.AWAITING_ROUTING, Actor.ADMIN) is Status.DISPATCHED
    assert transition("coordinate", Status.VERIFIED, Actor.ADMIN) is Status.DISPATCHED
    assert check_agency_step("support", "dinsos", lead, supporting) is AgencyRole.SUPPORTING
    assert transition("support", Status.DISPATCHED, Actor.AGENCY) is Status.DISPATCHED
    assert check_agency_step("resolve", lead, lead, supporting) is AgencyRole.LEAD
    with pytest.raises(NotHolding, match="is a supporting agency"):
        check_agency_step("resolve", "dinsos", lead, supporting)
    with pytest.raises(NotHolding, match="has no part"):
        check_agency_step("support", "disdik", lead, supporting)
    with pytest.raises(LifecycleError, match="cannot also be a supporting"):
        check_koordinasi(lead, [lead, "dinsos"])
    with pytest.raises(LifecycleError, match="at least one"):
        check_koordinasi(lead, [])


def test_a_reporter_withdraws_before_resolution_only() -> None:
    for status in (Status.RECEIVED, Status.DEFERRED, Status.DISPATCHED, Status.IN_PROGRESS):
        assert transition("withdraw", status, Actor.REPORTER) is Status.CLOSED
    assert str(CloseReason.WITHDRAWN) == "withdrawn"
    for status in (Status.RESOLVED, Status.CLOSED, Status.ARCHIVED):
        with pytest.raises(StepNotAllowed):
            transition("withdraw", status, Actor.REPORTER)
    assert not can_take("withdraw", Status.IN_PROGRESS, Actor.AGENCY)
