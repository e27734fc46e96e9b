"""Failed log-in throttling, per account and per address: the rule is pure, the tally stored.

After ``max_failures`` failed log-ins within ``window`` for one key (an account name or a
client address), further attempts on that key are refused, without checking the password,
until ``lockout`` has passed since the latest failure. An address gets a larger allowance
than an account, since many honest staff may share one office gateway.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pymongo.asynchronous.collection import AsyncCollection

from shared.storage import Document

#: How many failures are kept per key (enough for any policy; bounded so a flood is cheap).
KEEP_FAILURES = 50


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many failures, within which window, lock a key out for how long."""

    account_max_failures: int = 5
    address_max_failures: int = 20
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)


def blocked_until(
    failures: Sequence[datetime], now: datetime, max_failures: int, policy: ThrottlePolicy
) -> datetime | None:
    """Until when a key with these failure times is locked out at ``now`` (None: it is not)."""
    recent = sorted(f for f in failures if now - policy.window <= f <= now)
    if len(recent) < max_failures:
        return None
    until = recent[-1] + policy.lockout
    return until if until > now else None


def account_key(name: str) -> str:
    """The tally key of an account name (whether or not such an account exists)."""
    return f"account:{name.lower()}"


def address_key(address: str) -> str:
    """The tally key of a client address."""
    return f"address:{address}"


class LoginThrottle:
    """The failure tally in MongoDB (collection ``staff_login_throttle``), one doc per key."""

    def __init__(self, collection: AsyncCollection[Document], policy: ThrottlePolicy) -> None:
        self._collection = collection
        self.policy = policy

    async def _failures(self, key: str) -> list[datetime]:
        doc = await self._collection.find_one({"_id": key}, {"failures": 1})
        return list(doc.get("failures", [])) if doc else []

    async def blocked_until(self, name: str, address: str, now: datetime) -> datetime | None:
        """The later lock-out of the account and the address, if either is locked."""
        checks = (
            (account_key(name), self.policy.account_max_failures),
            (address_key(address), self.policy.address_max_failures),
        )
        locks = [
            until
            for key, limit in checks
            if (until := blocked_until(await self._failures(key), now, limit, self.policy))
        ]
        return max(locks) if locks else None

    async def record_failure(self, name: str, address: str, now: datetime) -> None:
        """Count one failed log-in against the account name and the address."""
        for key in (account_key(name), address_key(address)):
            await self._collection.update_one(
                {"_id": key},
                {"$push": {"failures": {"$each": [now], "$slice": -KEEP_FAILURES}}},
                upsert=True,
            )

    async def clear_account(self, name: str) -> None:
        """Forget an account's failures after a successful log-in or a password reset.

        The address tally stays: one good password does not excuse a flood from an address.
        """
        await self._collection.delete_one({"_id": account_key(name)})
