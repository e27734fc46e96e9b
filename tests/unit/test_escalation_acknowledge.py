"""An oversight office's acknowledgement of an escalation, as a pure decision: recorded
once on the case's timeline, with who, and only for a notice this case's ladder fired."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.escalation.decisions import ACKNOWLEDGE_STEP, decide_acknowledge, notice_id
from shared.calendar import WorkingCalendar
from shared.case import Case
from shared.contract import OversightAcknowledge
from shared.escalation_policy import CaseClock, plan
from shared.lifecycle import EscalationTarget, Status
from shared.sla import SlaPolicy
from shared.unit_of_work import Command
from shared.vocabulary import Reason, Refusal
from tests import factories

pytestmark = pytest.mark.unit

DISPATCHED_AT = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
NOW = DISPATCHED_AT + timedelta(days=60)


def escalated_case(*, acknowledged: list[str] | None = None) -> tuple[Case, str]:
    """A late case whose ladder fired up to the Ombudsman; the Ombudsman's notice ID."""
    doc = factories.dispatched(factories.received(DISPATCHED_AT), DISPATCHED_AT)
    rungs = plan(SlaPolicy(), WorkingCalendar(), CaseClock.from_document(doc)).due(NOW)
    doc["escalation"] = {"fired": [r.key for r in rungs]}
    if acknowledged is not None:
        doc["escalation"]["acknowledged"] = acknowledged
    top = rungs[-1]
    assert top.target is EscalationTarget.OMBUDSMAN
    return Case(doc), notice_id(doc["_id"], top)


def ack(case: Case, notice: str, **changes: object) -> Command[OversightAcknowledge]:
    fields: dict[str, object] = {
        "message_id": f"portal:ack:{notice}",
        "tracking_id": case.tracking_id,
        "notice_id": notice,
        "target": "ombudsman",
        "level": 3,
        "by": "ombudsman.sumsel",
        "at": NOW,
    }
    return Command(OversightAcknowledge.model_validate(fields | changes))


def test_an_acknowledgement_is_recorded_on_the_timeline_with_who() -> None:
    case, notice = escalated_case()
    change = decide_acknowledge(case, ack(case, notice), NOW)
    assert change is not None and not isinstance(change, Refusal)
    assert change.target is Status.DISPATCHED and "status" not in change.update()["$set"]
    entry = change.timeline_entry()
    assert entry["step"] == ACKNOWLEDGE_STEP and entry["actor"] == "oversight"
    assert entry["by"] == "ombudsman.sumsel" and entry["target"] == "ombudsman"
    assert entry["notice_id"] == notice and "from" not in entry
    assert "ombudsman.sumsel" in entry["note"] and "Ombudsman" in entry["note"]
    # Once per notice and once per command, whichever replica or redelivery comes first.
    query = change.filter()
    assert query["escalation.acknowledged"] == {"$ne": notice}
    assert query["applied"] == {"$ne": f"portal:ack:{notice}"}
    assert change.push["escalation.acknowledged"] == notice


def test_a_notice_acknowledged_already_changes_nothing() -> None:
    case, notice = escalated_case()
    case = Case(case.doc | {"escalation": case.doc["escalation"] | {"acknowledged": [notice]}})
    assert decide_acknowledge(case, ack(case, notice, by="someone.else"), NOW) is None


@pytest.mark.parametrize(
    "notice",
    [
        "notice:AAAA-BBBB-CCCC:resolution:3",  # another case's notice
        "notice:{tid}:not-fired-yet",  # a step this case's ladder never fired
        "{tid}",  # not a notice ID at all
    ],
)
def test_a_notice_this_case_never_fired_is_refused(notice: str) -> None:
    case, _ = escalated_case()
    named = notice.format(tid=case.tracking_id)
    refused = decide_acknowledge(case, ack(case, named), NOW)
    assert isinstance(refused, Refusal) and refused.reason is Reason.INVALID_COMMAND
