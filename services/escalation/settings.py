"""Escalation's settings: the common ``LAPOR_*`` base plus the scanner's knobs."""

from __future__ import annotations

from pydantic import Field

from shared.settings import LaporSettings


class EscalationSettings(LaporSettings):
    """How often the scanner looks for due cases, and how long a claim on one lasts."""

    #: ``LAPOR_ESCALATION_SCAN_SECONDS``: seconds between scans for due steps (an idle scan
    #: is one indexed query).
    escalation_scan_seconds: float = Field(default=5.0, gt=0)
    #: How long a replica holds a claimed case; if it dies holding one, another replica
    #: takes the case over after this long (clock time).
    escalation_lease_seconds: float = Field(default=60.0, gt=0)
    #: At most this many due cases are handled in one scan before the loop sleeps again.
    escalation_batch: int = Field(default=200, ge=1)
