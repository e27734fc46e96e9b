"""Per-case caps: a case at its cap refuses more with a clear reason."""

from __future__ import annotations

import mongomock
import pytest

from shared.caps import CaseCaps, CaseFull, check_room, room_filter

pytestmark = pytest.mark.unit

CAPS = CaseCaps(timeline=3, applied=5, additions=2)


def test_a_case_below_its_caps_has_room() -> None:
    check_room({"timeline": [1, 2], "additions": []}, CAPS, timeline=1, additions=2)


def test_a_case_at_its_cap_refuses_with_the_field_and_the_cap() -> None:
    with pytest.raises(CaseFull) as caught:
        check_room({"timeline": [1, 2, 3]}, CAPS, timeline=1)
    assert (caught.value.field, caught.value.cap, caught.value.reason) == (
        "timeline",
        3,
        "case_full",
    )
    assert "timeline holds its maximum of 3" in str(caught.value)


def test_the_filter_asks_for_the_right_index() -> None:
    assert room_filter(CAPS, timeline=1, applied=2) == {
        "timeline.2": {"$exists": False},
        "applied.3": {"$exists": False},
    }
    assert room_filter(CAPS, timeline=0) == {}
    with pytest.raises(CaseFull):
        room_filter(CAPS, additions=3)


def test_the_filter_stops_an_update_exactly_at_the_cap() -> None:
    """The same filter on a query engine: appends succeed until the cap, then match nothing."""
    cases = mongomock.MongoClient().db.complaints
    cases.insert_one({"_id": "C", "timeline": []})
    applied = 0
    for n in range(10):
        result = cases.update_one(
            {"_id": "C", **room_filter(CAPS, timeline=1)}, {"$push": {"timeline": n}}
        )
        applied += result.modified_count
    assert applied == 3
    assert cases.find_one({"_id": "C"})["timeline"] == [0, 1, 2]
