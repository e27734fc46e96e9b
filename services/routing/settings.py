"""Routing's settings: the common ``LAPOR_*`` base plus the routing knobs."""

from __future__ import annotations

from pydantic import Field

from shared.lifecycle import Severity
from shared.settings import LaporSettings


class RoutingSettings(LaporSettings):
    """``LAPOR_HOP_LIMIT``: how many agencies may hold a case before the admin decides."""

    hop_limit: int = Field(default=3, ge=1, le=20)
    #: For a case that reaches routing with no severity (an admin referral).
    default_severity: Severity = Severity.SEDANG
