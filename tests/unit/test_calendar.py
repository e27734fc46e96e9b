"""The working-day calendar, against dates counted by hand on the 2026/2027 calendar."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from shared.calendar import TICK, ExtraHoliday, WorkingCalendar, load_extra_holidays

pytestmark = pytest.mark.unit

UTC = dt.UTC
WIB = ZoneInfo("Asia/Jakarta")  # UTC+7
WITA = ZoneInfo("Asia/Makassar")  # UTC+8
WIT = ZoneInfo("Asia/Jayapura")  # UTC+9

PALEMBANG = ExtraHoliday(
    date=dt.date(2026, 6, 17), name="Hari Jadi Kota Palembang", region="Palembang"
)


@pytest.fixture
def cal() -> WorkingCalendar:
    return WorkingCalendar()


def wib(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, us, tzinfo=WIB)


def test_cuti_bersama_around_nyepi_and_eid_2026_are_holidays(cal: WorkingCalendar) -> None:
    # Joint leave (GOVERNMENT category) must be loaded, not only the PUBLIC days.
    for day in (18, 19, 20, 23, 24):
        assert not cal.is_working_day(dt.date(2026, 3, day)), day
    assert cal.holiday_name(dt.date(2026, 3, 18)) == "Cuti Bersama Hari Suci Nyepi"
    assert cal.holiday_name(dt.date(2026, 3, 19)) == "Hari Suci Nyepi"
    assert cal.holiday_name(dt.date(2026, 3, 24)) == "Cuti Bersama Hari Raya Idul Fitri"
    # Tuesday the 17th and Wednesday the 25th bracket the closure as ordinary days.
    assert cal.is_working_day(dt.date(2026, 3, 17))
    assert cal.is_working_day(dt.date(2026, 3, 25))


def test_year_end_2026_holidays(cal: WorkingCalendar) -> None:
    assert cal.holiday_name(dt.date(2026, 12, 24)) == "Cuti Bersama Hari Raya Natal"
    assert not cal.is_working_day(dt.date(2026, 12, 25))  # Christmas
    # No cuti bersama for New Year's Eve in the 2026 decree: the 31st is a working day.
    assert cal.is_working_day(dt.date(2026, 12, 31))
    assert not cal.is_working_day(dt.date(2027, 1, 1))  # New Year's Day
    assert not cal.is_working_day(dt.date(2027, 1, 5))  # Isra Mikraj 2027


def test_weekend_without_holiday_has_no_name_but_is_not_working(cal: WorkingCalendar) -> None:
    saturday = dt.date(2026, 3, 7)
    assert cal.holiday_name(saturday) is None
    assert not cal.is_working_day(saturday)
    # A holiday on a Saturday still carries its name (Idul Fitri, 2026-03-21).
    assert cal.holiday_name(dt.date(2026, 3, 21)) == "Hari Raya Idul Fitri"


def test_verification_deadline_across_nyepi_and_eid(cal: WorkingCalendar) -> None:
    # Received Tue 17 Mar. Wed 18 cuti bersama Nyepi, Thu 19 Nyepi, Fri 20 cuti bersama
    # Idul Fitri, Sat 21-Sun 22 weekend (and Idul Fitri), Mon 23 and Tue 24 cuti bersama;
    # working days 1, 2, 3 are Wed 25, Thu 26, Fri 27.
    deadline = cal.deadline_after(wib(2026, 3, 17, 10, 0), 3)
    assert deadline == wib(2026, 3, 27, 23, 59, 59, 999_999)
    assert deadline == dt.datetime(2026, 3, 27, 16, 59, 59, 999_999, tzinfo=UTC)
    assert deadline.tzinfo is UTC


def test_deadline_is_end_of_local_day_and_tick_reaches_midnight(cal: WorkingCalendar) -> None:
    deadline = cal.deadline_after(wib(2026, 3, 17, 10, 0), 3)
    # The first instant that misses the deadline is local midnight starting Sat 28 Mar.
    assert deadline + TICK == wib(2026, 3, 28, 0, 0)


def test_same_utc_instant_gives_different_deadlines_in_wib_and_wita(
    cal: WorkingCalendar,
) -> None:
    # 16:30 UTC on Thu 9 Apr 2026 is Thu 23:30 WIB but already Fri 10 Apr 00:30 WITA.
    event = dt.datetime(2026, 4, 9, 16, 30, tzinfo=UTC)
    # WIB counts from Thu 9: Fri 10, Mon 13, Tue 14.
    assert cal.deadline_after(event, 3) == wib(2026, 4, 14, 23, 59, 59, 999_999)
    # WITA counts from Fri 10: Mon 13, Tue 14, Wed 15.
    in_wita = cal.deadline_after(event, 3, tz="Asia/Makassar")
    assert in_wita == dt.datetime(2026, 4, 15, 23, 59, 59, 999_999, tzinfo=WITA)
    assert in_wita == dt.datetime(2026, 4, 15, 15, 59, 59, 999_999, tzinfo=UTC)


def test_calendar_default_zone_can_be_wit() -> None:
    # 15:30 UTC on Thu 9 Apr is Fri 10 Apr 00:30 WIT: count Mon 13, Tue 14, Wed 15.
    cal = WorkingCalendar(tz="Asia/Jayapura")
    event = dt.datetime(2026, 4, 9, 15, 30, tzinfo=UTC)
    assert cal.deadline_after(event, 3) == dt.datetime(2026, 4, 15, 23, 59, 59, 999_999, tzinfo=WIT)


def test_event_on_saturday_counts_from_monday(cal: WorkingCalendar) -> None:
    # Sat 7 Mar 2026: working days 1, 2, 3 are Mon 9, Tue 10, Wed 11 (no March
    # holiday before the 18th).
    assert cal.deadline_after(wib(2026, 3, 7, 9, 0), 3) == wib(2026, 3, 11, 23, 59, 59, 999_999)


def test_event_at_2330_local_counts_from_its_own_day(cal: WorkingCalendar) -> None:
    # Mon 9 Mar 23:30 WIB still belongs to Monday: day 1 is Tue 10, not Wed 11.
    assert cal.deadline_after(wib(2026, 3, 9, 23, 30), 1) == wib(2026, 3, 10, 23, 59, 59, 999_999)
    # Half an hour later it is Tuesday, so day 1 moves to Wed 11.
    assert cal.deadline_after(wib(2026, 3, 10, 0, 0), 1) == wib(2026, 3, 11, 23, 59, 59, 999_999)


def test_operator_holiday_pushes_deadline_by_one_day() -> None:
    # From Mon 15 Jun 2026: Tue 16 is Islamic New Year, so days 1, 2 are Wed 17, Thu 18.
    event = wib(2026, 6, 15, 9, 0)
    assert WorkingCalendar().deadline_after(event, 2) == wib(2026, 6, 18, 23, 59, 59, 999_999)
    # Palembang's anniversary on Wed 17 removes that day: Thu 18, Fri 19.
    palembang = WorkingCalendar([PALEMBANG])
    assert palembang.deadline_after(event, 2) == wib(2026, 6, 19, 23, 59, 59, 999_999)
    assert palembang.holiday_name(dt.date(2026, 6, 17)) == "Hari Jadi Kota Palembang"


def test_operator_holiday_on_a_national_holiday_keeps_both_names() -> None:
    cal = WorkingCalendar([ExtraHoliday(date=dt.date(2026, 8, 17), name="Upacara daerah")])
    assert cal.holiday_name(dt.date(2026, 8, 17)) == (
        "Hari Kemerdekaan Republik Indonesia; Upacara daerah"
    )


def test_deadline_across_christmas_and_new_year(cal: WorkingCalendar) -> None:
    # From Wed 23 Dec 2026: Thu 24 cuti bersama Natal, Fri 25 Christmas, weekend;
    # Mon 28 (1), Tue 29 (2), Wed 30 (3), Thu 31 (4, a working day); Fri 1 Jan New Year,
    # weekend; Mon 4 Jan 2027 (5); Tue 5 Isra Mikraj; Wed 6 Jan (6).
    event = wib(2026, 12, 23, 14, 0)
    assert cal.deadline_after(event, 5) == wib(2027, 1, 4, 23, 59, 59, 999_999)
    assert cal.deadline_after(event, 6) == wib(2027, 1, 6, 23, 59, 59, 999_999)


def test_add_working_days_zero_and_negative(cal: WorkingCalendar) -> None:
    # n = 0 keeps a working day and rolls a holiday forward to the next working day.
    assert cal.add_working_days(dt.date(2026, 3, 17), 0) == dt.date(2026, 3, 17)
    assert cal.add_working_days(dt.date(2026, 3, 18), 0) == dt.date(2026, 3, 25)
    with pytest.raises(ValueError, match="n must be >= 0"):
        cal.add_working_days(dt.date(2026, 3, 17), -1)


def test_add_working_days_from_a_holiday(cal: WorkingCalendar) -> None:
    # From Thu 19 Mar (Nyepi) the first working day after is Wed 25, the second Thu 26.
    assert cal.add_working_days(dt.date(2026, 3, 19), 1) == dt.date(2026, 3, 25)
    assert cal.add_working_days(dt.date(2026, 3, 19), 2) == dt.date(2026, 3, 26)


def test_working_days_before_skips_the_eid_closure(cal: WorkingCalendar) -> None:
    deadline = wib(2026, 3, 25, 23, 59, 59, 999_999)
    # The working day before Wed 25 Mar is Tue 17: 18 to 24 are holidays or weekend.
    assert cal.working_days_before(deadline, 1) == wib(2026, 3, 17, 0, 0)
    assert cal.working_days_before(deadline, 1) == dt.datetime(2026, 3, 16, 17, 0, tzinfo=UTC)
    # n = 0 is the start of the deadline's own day.
    assert cal.working_days_before(deadline, 0) == wib(2026, 3, 25, 0, 0)


def test_working_days_between(cal: WorkingCalendar) -> None:
    disposed = wib(2026, 3, 17, 15, 0)
    # Same local day: no working day elapsed.
    assert cal.working_days_between(disposed, wib(2026, 3, 17, 23, 59)) == 0
    # Wed 25 is the first working day after Tue 17 (18 to 24 are all off).
    assert cal.working_days_between(disposed, wib(2026, 3, 25, 9, 0)) == 1
    assert cal.working_days_between(disposed, wib(2026, 3, 27, 9, 0)) == 3
    # Reversed arguments give the negative count.
    assert cal.working_days_between(wib(2026, 3, 27, 9, 0), disposed) == -3


def test_working_days_between_agrees_with_deadline_after(cal: WorkingCalendar) -> None:
    event = wib(2026, 12, 23, 14, 0)
    deadline = cal.deadline_after(event, 5)
    # The deadline is the end of Mon 4 Jan 2027, the 5th working day.
    assert cal.working_days_between(event, deadline) == 5
    # Just past it is Tue 5 Jan, Isra Mikraj: late, yet no working day was added.
    assert cal.working_days_between(event, deadline + TICK) == 5
    # Wed 6 Jan is the 6th working day.
    assert cal.working_days_between(event, deadline + TICK + dt.timedelta(days=1)) == 6


def test_naive_datetimes_are_rejected_naming_the_argument(cal: WorkingCalendar) -> None:
    naive = dt.datetime(2026, 3, 17, 10, 0)
    with pytest.raises(ValueError, match="event_at"):
        cal.deadline_after(naive, 3)
    with pytest.raises(ValueError, match="deadline"):
        cal.working_days_before(naive, 1)
    with pytest.raises(ValueError, match="b must be"):
        cal.working_days_between(wib(2026, 3, 17, 10, 0), naive)


def test_unknown_time_zone_fails_at_construction() -> None:
    with pytest.raises(KeyError):
        WorkingCalendar(tz="Asia/Palembang")


def test_load_extra_holidays_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "holidays.yaml"
    path.write_text(
        "- date: 2026-06-17\n"
        "  name: Hari Jadi Kota Palembang\n"
        "  region: Palembang\n"
        "- date: 2026-11-02\n"
        "  name: Penutupan darurat\n",
        encoding="utf-8",
    )
    assert load_extra_holidays(path) == [
        PALEMBANG,
        ExtraHoliday(date=dt.date(2026, 11, 2), name="Penutupan darurat"),
    ]
    assert not WorkingCalendar.from_file(path).is_working_day(dt.date(2026, 11, 2))


def test_load_extra_holidays_from_json(tmp_path: Path) -> None:
    path = tmp_path / "holidays.json"
    path.write_text(json.dumps([{"date": "2026-06-17", "name": "Hari Jadi Kota Palembang"}]))
    assert load_extra_holidays(path) == [
        ExtraHoliday(date=dt.date(2026, 6, 17), name="Hari Jadi Kota Palembang")
    ]


def test_empty_yaml_file_means_no_extra_holidays(tmp_path: Path) -> None:
    path = tmp_path / "holidays.yaml"
    path.write_text("", encoding="utf-8")
    assert load_extra_holidays(path) == []


def test_impossible_date_in_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "holidays.yaml"
    path.write_text("- date: 2026-06-31\n  name: Tidak ada\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"holidays\.yaml"):
        load_extra_holidays(path)


def test_extra_holiday_without_a_name_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "holidays.json"
    path.write_text(json.dumps([{"date": "2026-06-17"}]), encoding="utf-8")
    with pytest.raises(ValidationError, match="name"):
        load_extra_holidays(path)


# --- day counts are remembered (issue 11: no per-message work that can be done once) ------


def _count_after(cal: WorkingCalendar, start: dt.date, n: int) -> dt.date:
    """``add_working_days`` as it counted before it remembered its counts."""
    day = start
    if n == 0:
        while not cal.is_working_day(day):
            day += dt.timedelta(days=1)
        return day
    while n:
        day += dt.timedelta(days=1)
        n -= cal.is_working_day(day)
    return day


def _count_before(cal: WorkingCalendar, last: dt.date, n: int) -> dt.date:
    """The day ``working_days_before`` started before it remembered its counts."""
    day = last
    while n:
        day -= dt.timedelta(days=1)
        n -= cal.is_working_day(day)
    return day


@pytest.mark.parametrize("extra", [(), (PALEMBANG,)], ids=["national", "with_palembang"])
def test_remembered_counts_equal_counting_afresh(extra: tuple[ExtraHoliday, ...]) -> None:
    cal = WorkingCalendar(extra)
    days = [dt.date(2025, 12, 1) + dt.timedelta(days=i) for i in range(0, 800, 3)]
    for _ in range(2):  # the second round answers from what the first remembered
        for start in days:
            for n in (0, 1, 3, 5, 10, 22):
                assert cal.add_working_days(start, n) == _count_after(cal, start, n)
                deadline = dt.datetime.combine(start, dt.time(12), tzinfo=WIB)
                expected = cal.start_of_day(_count_before(cal, start, n))
                assert cal.working_days_before(deadline, n) == expected


def test_each_calendar_remembers_its_own_holidays() -> None:
    national, local = WorkingCalendar(), WorkingCalendar([PALEMBANG])
    day_before = PALEMBANG.date - dt.timedelta(days=1)  # Tuesday 16 June 2026
    assert national.add_working_days(day_before, 1) == PALEMBANG.date
    assert local.add_working_days(day_before, 1) == PALEMBANG.date + dt.timedelta(days=1)
    assert national.add_working_days(day_before, 1) == PALEMBANG.date


def test_a_full_memory_is_emptied_and_counts_stay_right(monkeypatch: pytest.MonkeyPatch) -> None:
    import shared.calendar

    monkeypatch.setattr(shared.calendar, "_COUNTS_KEPT", 10)
    cal = WorkingCalendar([PALEMBANG])
    for i in range(50):
        start = dt.date(2026, 6, 1) + dt.timedelta(days=i)
        assert cal.add_working_days(start, 2) == _count_after(cal, start, 2)
        assert len(cal._after) <= 10
