"""Who may resubmit a corrected quarantined report on its channel's key: an admin user,
for a message ID that names a quarantine (issue 9's quarantine desk under enforce)."""

from __future__ import annotations

import pytest

from shared.senders import SenderPolicy, SendersMode, may_resubmit, resubmitted_quarantine

pytestmark = pytest.mark.unit

QUARANTINE = "q-" + "0123456789abcdef" * 2


def test_a_resubmission_names_an_intake_quarantine_id() -> None:
    assert resubmitted_quarantine(f"resubmit:{QUARANTINE}") == QUARANTINE
    for other in (None, "", QUARANTINE, "resubmit:", "resubmit:q-123", f"re:{QUARANTINE}",
                  f"resubmit:{QUARANTINE}x", f"resubmit:{QUARANTINE.upper()}"):  # fmt: skip
        assert resubmitted_quarantine(other) is None, other


def test_only_an_admin_user_may_resubmit() -> None:
    enforce = SenderPolicy()
    assert may_resubmit(enforce, "lapor-portal").allowed
    assert may_resubmit(enforce, b"lapor-admin").allowed
    for sender in ("channel-sms", "channel-web", "opd-dinkes-sumsel", "lapor-intake", None):
        verdict = may_resubmit(enforce, sender)
        assert not verdict.allowed and verdict.reason == "unauthorised", sender
    assert may_resubmit(SenderPolicy(mode=SendersMode.OPEN), None).allowed
    assert not may_resubmit(SenderPolicy(mode=SendersMode.OPEN), "channel-sms").allowed
