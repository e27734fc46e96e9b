"""Who may act (shared/senders.py): the authorisation table, in both modes."""

from __future__ import annotations

import logging

import pytest

from shared.senders import (
    ORIGINAL_ROUTING_KEY,
    ORIGINAL_USER_ID,
    UNAUTHORISED,
    Role,
    SenderPolicy,
    SendersMode,
    announce_mode,
    may_command_as_admin,
    may_reply,
    may_respond,
    may_submit,
    origin_of,
    routing_key_of,
)
from shared.settings import LaporSettings

pytestmark = pytest.mark.unit

ENFORCE = SenderPolicy()
OPEN = SenderPolicy(mode=SendersMode.OPEN)


@pytest.mark.parametrize(
    ("user", "role", "name"),
    [
        ("channel-sms", Role.CHANNEL, "sms"),
        ("opd-dinkes-sumsel", Role.AGENCY, "dinkes-sumsel"),
        ("lapor-admin", Role.ADMIN, None),
        ("lapor-portal", Role.PORTAL, None),
        ("lapor-routing", Role.SERVICE, None),
        (b"channel-wa", Role.CHANNEL, "wa"),
        ("guest", Role.UNKNOWN, None),
        ("channel-", Role.UNKNOWN, None),
        (None, Role.UNKNOWN, None),
        ("", Role.UNKNOWN, None),
    ],
)
def test_a_user_name_says_what_the_sender_is(
    user: str | bytes | None, role: Role, name: str | None
) -> None:
    sender = ENFORCE.sender(user)
    assert (sender.role, sender.name) == (role, name)


class TestReports:
    def test_a_channel_submits_on_its_own_key_only(self) -> None:
        assert may_submit(ENFORCE, "channel-sms", "sms").allowed
        refused = may_submit(ENFORCE, "channel-sms", "whatsapp")
        assert not refused.allowed and refused.reason == UNAUTHORISED

    def test_the_portal_submits_for_web_and_open311_only(self) -> None:
        assert may_submit(ENFORCE, "lapor-portal", "web").allowed
        assert may_submit(ENFORCE, "lapor-portal", "open311").allowed
        assert not may_submit(ENFORCE, "lapor-portal", "sms").allowed

    @pytest.mark.parametrize("user", [None, "guest", "lapor-admin", "opd-dinkes", "lapor-intake"])
    def test_nobody_else_submits(self, user: str | None) -> None:
        assert not may_submit(ENFORCE, user, "sms").allowed

    def test_a_key_that_names_no_channel_is_refused(self) -> None:
        assert not may_submit(ENFORCE, "channel-sms", None).allowed


class TestAdminCommands:
    @pytest.mark.parametrize("user", ["lapor-admin", "lapor-portal"])
    def test_admins_decide(self, user: str) -> None:
        assert may_command_as_admin(ENFORCE, user).allowed

    @pytest.mark.parametrize("user", ["channel-sms", "opd-dinkes", "lapor-routing", "guest", None])
    def test_nobody_else_decides(self, user: str | None) -> None:
        verdict = may_command_as_admin(ENFORCE, user)
        assert not verdict.allowed and verdict.reason == UNAUTHORISED

    def test_the_admin_list_comes_from_settings(self) -> None:
        settings = LaporSettings(admin_users="ops-1, ops-2")  # type: ignore[arg-type]
        policy = settings.sender_policy()
        assert may_command_as_admin(policy, "ops-2").allowed
        assert not may_command_as_admin(policy, "lapor-admin").allowed

    def test_an_empty_admin_list_is_a_settings_error(self) -> None:
        with pytest.raises(ValueError, match="LAPOR_ADMIN_USERS"):
            LaporSettings(admin_users=" , ")  # type: ignore[arg-type]


class TestAgencyAnswers:
    def test_the_holding_agency_answers_in_its_own_name(self) -> None:
        assert may_respond(ENFORCE, "opd-dinkes", "dinkes", ["dinkes"]).allowed

    def test_an_agency_may_not_answer_another_agencys_case(self) -> None:
        assert not may_respond(ENFORCE, "opd-dinkes", "dinkes", ["pupr"]).allowed

    def test_an_agency_may_not_answer_in_another_agencys_name(self) -> None:
        assert not may_respond(ENFORCE, "opd-dinkes", "pupr", ["pupr"]).allowed

    def test_the_portal_speaks_for_a_logged_in_liaison(self) -> None:
        assert may_respond(ENFORCE, "lapor-portal", "pupr", ["pupr"]).allowed

    @pytest.mark.parametrize("user", ["channel-sms", "lapor-admin", None])
    def test_nobody_else_answers(self, user: str | None) -> None:
        assert not may_respond(ENFORCE, user, "pupr", ["pupr"]).allowed


class TestReporterReplies:
    def test_the_cases_own_channel_relays_replies(self) -> None:
        assert may_reply(ENFORCE, "channel-sms", "sms").allowed
        assert not may_reply(ENFORCE, "channel-wa", "sms").allowed

    def test_the_portal_relays_replies_for_web_cases_only(self) -> None:
        assert may_reply(ENFORCE, "lapor-portal", "web").allowed
        assert not may_reply(ENFORCE, "lapor-portal", "sms").allowed

    def test_an_admin_is_not_a_reporter(self) -> None:
        assert not may_reply(ENFORCE, "lapor-admin", "sms").allowed


class TestReplayHeader:
    def test_without_the_header_the_delivered_key_counts(self) -> None:
        key, verdict = routing_key_of(ENFORCE, "opd.respond", {}, "opd-dinkes")
        assert (key, verdict.allowed) == ("opd.respond", True)

    def test_an_admins_replay_header_is_honoured(self) -> None:
        headers = {ORIGINAL_ROUTING_KEY: b"routing.dispose"}
        key, verdict = routing_key_of(ENFORCE, "routing.commands", headers, "lapor-admin")
        assert (key, verdict.allowed) == ("routing.dispose", True)

    @pytest.mark.parametrize("user", ["opd-dinkes", "channel-sms", None, "guest"])
    def test_anyone_elses_replay_header_is_refused(self, user: str | None) -> None:
        headers = {ORIGINAL_ROUTING_KEY: "routing.dispose"}
        key, verdict = routing_key_of(ENFORCE, "opd.respond", headers, user)
        assert key == "opd.respond"
        assert verdict.reason == UNAUTHORISED

    def test_a_replay_is_authorised_as_its_original_sender(self) -> None:
        headers = {ORIGINAL_ROUTING_KEY: "routing.dispose", ORIGINAL_USER_ID: b"channel-sms"}
        origin = origin_of(ENFORCE, "routing.commands", headers, "lapor-admin")
        assert (origin.routing_key, origin.user_id, origin.replayed) == (
            "routing.dispose",
            "channel-sms",
            True,
        )
        assert not may_command_as_admin(ENFORCE, origin.user_id).allowed

    def test_a_replay_of_a_message_without_sender_has_none(self) -> None:
        origin = origin_of(ENFORCE, "q", {ORIGINAL_ROUTING_KEY: "routing.dispose"}, "lapor-admin")
        assert origin.user_id is None and not may_command_as_admin(ENFORCE, origin.user_id).allowed

    def test_a_non_admin_cannot_claim_an_original_sender(self) -> None:
        headers = {ORIGINAL_ROUTING_KEY: "opd.respond", ORIGINAL_USER_ID: "lapor-admin"}
        origin = origin_of(ENFORCE, "routing.commands", headers, "opd-dinkes")
        assert origin.user_id == "opd-dinkes" and not origin.verdict.allowed


class TestOpenMode:
    def test_an_unauthenticated_sender_acts_as_any_role(self) -> None:
        assert may_submit(OPEN, None, "sms").allowed
        assert may_command_as_admin(OPEN, "guest").allowed
        assert may_respond(OPEN, None, "pupr", ["dinkes"]).allowed
        assert may_reply(OPEN, None, "sms").allowed
        assert routing_key_of(OPEN, "q", {ORIGINAL_ROUTING_KEY: "x.y"}, None)[0] == "x.y"

    def test_a_named_lapor_user_is_still_held_to_its_role(self) -> None:
        assert not may_command_as_admin(OPEN, "channel-sms").allowed
        assert not may_respond(OPEN, "opd-dinkes", "pupr", ["pupr"]).allowed
        assert not may_submit(OPEN, "channel-sms", "wa").allowed

    def test_open_mode_says_so_loudly_at_start(self, caplog: pytest.LogCaptureFixture) -> None:
        log = logging.getLogger("test.senders")
        with caplog.at_level(logging.INFO, logger="test.senders"):
            announce_mode(OPEN, "routing", log)
            announce_mode(ENFORCE, "routing", log)
        open_record, enforce_record = caplog.records
        assert open_record.levelno == logging.WARNING and "NEVER" in open_record.getMessage()
        assert enforce_record.levelno == logging.INFO

    def test_settings_default_to_enforce(self) -> None:
        assert not LaporSettings().sender_policy().is_open
        assert LaporSettings(senders="open").sender_policy().is_open  # type: ignore[arg-type]


def test_a_laptop_run_is_open_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    from lapor.local import prepare_environment

    monkeypatch.setenv("LAPOR_MONGO_URL", "memory://")
    monkeypatch.setenv("LAPOR_PII_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
    monkeypatch.setenv("LAPOR_SENDERS", "placeholder")  # so that teardown restores it
    monkeypatch.delenv("LAPOR_SENDERS")
    warnings = prepare_environment()
    assert LaporSettings().sender_policy().is_open
    assert any("LAPOR_SENDERS" in w and "never in a deployment" in w for w in warnings)
    monkeypatch.setenv("LAPOR_SENDERS", "enforce")
    prepare_environment()
    assert not LaporSettings().sender_policy().is_open


def test_the_extension_decision_is_an_admin_command() -> None:
    from shared.senders import ADMIN_COMMANDS

    # The sender check refuses every admin command from anyone but an admin user; an
    # agency must not grant its own extension (issue 12's routing.extension).
    assert {"verification.decide", "routing.dispose", "routing.extension"} <= ADMIN_COMMANDS
