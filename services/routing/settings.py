"""Routing's settings: the common ``LAPOR_*`` base plus the routing knobs."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from shared.lifecycle import Severity
from shared.settings import LaporSettings


class RoutingSettings(LaporSettings):
    """``LAPOR_HOP_LIMIT``: how many agencies may hold a case before the admin decides."""

    hop_limit: int = Field(default=3, ge=1, le=20)
    #: For a case that reaches routing with no severity (an admin referral).
    default_severity: Severity = Severity.SEDANG

    @classmethod
    def from_base(cls, base: LaporSettings, **overrides: Any) -> RoutingSettings:
        """Routing settings sharing ``base``'s common values (e.g. a test's settings)."""
        if isinstance(base, RoutingSettings) and not overrides:
            return base
        common = {name: getattr(base, name) for name in LaporSettings.model_fields}
        own = {name: getattr(base, name) for name in cls.model_fields if hasattr(base, name)}
        return cls(**(common | own | overrides))
