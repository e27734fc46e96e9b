"""The staff area's pure rules: roles and agencies, throttling, session expiry, passwords."""

from datetime import UTC, datetime, timedelta

import pytest

from services.portal.staff.accounts import (
    check_agency_codes,
    check_password,
    check_username,
    generate_password,
    hash_password,
    verify_password,
)
from services.portal.staff.roles import (
    AccountError,
    Role,
    check_agencies,
    may_act_for_agency,
    may_see_agency,
    sees_oversight,
)
from services.portal.staff.sessions import SessionPolicy, csrf_matches, session_expired
from services.portal.staff.throttle import ThrottlePolicy, blocked_until

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def test_a_liaison_needs_an_agency_and_an_admin_may_not_have_one() -> None:
    with pytest.raises(AccountError, match="agencies: role agency needs"):
        check_agencies(Role.AGENCY, [])
    with pytest.raises(AccountError, match="does not belong"):
        check_agencies(Role.ADMIN, ["dinkes-sumsel"])
    check_agencies(Role.LEADER, [])
    check_agencies(Role.LEADER, ["dinkes-sumsel"])


def test_a_liaison_sees_and_acts_only_on_its_own_agencies() -> None:
    own = frozenset({"dinkes-sumsel"})
    assert may_see_agency(Role.AGENCY, own, "dinkes-sumsel")
    assert not may_see_agency(Role.AGENCY, own, "pupr-palembang")
    assert not may_see_agency(Role.AGENCY, own, None)
    assert may_act_for_agency(Role.AGENCY, own, "dinkes-sumsel")
    assert not may_act_for_agency(Role.AGENCY, own, "pupr-palembang")


def test_a_leader_reads_but_never_acts() -> None:
    assert may_see_agency(Role.LEADER, frozenset(), "pupr-palembang")
    assert not may_see_agency(Role.LEADER, frozenset({"dinkes-sumsel"}), "pupr-palembang")
    assert not may_act_for_agency(Role.LEADER, frozenset({"dinkes-sumsel"}), "dinkes-sumsel")
    assert not may_see_agency(Role.OMBUDSMAN, frozenset(), "dinkes-sumsel")


def test_escalations_reach_the_office_they_are_addressed_to() -> None:
    assert sees_oversight(Role.OMBUDSMAN, frozenset(), "ombudsman", "dinkes-sumsel")
    assert not sees_oversight(Role.OMBUDSMAN, frozenset(), "inspektorat", "dinkes-sumsel")
    assert sees_oversight(Role.LEADER, frozenset({"dinkes-sumsel"}), "pimpinan", "dinkes-sumsel")
    assert not sees_oversight(
        Role.LEADER, frozenset({"dinkes-sumsel"}), "pimpinan", "pupr-palembang"
    )
    assert not sees_oversight(Role.AGENCY, frozenset({"dinkes-sumsel"}), "pimpinan", None)


def test_five_recent_failures_lock_an_account_for_the_lockout() -> None:
    policy = ThrottlePolicy(account_max_failures=5, window=15 * MIN, lockout=15 * MIN)
    failures = [NOW - i * MIN for i in range(4)]
    assert blocked_until(failures, NOW, 5, policy) is None
    failures.append(NOW - 4 * MIN)
    assert blocked_until(failures, NOW, 5, policy) == NOW + 15 * MIN
    assert blocked_until(failures, NOW + 16 * MIN, 5, policy) is None


def test_old_failures_do_not_count() -> None:
    policy = ThrottlePolicy(window=15 * MIN)
    failures = [NOW - 20 * MIN - i * MIN for i in range(10)]
    assert blocked_until(failures, NOW, 5, policy) is None


def test_a_session_expires_when_idle_and_in_any_case_after_its_absolute_limit() -> None:
    policy = SessionPolicy(idle=30 * MIN, absolute=600 * MIN)
    assert not session_expired(NOW, NOW, NOW + 29 * MIN, policy)
    assert session_expired(NOW, NOW, NOW + 31 * MIN, policy)
    busy_until = NOW + 601 * MIN
    assert session_expired(NOW, busy_until - MIN, busy_until, policy)


def test_the_csrf_token_must_be_the_sessions_own() -> None:
    assert csrf_matches("abc", "abc")
    assert not csrf_matches("abc", "abd")
    assert not csrf_matches("abc", None)
    assert not csrf_matches("abc", "")


def test_passwords_are_argon2id_hashes() -> None:
    password = generate_password()
    assert len(password) >= 24
    stored = hash_password(password)
    assert stored.startswith("$argon2id$")
    assert password not in stored
    assert verify_password(stored, password)
    assert not verify_password(stored, password + "x")
    assert not verify_password("not a hash", password)


def test_bad_account_input_says_which_field() -> None:
    assert check_username(" Budi.Dinkes ") == "budi.dinkes"
    with pytest.raises(AccountError, match=r"^name:"):
        check_username("budi dinkes")
    with pytest.raises(AccountError, match=r"^password:"):
        check_password("short")
    with pytest.raises(AccountError, match=r"^agency:"):
        check_agency_codes(["Dinas Kesehatan"])
    assert check_agency_codes(["dinkes-sumsel", "DINKES-SUMSEL"]) == ["dinkes-sumsel"]


def test_private_attachments_open_for_the_admin_and_holding_agencies_only() -> None:
    from services.portal.staff.roles import may_open_private_attachments

    holding = frozenset({"pupr-palembang", "dlh-palembang"})  # lead and a supporting agency
    assert may_open_private_attachments(Role.ADMIN, frozenset(), holding)
    assert may_open_private_attachments(Role.ADMIN, frozenset(), frozenset())  # not yet routed
    assert may_open_private_attachments(Role.AGENCY, frozenset({"dlh-palembang"}), holding)
    assert not may_open_private_attachments(Role.AGENCY, frozenset({"dinkes-oki"}), holding)
    assert not may_open_private_attachments(Role.AGENCY, frozenset({"dinkes-oki"}), frozenset())
    for reader in (Role.LEADER, Role.INSPEKTORAT, Role.OMBUDSMAN, Role.OPERATOR):
        assert not may_open_private_attachments(reader, frozenset({"pupr-palembang"}), holding)
