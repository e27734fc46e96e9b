"""The desks' pure rules: traffic lights in working days, late-first order, duplicates,
weekly trends, CSV cells that cannot run as formulas, who reads which escalation."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from services.escalation.recap import AgencyRecap, Recap
from services.portal.staff.cases import (
    CaseRow,
    Light,
    deadline_view,
    duplicate_ids,
    sort_late_first,
)
from services.portal.staff.dashboard import recap_csv, weekly_trend
from services.portal.staff.oversight import visible_query
from services.portal.staff.roles import Role
from shared.calendar import WorkingCalendar

pytestmark = pytest.mark.unit

WIB = ZoneInfo("Asia/Jakarta")
CAL = WorkingCalendar()
# Monday 23 November 2026, 10:00 WIB; no holidays that week.
NOW = dt.datetime(2026, 11, 23, 10, tzinfo=WIB)


def end_of(day: int) -> dt.datetime:
    return CAL.end_of_day(dt.date(2026, 11, day))


def test_the_light_turns_amber_one_working_day_before_and_red_when_late() -> None:
    assert deadline_view(end_of(25), NOW, CAL).light is Light.GREEN  # Wed: 2 days left
    amber = deadline_view(end_of(24), NOW, CAL)
    assert (amber.light, amber.working_days_left, amber.label) == (
        Light.AMBER, 1, "sisa 1 hari kerja",
    )  # fmt: skip
    today = deadline_view(end_of(23), NOW, CAL)
    assert (today.light, today.label) == (Light.AMBER, "batas hari ini")
    late = deadline_view(end_of(19), NOW, CAL)  # Thu 19: Fri 20 and Mon 23 since
    assert (late.light, late.late, late.label) == (Light.RED, True, "terlambat 2 hari kerja")


def _row(tid: str, deadline: dt.datetime | None) -> CaseRow:
    return CaseRow(
        tracking_id=tid, status=None, title="", received_at=NOW, agency=None,
        agency_name=None, category=None, severity=None, anonymous=False, confidential=False,
        deadline=deadline_view(deadline, NOW, CAL) if deadline else None,
    )  # fmt: skip


def test_late_cases_come_first_then_the_nearest_deadline() -> None:
    rows = [_row("none", None), _row("soon", end_of(24)), _row("later", end_of(27)),
            _row("late", end_of(19)), _row("latest", end_of(12))]  # fmt: skip
    assert [r.tracking_id for r in sort_late_first(rows)] == [
        "latest", "late", "soon", "later", "none",
    ]  # fmt: skip


def test_possible_duplicates_come_from_the_check_and_the_links() -> None:
    doc = {
        "_id": "7KQM-X3RT-9DHV",
        "checks": [
            {"code": "duplicate", "detail": "of 2345-6789-ABCD (another reporter, 0.91)"},
            {"code": "too_short", "detail": "of ZZZZ-ZZZZ-ZZZZ"},
        ],
        "duplicates": ["BCDE-FGHJ-KMNP", "2345-6789-ABCD"],
    }
    assert duplicate_ids(doc) == ["2345-6789-ABCD", "BCDE-FGHJ-KMNP"]


def test_a_weekly_trend_counts_per_monday_and_folds_rare_values() -> None:
    monday = dt.datetime(2026, 11, 16, 9, tzinfo=WIB)
    docs = [{"received_at": monday + dt.timedelta(days=i), "channel": f"c{i % 8}"}
            for i in range(14)]  # fmt: skip
    trend = weekly_trend(docs, "channel", CAL)
    assert trend.weeks == [dt.date(2026, 11, 16), dt.date(2026, 11, 23)]
    assert trend.total == 14
    assert len(trend.series) == 7  # six named and "lainnya"
    assert "lainnya" in trend.series


def test_csv_cells_never_start_a_formula() -> None:
    row = AgencyRecap(
        agency="x", name="=HYPERLINK(\"http://evil\")", received=1, by_status={},
        in_progress=1, resolved=0, overdue=0, answered=0, median_first_answer_days=None,
        median_first_answer_hours=None, within_sla=0, sla_decided=0,
    )  # fmt: skip
    text = recap_csv(Recap(NOW, [row], None))
    assert "'=HYPERLINK" in text
    assert ",=HYPERLINK" not in text


def test_each_office_reads_only_what_is_addressed_to_it() -> None:
    assert visible_query(Role.OMBUDSMAN, frozenset()) == {"target": {"$in": ["ombudsman"]}}
    assert visible_query(Role.LEADER, frozenset({"dinkes-sumsel"})) == {
        "target": {"$in": ["pimpinan"]},
        "agency": {"$in": ["dinkes-sumsel"]},
    }
    assert visible_query(Role.AGENCY, frozenset({"dinkes-sumsel"})) == {
        "target": "penghubung",
        "agency": {"$in": ["dinkes-sumsel"]},
    }
    assert visible_query(Role.OPERATOR, frozenset()) is None


def test_a_correction_must_be_a_valid_report_on_the_same_channel() -> None:
    from services.portal.staff.quarantine import CorrectionRefused, corrected_report

    good = '{"channel": "sms", "external_id": "sms-1", "description": "Jalan rusak parah."}'
    assert corrected_report(good, "sms")["external_id"] == "sms-1"
    with pytest.raises(CorrectionRefused, match="kanal asal"):
        corrected_report(good, "whatsapp")
    with pytest.raises(CorrectionRefused, match="description"):
        corrected_report('{"channel": "sms", "external_id": "sms-1", "description": ""}', "sms")
    with pytest.raises(CorrectionRefused, match="JSON tidak sah"):
        corrected_report("{channel: sms", "sms")


def test_numbers_are_written_with_a_decimal_comma_like_lapor_recap() -> None:
    from services.portal.staff.desk import decimal_comma

    assert decimal_comma(2.0) == "2"
    assert decimal_comma(1.25) == "1,2"
    assert decimal_comma(48.5) == "48,5"
