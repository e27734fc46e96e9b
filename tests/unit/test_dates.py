"""The one Indonesian date formatter: local day in the deployment's zone by default."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.dates import tanggal, tanggal_jam

pytestmark = pytest.mark.unit


def test_a_date_is_written_in_the_local_day_of_the_zone() -> None:
    late_evening_utc = datetime(2026, 3, 31, 18, 30, tzinfo=UTC)  # 1 April 01.30 WIB
    assert tanggal(late_evening_utc) == "1 April 2026"
    assert tanggal(late_evening_utc, "America/New_York") == "31 Maret 2026"
    assert tanggal_jam(late_evening_utc) == "1 April 2026 01.30 WIB"
    assert tanggal_jam(late_evening_utc, "Asia/Jayapura") == "1 April 2026 03.30 WIT"
