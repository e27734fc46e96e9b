"""The complaint lifecycle: who may move a case where."""

import pytest

from shared.lifecycle import (
    STEPS,
    TERMINAL,
    Actor,
    Status,
    StepNotAllowed,
    UnknownStep,
    can_take,
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
