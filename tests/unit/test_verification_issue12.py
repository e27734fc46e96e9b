"""Issue 12 in verification's decisions: rahasia held, the deferral clock, the admin desk's.

Hand-counted over a real working calendar with an operator holiday: deferred on Mon 2 Nov
2026, 09:00 WIB, with Wed 4 Nov declared a holiday. The reporter's 10 working days are
Tue 3, Thu 5, Fri 6, Mon 9 .. Fri 13, Mon 16, Tue 17 Nov: the window ends Tue 17 Nov
23:59:59.999999 WIB (day 9 is Mon 16 Nov). The admin desk's 1 working day after a
referral on Tue 3 Nov is Thu 5 Nov (Wed 4 is the holiday).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.verification.decisions import Rules, decide_admin, decide_resume, facts_of
from services.verification.policy import HoldForReview, VerificationPolicy, assess, decide
from shared.calendar import ExtraHoliday, WorkingCalendar
from shared.case import Case
from shared.contract import VerificationDecide
from shared.lifecycle import Status
from shared.sla import SlaPolicy
from shared.unit_of_work import CaseChange, Command, Sender
from tests import factories

pytestmark = pytest.mark.unit

WIB = ZoneInfo("Asia/Jakarta")
CAL = WorkingCalendar([ExtraHoliday(date=dt.date(2026, 11, 4), name="cuti bersama (uji)")])
SLA = SlaPolicy()
POLICY = VerificationPolicy()
RULES = Rules(
    POLICY,
    verification_deadline=lambda at: SLA.verification_deadline(CAL, at),
    deferral_deadline=lambda at: SLA.deferral_deadline(CAL, at),
    admin_desk_deadline=lambda at: SLA.admin_desk_deadline(CAL, at),
)
DEFERRED_AT = dt.datetime(2026, 11, 2, 9, 0, tzinfo=WIB)
WINDOW_END = dt.datetime(2026, 11, 17, 23, 59, 59, 999_999, tzinfo=WIB)


def held(**fields: Any) -> Case:
    doc = factories.received(DEFERRED_AT - dt.timedelta(hours=1), **fields)
    return Case(doc | {"status": "needs_review"})


def admin(case: Case, at: dt.datetime, **fields: Any) -> CaseChange:
    command = VerificationDecide.model_validate(
        {"message_id": "cmd-1", "tracking_id": case.tracking_id, "admin": "admin-1"} | fields
    )
    change = decide_admin(case, Command(command, Sender("lapor-admin")), at, RULES)
    assert isinstance(change, CaseChange), change
    return change


def deferred_case() -> Case:
    case = held()
    change = admin(case, DEFERRED_AT, decision="defer", question="Di RT berapa?")
    deadline = change.fields["deadlines.deferral"]
    return case.with_fields(
        status="deferred", deadlines=case.doc["deadlines"] | {"deferral": deadline}
    )


def test_a_rahasia_report_is_held_for_the_admin_and_says_why() -> None:
    case = Case(factories.received(DEFERRED_AT, confidential=True, agency="pupr-palembang"))
    facts = facts_of(case)
    verdict = decide(facts, assess(facts, [], POLICY), POLICY)
    assert facts.confidential is True
    assert isinstance(verdict, HoldForReview)
    assert "confidential" in {f.code for f in verdict.findings}
    plain = Case(factories.received(DEFERRED_AT, agency="pupr-palembang"))
    plain_facts = facts_of(plain)
    assert not isinstance(
        decide(plain_facts, assess(plain_facts, [], POLICY), POLICY), HoldForReview
    )


def test_deferring_stores_the_reporters_window_of_10_working_days_around_a_holiday() -> None:
    change = admin(held(), DEFERRED_AT, decision="defer", question="Di RT berapa?")
    assert change.target is Status.DEFERRED
    assert change.fields["deadlines.deferral"] == WINDOW_END
    assert dt.datetime.fromisoformat(change.messages[0].body["deferral_deadline"]) == WINDOW_END


def test_a_reply_on_day_9_revives_the_case_with_a_fresh_3_working_day_clock() -> None:
    case = deferred_case()
    day_9 = dt.datetime(2026, 11, 16, 15, 0, tzinfo=WIB)
    change = decide_resume(case, "info-1", day_9, RULES, added_at=day_9)
    assert isinstance(change, CaseChange)
    assert change.target is Status.NEEDS_REVIEW
    # Tue 17, Wed 18, Thu 19 Nov: the admin's 3 working days start again.
    fresh = dt.datetime(2026, 11, 19, 23, 59, 59, 999_999, tzinfo=WIB)
    assert change.fields["deadlines.verification"] == fresh
    assert "deadlines.deferral" in change.unset


def test_a_reply_after_day_10_revives_nothing() -> None:
    case = deferred_case()
    day_11 = dt.datetime(2026, 11, 18, 0, 0, tzinfo=WIB)
    assert decide_resume(case, "info-1", day_11, RULES, added_at=day_11) is None
    # The last instant of day 10 is still in time.
    assert decide_resume(case, "info-1", day_11, RULES, added_at=WINDOW_END) is not None


def test_not_our_authority_starts_the_admin_desks_one_working_day() -> None:
    referred_at = dt.datetime(2026, 11, 3, 10, 0, tzinfo=WIB)
    change = admin(held(), referred_at, decision="not_our_authority", note="urusan pusat")
    desk = dt.datetime(2026, 11, 5, 23, 59, 59, 999_999, tzinfo=WIB)
    assert change.target is Status.AWAITING_ROUTING
    assert change.fields["deadlines.admin_desk"] == desk
    assert dt.datetime.fromisoformat(change.messages[0].body["admin_desk_deadline"]) == desk
