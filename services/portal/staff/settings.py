"""``LAPOR_STAFF_*``: session lifetimes, log-in throttling and the session cookie."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from services.portal.staff.sessions import SessionPolicy
from services.portal.staff.throttle import ThrottlePolicy
from shared.settings import LaporSettings


class StaffSettings(LaporSettings):
    """The staff area's settings, on the common base."""

    #: A session ends after this long without a request, and in any case after the absolute.
    staff_session_idle_minutes: float = Field(default=30, gt=0)
    staff_session_absolute_hours: float = Field(default=10, gt=0)
    #: Failed log-ins allowed per account and per address within the window, then a lockout.
    staff_login_max_failures: int = Field(default=5, ge=1)
    staff_login_max_failures_per_address: int = Field(default=20, ge=1)
    staff_login_window_minutes: float = Field(default=15, gt=0)
    staff_login_lockout_minutes: float = Field(default=15, gt=0)
    #: The session cookie is Secure (sent over HTTPS only; browsers treat http://localhost
    #: and 127.0.0.1 as secure too). Turn off only for a plain-HTTP laptop demo on a LAN.
    staff_cookie_secure: bool = True

    def session_policy(self) -> SessionPolicy:
        """The sessions' idle and absolute expiry."""
        return SessionPolicy(
            idle=timedelta(minutes=self.staff_session_idle_minutes),
            absolute=timedelta(hours=self.staff_session_absolute_hours),
        )

    def throttle_policy(self) -> ThrottlePolicy:
        """The failed log-in throttle."""
        return ThrottlePolicy(
            account_max_failures=self.staff_login_max_failures,
            address_max_failures=self.staff_login_max_failures_per_address,
            window=timedelta(minutes=self.staff_login_window_minutes),
            lockout=timedelta(minutes=self.staff_login_lockout_minutes),
        )
