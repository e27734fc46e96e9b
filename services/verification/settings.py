"""Verification's settings: the common base plus the verification policy.

The policy is one nested object, like ``sla``: ``LAPOR_VERIFICATION__AUTO_VERIFY=false``,
``LAPOR_VERIFICATION__DUPLICATE_SIMILARITY=0.85``,
``LAPOR_VERIFICATION__PRIVATE_SECTOR_TERMS='["shopee", "gojek"]'`` (JSON for lists).
"""

from __future__ import annotations

from services.verification.policy import VerificationPolicy
from shared.settings import LaporSettings


class VerificationSettings(LaporSettings):
    """What the verification service reads from ``LAPOR_*``."""

    verification: VerificationPolicy = VerificationPolicy()
