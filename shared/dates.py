"""Dates as Indonesians write them (``9 November 2026``): the one formatter every text uses."""

from __future__ import annotations

import datetime as dt
import functools
from zoneinfo import ZoneInfo

from shared.calendar import DEFAULT_TZ

BULAN = (
    "Januari", "Februari", "Maret", "April", "Mei", "Juni",
    "Juli", "Agustus", "September", "Oktober", "November", "Desember",
)  # fmt: skip


@functools.lru_cache(maxsize=32)
def _zone(tz: str) -> ZoneInfo:
    return ZoneInfo(tz)


def local(moment: dt.datetime, tz: str | None = None) -> dt.datetime:
    """``moment`` in ``tz`` (the deployment's default zone when None)."""
    return moment.astimezone(_zone(tz or DEFAULT_TZ))


def tanggal(moment: dt.datetime, tz: str | None = None) -> str:
    """A date as Indonesians write it, e.g. ``27 Maret 2026``, in ``tz``'s local day."""
    day = local(moment, tz)
    return f"{day.day} {BULAN[day.month - 1]} {day.year}"


def tanggal_jam(moment: dt.datetime, tz: str | None = None) -> str:
    """Date and time with the zone's abbreviation, e.g. ``27 Maret 2026 14.05 WIB``."""
    at = local(moment, tz)
    return f"{tanggal(at, tz)} {at:%H.%M} {at.tzname() or tz or DEFAULT_TZ}"
