"""The SLA policy's deadlines and escalation ladder, against hand-counted 2026 dates."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from shared.calendar import WorkingCalendar
from shared.lifecycle import EscalationTarget, Severity
from shared.sla import LadderStep, SlaPolicy

pytestmark = pytest.mark.unit

UTC = dt.UTC
WIB = ZoneInfo("Asia/Jakarta")
WIT = ZoneInfo("Asia/Jayapura")


@pytest.fixture
def cal() -> WorkingCalendar:
    return WorkingCalendar()


@pytest.fixture
def policy() -> SlaPolicy:
    return SlaPolicy()


def wib(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, us, tzinfo=WIB)


def end_wib(year: int, month: int, day: int) -> dt.datetime:
    return wib(year, month, day, 23, 59, 59, 999_999)


def test_verification_deadline_across_nyepi_and_eid(
    cal: WorkingCalendar, policy: SlaPolicy
) -> None:
    # Received Tue 17 Mar 2026. Off: Wed 18 (cuti bersama Nyepi), Thu 19 (Nyepi), Fri 20
    # (cuti bersama Idul Fitri), Sat 21 / Sun 22, Mon 23 and Tue 24 (cuti bersama Idul
    # Fitri). Working days 1, 2, 3: Wed 25, Thu 26, Fri 27.
    assert policy.verification_deadline(cal, wib(2026, 3, 17, 10, 0)) == end_wib(2026, 3, 27)


def test_verification_deadline_from_saturday(cal: WorkingCalendar, policy: SlaPolicy) -> None:
    # Received Sat 7 Mar 2026: Mon 9, Tue 10, Wed 11.
    assert policy.verification_deadline(cal, wib(2026, 3, 7, 8, 0)) == end_wib(2026, 3, 11)


def test_verification_deadline_at_2330(cal: WorkingCalendar, policy: SlaPolicy) -> None:
    # Received Fri 6 Mar 23:30 WIB, still Friday: Mon 9, Tue 10, Wed 11 (the same as a
    # Saturday receipt, since the weekend adds no working day).
    assert policy.verification_deadline(cal, wib(2026, 3, 6, 23, 30)) == end_wib(2026, 3, 11)
    # Thu 5 Mar 23:30 WIB is still Thursday: Fri 6, Mon 9, Tue 10.
    assert policy.verification_deadline(cal, wib(2026, 3, 5, 23, 30)) == end_wib(2026, 3, 10)


def test_follow_up_deadline_across_ascension(cal: WorkingCalendar, policy: SlaPolicy) -> None:
    # Disposed Mon 11 May 2026: Tue 12 (1), Wed 13 (2), Thu 14 Ascension, Fri 15 cuti
    # bersama, weekend, Mon 18 (3), Tue 19 (4), Wed 20 (5).
    assert policy.follow_up_deadline(cal, wib(2026, 5, 11, 9, 0)) == end_wib(2026, 5, 20)


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        # Disposed Mon 3 Aug 2026. Ringan, 5: Tue 4, Wed 5, Thu 6, Fri 7, Mon 10.
        (Severity.RINGAN, end_wib(2026, 8, 10)),
        # Sedang, 14: Aug 4-7 (4), 10-14 (9), Mon 17 Independence Day, 18-21 (13),
        # Mon 24 (14).
        (Severity.SEDANG, end_wib(2026, 8, 24)),
        # Berat, 22: after Mon 24 (14), Tue 25 Maulid Nabi, 26-28 (17), Mon 31 (18),
        # Tue 1 to Fri 4 Sep (22).
        (Severity.BERAT, end_wib(2026, 9, 4)),
    ],
)
def test_resolution_deadline_by_severity(
    cal: WorkingCalendar, policy: SlaPolicy, severity: Severity, expected: dt.datetime
) -> None:
    assert policy.resolution_deadline(cal, wib(2026, 8, 3, 10, 0), severity) == expected


def test_resolution_deadline_in_an_agency_zone(cal: WorkingCalendar, policy: SlaPolicy) -> None:
    # 16:30 UTC Thu 9 Apr 2026 is Thu 23:30 WIB but Fri 10 Apr 01:30 WIT.
    disposed = dt.datetime(2026, 4, 9, 16, 30, tzinfo=UTC)
    # WIB, ringan 5 from Thu 9: Fri 10, Mon 13 to Thu 16.
    assert policy.resolution_deadline(cal, disposed, Severity.RINGAN) == end_wib(2026, 4, 16)
    # WIT, ringan 5 from Fri 10: Mon 13 to Fri 17, ending at 14:59:59.999999 UTC.
    in_wit = policy.resolution_deadline(cal, disposed, Severity.RINGAN, tz="Asia/Jayapura")
    assert in_wit == dt.datetime(2026, 4, 17, 23, 59, 59, 999_999, tzinfo=WIT)
    assert in_wit == dt.datetime(2026, 4, 17, 14, 59, 59, 999_999, tzinfo=UTC)


def test_auto_close_after_ten_working_days(cal: WorkingCalendar, policy: SlaPolicy) -> None:
    # Final answer Fri 8 May 2026: Mon 11 (1), Tue 12 (2), Wed 13 (3), Thu 14 Ascension,
    # Fri 15 cuti bersama, Mon 18 to Fri 22 (8), Mon 25 (9), Tue 26 (10). The reply
    # window ends with Tue 26; the case closes at the midnight that starts Wed 27.
    closes = policy.auto_close_at(cal, wib(2026, 5, 8, 14, 0))
    assert closes == wib(2026, 5, 27, 0, 0)
    assert closes == dt.datetime(2026, 5, 26, 17, 0, tzinfo=UTC)


def test_reminder_one_working_day_before(cal: WorkingCalendar, policy: SlaPolicy) -> None:
    # Deadline Fri 27 Mar 2026: the working day before is Thu 26, reminded at its start.
    assert policy.reminder_at(cal, end_wib(2026, 3, 27)) == wib(2026, 3, 26, 0, 0)


def test_reminder_when_the_day_before_is_a_holiday(cal: WorkingCalendar, policy: SlaPolicy) -> None:
    # Deadline Wed 25 Mar 2026: Tue 24 down to Wed 18 are all cuti bersama, holiday or
    # weekend, so the reminder goes out at the start of Tue 17, eight days earlier.
    assert policy.reminder_at(cal, end_wib(2026, 3, 25)) == wib(2026, 3, 17, 0, 0)
    # Deadline Mon 28 Dec 2026: Fri 25 Christmas, Thu 24 cuti bersama; remind Wed 23.
    assert policy.reminder_at(cal, end_wib(2026, 12, 28)) == wib(2026, 12, 23, 0, 0)


def test_escalation_ladder(cal: WorkingCalendar, policy: SlaPolicy) -> None:
    deadline = end_wib(2026, 3, 27)  # Fri 27 Mar 2026
    assert policy.escalation_ladder(cal, deadline) == [
        # Level 0: start of Thu 26, the working day before the deadline.
        LadderStep(0, EscalationTarget.PENGHUBUNG, wib(2026, 3, 26, 0, 0)),
        # Level 1: the instant Fri 27 ends, i.e. midnight starting Sat 28.
        LadderStep(1, EscalationTarget.PIMPINAN, wib(2026, 3, 28, 0, 0)),
        # Level 2: 3 working days after Fri 27 are Mon 30, Tue 31, Wed 1 Apr; due when
        # Wed 1 Apr ends.
        LadderStep(2, EscalationTarget.INSPEKTORAT, wib(2026, 4, 2, 0, 0)),
        # Level 3: 5 working days after Wed 1 Apr are Thu 2, (Fri 3 Good Friday, weekend)
        # Mon 6, Tue 7, Wed 8, Thu 9; due when Thu 9 ends.
        LadderStep(3, EscalationTarget.OMBUDSMAN, wib(2026, 4, 10, 0, 0)),
    ]


def test_escalation_ladder_is_in_utc(cal: WorkingCalendar, policy: SlaPolicy) -> None:
    ladder = policy.escalation_ladder(cal, end_wib(2026, 3, 27))
    assert [step.due_at.tzinfo for step in ladder] == [UTC] * 4
    # Midnight WIB starting Sat 28 Mar is 17:00 UTC on Fri 27.
    assert ladder[1].due_at == dt.datetime(2026, 3, 27, 17, 0, tzinfo=UTC)
    assert [str(step.target) for step in ladder] == [
        "penghubung",
        "pimpinan",
        "inspektorat",
        "ombudsman",
    ]


def test_custom_policy_changes_every_duration(cal: WorkingCalendar) -> None:
    policy = SlaPolicy(
        verification_days=1,
        resolution_days={Severity.RINGAN: 2, Severity.SEDANG: 3, Severity.BERAT: 4},
        reminder_days_before=2,
        inspectorate_after_days=1,
        ombudsman_after_days=1,
    )
    # Received Tue 17 Mar 2026: the next working day is Wed 25.
    assert policy.verification_deadline(cal, wib(2026, 3, 17, 10, 0)) == end_wib(2026, 3, 25)
    # Ringan 2 from Mon 9 Mar: Tue 10, Wed 11.
    assert policy.resolution_deadline(cal, wib(2026, 3, 9, 10, 0), Severity.RINGAN) == end_wib(
        2026, 3, 11
    )
    ladder = policy.escalation_ladder(cal, end_wib(2026, 3, 27))
    # Two working days before Fri 27 is Wed 25; one after is Mon 30; one after that Tue 31.
    assert [step.due_at for step in ladder] == [
        wib(2026, 3, 25, 0, 0),
        wib(2026, 3, 28, 0, 0),
        wib(2026, 3, 31, 0, 0),
        wib(2026, 4, 1, 0, 0),
    ]


def test_policy_is_frozen(policy: SlaPolicy) -> None:
    with pytest.raises(ValidationError):
        policy.verification_days = 4  # type: ignore[misc]


def test_policy_rejects_missing_severity_and_zero_days() -> None:
    with pytest.raises(ValidationError, match="berat"):
        SlaPolicy(resolution_days={Severity.RINGAN: 5, Severity.SEDANG: 14})
    with pytest.raises(ValidationError):
        SlaPolicy(follow_up_days=0)


def test_naive_datetimes_are_rejected_naming_the_argument(
    cal: WorkingCalendar, policy: SlaPolicy
) -> None:
    naive = dt.datetime(2026, 3, 17, 10, 0)
    with pytest.raises(ValueError, match="received_at"):
        policy.verification_deadline(cal, naive)
    with pytest.raises(ValueError, match="disposed_at"):
        policy.resolution_deadline(cal, naive, Severity.BERAT)
    with pytest.raises(ValueError, match="final_answer_at"):
        policy.auto_close_at(cal, naive)
    with pytest.raises(ValueError, match="deadline"):
        policy.escalation_ladder(cal, naive)
