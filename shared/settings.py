"""Settings shared by every service: one pydantic-settings base, prefix ``LAPOR_``."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Any, Self

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.calendar import WorkingCalendar
from shared.sla import SlaPolicy


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
    #: Declare the exchanges and service queues on start. Off where they are declared once
    #: by ``lapor topology declare`` with the admin user (docker compose does), so that a
    #: service's own broker user needs no right to create or delete anything.
    declare_topology: bool = True
    log_level: str = "INFO"
    #: Test-only fault injection, ``name=action`` pairs separated by commas (see failpoints).
    failpoints: str = ""

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


class IntakeSettings(LaporSettings):
    """Intake: how large a raw report may be (the fields' bounds are in the contract)."""

    max_message_bytes: int = Field(default=256 * 1024, ge=1024)
