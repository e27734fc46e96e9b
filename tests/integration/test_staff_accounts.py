"""Staff accounts, log-in throttling, sessions and the audit log against the MongoDB server,
and ``lapor users`` as an operator runs it."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta

import pytest

from lapor import cli
from services.portal.staff.accounts import LoginFailed, LoginThrottled
from services.portal.staff.audit import AuditAction, AuditEntry, AuditFilter
from services.portal.staff.roles import AccountError, Role
from services.portal.staff.sessions import SessionPolicy
from services.portal.staff.store import StaffStore
from services.portal.staff.throttle import ThrottlePolicy
from shared.settings import IntakeSettings
from shared.storage import Store

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
PASSWORD = "kata-sandi-yang-panjang"
MIN = timedelta(minutes=1)


@pytest.fixture
async def staff(store: Store) -> StaffStore:
    staff = StaffStore.over(
        store,
        ThrottlePolicy(account_max_failures=3, address_max_failures=5, window=15 * MIN),
        SessionPolicy(idle=30 * MIN, absolute=8 * 60 * MIN),
    )
    await staff.ensure_indexes()
    return staff


async def test_an_account_logs_in_with_its_password_only(staff: StaffStore) -> None:
    await staff.accounts.add("Budi.Dinkes", Role.AGENCY, ["dinkes-sumsel"], PASSWORD, NOW)
    account = await staff.accounts.authenticate("budi.dinkes", PASSWORD, "10.0.0.1", NOW)
    assert account.role is Role.AGENCY
    assert account.agencies == {"dinkes-sumsel"}
    with pytest.raises(LoginFailed):
        await staff.accounts.authenticate("budi.dinkes", PASSWORD + "!", "10.0.0.1", NOW)
    with pytest.raises(LoginFailed):
        await staff.accounts.authenticate("nobody", PASSWORD, "10.0.0.1", NOW)
    stored = await staff.store.db["staff_users"].find_one({"_id": "budi.dinkes"})
    assert stored is not None
    assert stored["password_hash"].startswith("$argon2id$")
    assert PASSWORD not in str(stored)


async def test_a_name_is_taken_once(staff: StaffStore) -> None:
    await staff.accounts.add("admin1", Role.ADMIN, [], PASSWORD, NOW)
    with pytest.raises(AccountError, match="exists already"):
        await staff.accounts.add("admin1", Role.OPERATOR, [], PASSWORD, NOW)


async def test_repeated_failures_lock_the_account_even_with_the_right_password(
    staff: StaffStore,
) -> None:
    await staff.accounts.add("siti", Role.ADMIN, [], PASSWORD, NOW)
    for i in range(3):
        with pytest.raises(LoginFailed):
            await staff.accounts.authenticate("siti", "tebakan", f"10.0.0.{i}", NOW)
    with pytest.raises(LoginThrottled) as locked:
        await staff.accounts.authenticate("siti", PASSWORD, "10.0.0.9", NOW + MIN)
    assert locked.value.until == NOW + 15 * MIN
    account = await staff.accounts.authenticate("siti", PASSWORD, "10.0.0.9", NOW + 16 * MIN)
    assert account.name == "siti"


async def test_one_address_guessing_many_names_is_locked_out(staff: StaffStore) -> None:
    await staff.accounts.add("siti", Role.ADMIN, [], PASSWORD, NOW)
    for i in range(5):
        with pytest.raises(LoginFailed):
            await staff.accounts.authenticate(f"tebak{i}", "tebakan", "203.0.113.7", NOW)
    with pytest.raises(LoginThrottled):
        await staff.accounts.authenticate("siti", PASSWORD, "203.0.113.7", NOW + MIN)
    # The same account from another address still gets in.
    assert await staff.accounts.authenticate("siti", PASSWORD, "10.0.0.1", NOW + MIN)


async def test_a_disabled_account_cannot_log_in_and_a_reset_forgets_failures(
    staff: StaffStore,
) -> None:
    await staff.accounts.add("rudi", Role.LEADER, [], PASSWORD, NOW)
    await staff.accounts.set_enabled("rudi", False, NOW)
    with pytest.raises(LoginFailed):
        await staff.accounts.authenticate("rudi", PASSWORD, "10.0.0.1", NOW)
    await staff.accounts.set_enabled("rudi", True, NOW)
    for _ in range(3):
        with pytest.raises((LoginFailed, LoginThrottled)):
            await staff.accounts.authenticate("rudi", "salah", "10.0.0.2", NOW)
    new_password = "kata-sandi-baru-sekali"
    await staff.accounts.reset_password("rudi", new_password, NOW)
    assert await staff.accounts.authenticate("rudi", new_password, "10.0.0.3", NOW)


async def test_a_session_ends_when_idle_too_long(staff: StaffStore) -> None:
    token, session = await staff.sessions.start("siti", "10.0.0.1", NOW)
    assert token not in str(await staff.store.db["staff_sessions"].find_one({}))
    resumed = await staff.sessions.resume(token, NOW + 29 * MIN)
    assert resumed is not None
    assert resumed.csrf_token == session.csrf_token
    assert await staff.sessions.resume(token, NOW + 58 * MIN) is not None  # idle restarted
    assert await staff.sessions.resume(token, NOW + 89 * MIN) is None
    assert await staff.store.db["staff_sessions"].count_documents({}) == 0


async def test_a_busy_session_still_ends_at_its_absolute_limit(staff: StaffStore) -> None:
    token, _ = await staff.sessions.start("siti", "10.0.0.1", NOW)
    moment = NOW
    while moment < NOW + 8 * 60 * MIN - 20 * MIN:
        moment += 20 * MIN
        assert await staff.sessions.resume(token, moment) is not None
    assert await staff.sessions.resume(token, NOW + 8 * 60 * MIN + MIN) is None


async def test_log_out_and_disable_end_sessions(staff: StaffStore) -> None:
    first, _ = await staff.sessions.start("siti", "10.0.0.1", NOW)
    second, _ = await staff.sessions.start("siti", "10.0.0.2", NOW)
    await staff.sessions.end(first)
    assert await staff.sessions.resume(first, NOW) is None
    assert await staff.sessions.end_all_for("siti") == 1
    assert await staff.sessions.resume(second, NOW) is None


async def test_the_audit_log_filters_by_actor_action_case_and_period(staff: StaffStore) -> None:
    entries = [
        AuditEntry(NOW, "siti", AuditAction.LOGIN, "10.0.0.1", role="admin"),
        AuditEntry(NOW + MIN, "siti", AuditAction.DECISION, "10.0.0.1", "admin", "7KQM-X3RT-9DHV",
                   {"decision": "verify"}),
        AuditEntry(NOW + 2 * MIN, "budi", AuditAction.LOGIN_FAILED, "10.0.0.2"),
    ]  # fmt: skip
    for entry in entries:
        await staff.audit.record(entry)
    newest_first = await staff.audit.search(AuditFilter())
    assert [e.action for e in newest_first] == [
        AuditAction.LOGIN_FAILED, AuditAction.DECISION, AuditAction.LOGIN,
    ]  # fmt: skip
    assert await staff.audit.search(AuditFilter(actor="siti", action=AuditAction.DECISION)) == [
        entries[1]
    ]
    assert await staff.audit.search(AuditFilter(tracking_id="7kqm-x3rt-9dhv")) == [entries[1]]
    assert await staff.audit.search(AuditFilter(since=NOW + 2 * MIN)) == [entries[2]]


async def _lapor(
    monkeypatch: pytest.MonkeyPatch, settings: IntakeSettings, *argv: str, stdin: str = ""
) -> int:
    monkeypatch.setenv("LAPOR_MONGO_URL", settings.mongo_url.get_secret_value())
    monkeypatch.setenv("LAPOR_MONGO_DB", settings.mongo_db)
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return await asyncio.to_thread(cli.main, list(argv))


async def test_lapor_users_manages_accounts_and_audits_each_change(
    monkeypatch: pytest.MonkeyPatch,
    settings: IntakeSettings,
    store: Store,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert await _lapor(monkeypatch, settings, "users", "add", "siti", "--role", "admin") == 0
    out = capsys.readouterr().out
    generated = out.split("password: ")[1].strip()
    assert len(generated) >= 24

    code = await _lapor(
        monkeypatch, settings, "users", "add", "budi", "--role", "agency",
        "--agency", "dinkes-sumsel", "--password-stdin", stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert code == 0
    assert "password:" not in capsys.readouterr().out

    assert await _lapor(monkeypatch, settings, "users", "add", "ani", "--role", "agency") == 2
    assert "agencies: role agency needs" in capsys.readouterr().err

    assert await _lapor(monkeypatch, settings, "users", "disable", "budi") == 0
    assert await _lapor(monkeypatch, settings, "users", "list") == 0
    listing = capsys.readouterr().out
    assert "budi" in listing
    assert "dinkes-sumsel" in listing
    assert "disabled" in listing
    assert await _lapor(monkeypatch, settings, "users", "enable", "nobody") == 2
    assert "no staff account 'nobody'" in capsys.readouterr().err

    assert await _lapor(monkeypatch, settings, "users", "reset-password", "siti") == 0
    new_password = capsys.readouterr().out.split("password: ")[1].strip()
    staff = StaffStore.over(store)
    with pytest.raises(LoginFailed):
        await staff.accounts.authenticate("siti", generated, "10.0.0.1", NOW)
    assert await staff.accounts.authenticate("siti", new_password, "10.0.0.1", NOW)

    log = await staff.audit.search(AuditFilter())
    assert [e.action for e in reversed(log)] == [
        AuditAction.USER_ADDED, AuditAction.USER_ADDED, AuditAction.USER_DISABLED,
        AuditAction.PASSWORD_RESET,
    ]  # fmt: skip
    assert all(e.actor.startswith("cli") for e in log)
    assert generated not in str([e.to_document() for e in log])
