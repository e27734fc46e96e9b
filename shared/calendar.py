"""Working days: the calendar every LAPOR deadline is counted in.

A working day is Monday to Friday, minus Indonesian national holidays (*hari libur
nasional*), minus *cuti bersama* (collective leave the government decrees around the big
holidays; the ``holidays`` package files it under the GOVERNMENT category), minus the
holidays an operator adds (a regional anniversary, an emergency closure).

Conventions used throughout:

* Days are counted in a local time zone: ``Asia/Jakarta`` (WIB) unless an agency sets its
  own (``Asia/Makassar`` = WITA, ``Asia/Jayapura`` = WIT). None of them has daylight
  saving time, so local midnight always exists and is unique.
* The end of a day is ``23:59:59.999999`` local: an action at an instant ``t`` meets a
  deadline ``d`` when ``t <= d``. The first instant that misses it is ``d + TICK``, the
  following local midnight; schedulers fire a step when ``now >= due_at``.
* An event counts from its local calendar day, whatever the hour and whether or not that
  day is a working day: the first of N working days is the first working day strictly
  after the event's local date.
* Every returned instant is an aware UTC datetime; naive datetimes are refused.

Extra holidays apply to every date this calendar counts: a deployment loads the list that
holds where it operates. Their ``region`` is a label for operators, not a filter.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from zoneinfo import ZoneInfo

import holidays
import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

DEFAULT_TZ = "Asia/Jakarta"
COUNTRY = "ID"
END_OF_DAY = dt.time(23, 59, 59, 999_999)
TICK = dt.timedelta(microseconds=1)  # datetime's resolution: END_OF_DAY + TICK is midnight


class ExtraHoliday(BaseModel):
    """A day off that an operator adds on top of the national calendar."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    date: dt.date
    name: str = Field(min_length=1)
    region: str | None = None


_EXTRA_HOLIDAYS = TypeAdapter(list[ExtraHoliday])


def load_extra_holidays(path: str | Path) -> list[ExtraHoliday]:
    """Read a YAML or JSON list of ``{date, name, region?}`` entries (JSON by suffix)."""
    file = Path(path)
    text = file.read_text(encoding="utf-8")
    try:
        raw = json.loads(text) if file.suffix.lower() == ".json" else yaml.safe_load(text)
    except (yaml.YAMLError, ValueError) as exc:  # PyYAML raises ValueError on 2026-02-30
        raise ValueError(f"cannot read extra holidays from {file}: {exc}") from exc
    # An empty YAML file loads as None: no extra holidays, not an error.
    return _EXTRA_HOLIDAYS.validate_python(raw if raw is not None else [])


@functools.lru_cache(maxsize=128)
def _national_holidays(year: int, language: str) -> Mapping[dt.date, str]:
    """National holidays and cuti bersama of one year, built once per process."""
    found = holidays.country_holidays(
        COUNTRY,
        years=year,
        categories=(holidays.PUBLIC, holidays.GOVERNMENT),
        language=language,
    )
    # A plain read-only copy: HolidayBase adds years on lookup, which a shared cache must not.
    return MappingProxyType(dict(found))


#: How many day counts a calendar keeps per direction (a few years of distinct dates).
_COUNTS_KEPT = 4096


def _remember(
    cache: dict[tuple[dt.date, int], dt.date], key: tuple[dt.date, int], day: dt.date
) -> None:
    """Keep a count in ``cache``, emptying it first when full (so it stays bounded)."""
    if len(cache) >= _COUNTS_KEPT:
        cache.clear()
    cache[key] = day


def require_aware(value: dt.datetime, argument: str) -> None:
    """Raise ValueError, naming the argument, when ``value`` is a naive datetime."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{argument} must be a timezone-aware datetime, got naive {value!r}")


class WorkingCalendar:
    """Working days in Indonesia plus operator-added holidays, counted in local time."""

    def __init__(
        self,
        extra_holidays: Iterable[ExtraHoliday] = (),
        tz: str = DEFAULT_TZ,
        language: str = "id",
    ) -> None:
        ZoneInfo(tz)  # fail at start-up on a misspelt zone, not at the first deadline
        self.tz = tz
        self._language = language
        names: dict[dt.date, list[str]] = {}
        for holiday in extra_holidays:
            names.setdefault(holiday.date, []).append(holiday.name)
        self._extra = {day: "; ".join(day_names) for day, day_names in names.items()}
        # Day counts already made: (date, n) → date, forwards and backwards. What a count
        # depends on (the extra holidays, the national ones of a year, the weekend) never
        # changes for this calendar, so an entry never goes stale; other holidays mean a
        # new calendar, with empty caches. Bounded: emptied when full.
        self._after: dict[tuple[dt.date, int], dt.date] = {}
        self._before: dict[tuple[dt.date, int], dt.date] = {}

    @classmethod
    def from_file(cls, path: str | Path, tz: str = DEFAULT_TZ) -> WorkingCalendar:
        """Build a calendar with the extra holidays listed in a YAML or JSON file."""
        return cls(load_extra_holidays(path), tz=tz)

    def holiday_name(self, d: dt.date) -> str | None:
        """The holiday name(s) of a date, national first, or None on an ordinary day."""
        names = [
            name
            for name in (_national_holidays(d.year, self._language).get(d), self._extra.get(d))
            if name
        ]
        return "; ".join(names) or None

    def is_working_day(self, d: dt.date) -> bool:
        """Whether government offices work on this date."""
        return (
            d.weekday() < 5
            and d not in self._extra
            and d not in _national_holidays(d.year, self._language)
        )

    def add_working_days(self, start: dt.date, n: int) -> dt.date:
        """The nth working day strictly after ``start``; for n = 0, the first on or after it."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        key = (start, n)
        found = self._after.get(key)
        if found is None:
            found = self._count_after(start, n)
            _remember(self._after, key, found)
        return found

    def _count_after(self, start: dt.date, n: int) -> dt.date:
        day = start
        if n == 0:
            while not self.is_working_day(day):
                day += dt.timedelta(days=1)
            return day
        remaining = n
        while remaining:
            day += dt.timedelta(days=1)
            if self.is_working_day(day):
                remaining -= 1
        return day

    def local_date(self, at: dt.datetime, tz: str | None = None) -> dt.date:
        """The calendar date of an instant in ``tz`` (the calendar's zone by default)."""
        return self._local_date(at, tz, "at")

    def start_of_day(self, d: dt.date, tz: str | None = None) -> dt.datetime:
        """Local midnight at the start of ``d``, in UTC."""
        return dt.datetime.combine(d, dt.time(0), tzinfo=self._zone(tz)).astimezone(dt.UTC)

    def end_of_day(self, d: dt.date, tz: str | None = None) -> dt.datetime:
        """The last instant of ``d`` (23:59:59.999999 local), in UTC."""
        return dt.datetime.combine(d, END_OF_DAY, tzinfo=self._zone(tz)).astimezone(dt.UTC)

    def deadline_after(
        self, event_at: dt.datetime, working_days: int, tz: str | None = None
    ) -> dt.datetime:
        """The end of the nth working day after the event's local date, in UTC."""
        start = self._local_date(event_at, tz, "event_at")
        return self.end_of_day(self.add_working_days(start, working_days), tz)

    def working_days_before(
        self, deadline: dt.datetime, n: int, tz: str | None = None
    ) -> dt.datetime:
        """The start of the working day n working days before the deadline's local date.

        Pass the zone the deadline was computed in: an end of day in WIB is already the
        next day in WITA. For n = 0 this is the start of the deadline's own day.
        """
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        return self.start_of_day(
            self._working_day_before(self._local_date(deadline, tz, "deadline"), n), tz
        )

    def _working_day_before(self, last: dt.date, n: int) -> dt.date:
        """The nth working day strictly before ``last`` (``last`` itself for n = 0)."""
        key = (last, n)
        found = self._before.get(key)
        if found is None:
            day, remaining = last, n
            while remaining:
                day -= dt.timedelta(days=1)
                if self.is_working_day(day):
                    remaining -= 1
            found = day
            _remember(self._before, key, found)
        return found

    def working_days_between(self, a: dt.datetime, b: dt.datetime, tz: str | None = None) -> int:
        """How many working days lie after a's local date, up to and including b's.

        Same local day gives 0, the next working day 1. It matches :meth:`deadline_after`:
        ``b <= deadline_after(a, n)`` implies a result ``<= n``, and the converse holds
        unless b falls on a non-working day after the deadline. If b is before a the
        result is the negative of the count from b to a.
        """
        first = self._local_date(a, tz, "a")
        last = self._local_date(b, tz, "b")
        sign = 1
        if last < first:
            first, last, sign = last, first, -1
        count = 0
        day = first + dt.timedelta(days=1)
        while day <= last:
            count += self.is_working_day(day)
            day += dt.timedelta(days=1)
        return sign * count

    def _local_date(self, at: dt.datetime, tz: str | None, argument: str) -> dt.date:
        require_aware(at, argument)
        return at.astimezone(self._zone(tz)).date()

    def _zone(self, tz: str | None) -> ZoneInfo:
        return ZoneInfo(tz or self.tz)
