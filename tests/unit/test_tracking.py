"""Tracking IDs: readable over SMS, unguessable, not sequential."""

import pytest

from shared.tracking import (
    ALPHABET,
    InvalidTrackingId,
    is_tracking_id,
    new_tracking_id,
    normalise_tracking_id,
)

pytestmark = pytest.mark.unit


def test_no_symbol_a_person_could_confuse_is_used() -> None:
    for confusable in "0O1ILU":
        assert confusable not in ALPHABET


def test_ids_are_canonical_and_do_not_repeat() -> None:
    ids = [new_tracking_id() for _ in range(5000)]
    assert all(is_tracking_id(i) for i in ids)
    assert len(set(ids)) == len(ids)
    assert len(ids[0]) == 14 and ids[0][4] == "-" and ids[0][9] == "-"


def test_a_typed_id_is_read_in_any_case_and_spacing() -> None:
    assert normalise_tracking_id(" 7kqm x3rt-9dhv ") == "7KQM-X3RT-9DHV"


@pytest.mark.parametrize("typed", ["7KQM-X3RT-9DH0", "7KQM-X3RT", "", "7KQM-X3RT-9DHVV"])
def test_something_that_is_not_an_id_is_refused(typed: str) -> None:
    with pytest.raises(InvalidTrackingId):
        normalise_tracking_id(typed)
