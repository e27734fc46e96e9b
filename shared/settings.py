"""Settings shared by every service: one pydantic-settings base, prefix ``LAPOR_``."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.calendar import WorkingCalendar
from shared.caps import CaseCaps
from shared.senders import ADMIN_USER, PORTAL_USER, SenderPolicy, SendersMode
from shared.sla import SlaPolicy
from shared.topology import DeadLetterLimits


class LaporSettings(BaseSettings):
    """What every LAPOR process reads from its environment (``LAPOR_*``) or ``.env``."""

    model_config = SettingsConfigDict(
        env_prefix="LAPOR_", env_file=".env", env_nested_delimiter="__", extra="ignore"
    )

    amqp_url: SecretStr = SecretStr("amqp://guest:guest@localhost:5672/")
    mongo_url: SecretStr = SecretStr("mongodb://localhost:27017")
    mongo_db: str = "lapor"
    timezone: str = "Asia/Jakarta"
    #: Operator-added holidays (regional days, closures): a YAML or JSON list of {date, name}.
    holidays_file: Path | None = None
    #: Service-level agreement durations, in working days (``LAPOR_SLA__FOLLOW_UP_DAYS=5``).
    sla: SlaPolicy = SlaPolicy()
    #: 32 random bytes, base64: encrypts reporter identity at rest and keys its look-up hashes.
    pii_key: SecretStr | None = None
    prefetch: int = Field(default=16, ge=1, le=1000)
    delivery_limit: int = Field(default=5, ge=1, le=100)
    #: How long a pending outbox entry may wait for its own publisher before the relay sends it.
    outbox_grace_seconds: float = Field(default=5.0, gt=0)
    outbox_scan_seconds: float = Field(default=1.0, gt=0)
    #: How long published outbox entries wait to be taken off the store together (one
    #: command for all; 0: each delivery takes its own off at once). Below the grace.
    outbox_settle_seconds: float = Field(default=0.2, ge=0)
    #: Declare the exchanges and service queues on start. Off where they are declared once
    #: by ``lapor topology declare`` with the admin user (docker compose does), so that a
    #: service's own broker user needs no right to create or delete anything.
    declare_topology: bool = True
    log_level: str = "INFO"
    #: The address citizens reach the portal at (``https://lapor.example.go.id``): links in
    #: its pages and Open311 answers, and the tracking link every notification carries.
    portal_public_url: str | None = None
    #: Test-only fault injection, ``name=action`` pairs separated by commas (see failpoints).
    failpoints: str = ""
    #: ``enforce``: every report and command must come from the broker user allowed to send
    #: it (shared/senders.py). ``open``: senders without a LAPOR user act as any role —
    #: a laptop's ``lapor dev`` / ``lapor demo`` only.
    senders: SendersMode = SendersMode.ENFORCE
    #: Broker users whose admin commands and dead-letter replays are accepted (comma list).
    admin_users: Annotated[frozenset[str], NoDecode] = frozenset({ADMIN_USER, PORTAL_USER})
    #: The newest identity key's id (sealed data names the key it was sealed with); older
    #: keys stay readable through ``LAPOR_PII_OLD_KEYS`` until ``lapor keys rotate`` ran.
    pii_key_id: str = Field(default="k1", pattern=r"^[A-Za-z0-9_-]{1,16}$")
    #: Earlier identity keys, ``id:base64`` pairs separated by commas (key rotation).
    pii_old_keys: SecretStr | None = None
    #: ``lapor.dead-letters``: how long a dead letter is kept (its body may hold identity)
    #: and how many are kept at most (RabbitMQ drops the oldest beyond that).
    dead_letter_ttl_hours: float = Field(default=14 * 24, gt=0)
    dead_letter_max: int = Field(default=100_000, ge=1)
    #: Per-case caps (shared/caps.py): timeline entries, applied commands, reporter
    #: additions. Reporters and agencies meet the cap; LAPOR's own steps, the admin's and
    #: steps that end a case have ``LAPOR_CASE_RESERVE`` more, so a full case still ends.
    case_max_timeline: int = Field(default=1000, ge=1)
    case_max_applied: int = Field(default=2000, ge=1)
    case_max_additions: int = Field(default=50, ge=1)
    case_reserve: int = Field(default=100, ge=0)

    @field_validator("pii_key")
    @classmethod
    def _key_is_32_bytes(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        try:
            raw = base64.b64decode(value.get_secret_value(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("LAPOR_PII_KEY must be base64") from None
        if len(raw) != 32:
            raise ValueError("LAPOR_PII_KEY must decode to exactly 32 bytes")
        return value

    @field_validator("admin_users", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            names = frozenset(n.strip() for n in value.split(",") if n.strip())
            if not names:
                raise ValueError("LAPOR_ADMIN_USERS names no user")
            return names
        return value

    @field_validator("pii_old_keys")
    @classmethod
    def _old_keys_parse(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_old_keys(value.get_secret_value())
        return value

    def sender_policy(self) -> SenderPolicy:
        """Who may send what, as configured (``LAPOR_SENDERS``, ``LAPOR_ADMIN_USERS``)."""
        return SenderPolicy(mode=self.senders, admin_users=self.admin_users)

    def dead_letter_limits(self) -> DeadLetterLimits:
        """How long and how many dead letters are kept (part of the queue's declaration)."""
        return DeadLetterLimits(self.dead_letter_ttl_hours, self.dead_letter_max)

    def case_caps(self) -> CaseCaps:
        """The per-case caps, as configured (``LAPOR_CASE_MAX_*``, ``LAPOR_CASE_RESERVE``)."""
        return CaseCaps(
            timeline=self.case_max_timeline,
            applied=self.case_max_applied,
            additions=self.case_max_additions,
            reserve=self.case_reserve,
        )

    def pii_keyring(self) -> dict[str, bytes]:
        """Every identity key by id, the current one (``LAPOR_PII_KEY_ID``) included."""
        keys = parse_old_keys(self.pii_old_keys.get_secret_value()) if self.pii_old_keys else {}
        keys[self.pii_key_id] = self.pii_key_bytes()
        return keys

    @classmethod
    def from_base(cls, base: LaporSettings, **overrides: Any) -> Self:
        """Settings of this (service's) class sharing ``base``'s values, e.g. a test's."""
        if isinstance(base, cls) and not overrides:
            return base
        shared = {name: getattr(base, name) for name in cls.model_fields if hasattr(base, name)}
        return cls(**(shared | overrides))

    def working_calendar(self) -> WorkingCalendar:
        """The working-day calendar: national holidays, cuti bersama and the operator's."""
        if self.holidays_file is None:
            return WorkingCalendar(tz=self.timezone)
        return WorkingCalendar.from_file(self.holidays_file, tz=self.timezone)

    def pii_key_bytes(self) -> bytes:
        """The identity key; a service without one refuses to start."""
        if self.pii_key is None:
            raise RuntimeError(
                "LAPOR_PII_KEY is not set: generate one with `lapor keygen` and keep it secret"
            )
        return base64.b64decode(self.pii_key.get_secret_value())


def _key_bytes(text: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("an identity key must be base64") from None
    if len(raw) != 32:
        raise ValueError("an identity key must decode to exactly 32 bytes")
    return raw


def parse_old_keys(text: str) -> dict[str, bytes]:
    """``id:base64,id:base64`` (``LAPOR_PII_OLD_KEYS``) as a key ring; errors name no key."""
    ring: dict[str, bytes] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key_id, sep, encoded = item.partition(":")
        if not sep or not key_id:
            raise ValueError("LAPOR_PII_OLD_KEYS: each entry is id:base64")
        ring[key_id] = _key_bytes(encoded)
    return ring


class IntakeSettings(LaporSettings):
    """Intake: how large a raw report may be (the fields' bounds are in the contract)."""

    max_message_bytes: int = Field(default=256 * 1024, ge=1024)
    #: Reports one channel may submit per minute, and one reporter (by contact
    #: fingerprint) per hour; more are quarantined as ``rate_limited``, never dropped.
    rate_limit_per_channel_minute: int = Field(default=600, ge=1)
    rate_limit_per_reporter_hour: int = Field(default=20, ge=1)
