"""Staff accounts (collection ``staff_users``): Argon2id password hashes, roles, agencies.

Passwords are hashed with argon2-cffi's ``PasswordHasher`` (Argon2id, its default type, with
its recommended parameters); an old hash is upgraded at the next good log-in. A wrong
password, an unknown name and a disabled account look the same to the person logging in.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from services.portal.staff.roles import AccountError, Role, check_agencies
from services.portal.staff.throttle import LoginThrottle
from shared.contract import AGENCY_CODE
from shared.storage import Document

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256

_HASHER = PasswordHasher()
# Verified against when the name is unknown, so that case takes as long as a wrong password.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class StaffAccount:
    """One staff member as the portal knows them (never the password hash)."""

    name: str
    role: Role
    agencies: frozenset[str] = field(default_factory=frozenset)
    enabled: bool = True
    created_at: datetime | None = None

    @classmethod
    def from_document(cls, doc: Document) -> StaffAccount:
        """The account stored as ``doc``."""
        return cls(
            name=doc["_id"],
            role=Role(doc["role"]),
            agencies=frozenset(doc.get("agencies", [])),
            enabled=bool(doc.get("enabled", True)),
            created_at=doc.get("created_at"),
        )


class LoginFailed(Exception):
    """Wrong name or password, or a disabled account (the person is not told which)."""


class LoginThrottled(Exception):
    """Too many failed log-ins for this account or address; try again after ``until``."""

    def __init__(self, until: datetime) -> None:
        super().__init__(f"locked until {until.isoformat()}")
        self.until = until


def check_username(name: str) -> str:
    """A valid account name, lower-cased; otherwise an error saying why."""
    name = name.strip().lower()
    if not USERNAME.match(name):
        raise AccountError(
            "name: 2-64 characters, lowercase letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def check_password(password: str) -> str:
    """A password long enough to use; otherwise an error saying why."""
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise AccountError(
            f"password: must be {MIN_PASSWORD_LENGTH}-{MAX_PASSWORD_LENGTH} characters"
        )
    return password


def check_agency_codes(codes: Sequence[str]) -> list[str]:
    """Agency codes in the contract's form, de-duplicated in order."""
    clean: list[str] = []
    for given in codes:
        code = given.strip().lower()
        if not AGENCY_CODE.match(code):
            raise AccountError(f"agency: {code!r} is not an agency code (e.g. dinkes-sumsel)")
        if code not in clean:
            clean.append(code)
    return clean


def generate_password() -> str:
    """A new random password (24 URL-safe characters, about 144 bits)."""
    return secrets.token_urlsafe(18)


def hash_password(password: str) -> str:
    """The Argon2id hash of ``password``."""
    return _HASHER.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash`` (False for a broken hash too)."""
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


class AccountNotFound(AccountError):
    """No account by that name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"name: no staff account {name!r}")


class StaffAccounts:
    """The ``staff_users`` collection and log-in throttling."""

    def __init__(self, collection: AsyncCollection[Document], throttle: LoginThrottle) -> None:
        self._users = collection
        self.throttle = throttle

    async def add(
        self,
        name: str,
        role: Role,
        agencies: Sequence[str],
        password: str,
        now: datetime,
    ) -> StaffAccount:
        """Create an account; refuses a taken name, a bad role/agency pairing, a short password."""
        name = check_username(name)
        codes = check_agency_codes(agencies)
        check_agencies(role, codes)
        check_password(password)
        doc: Document = {
            "_id": name,
            "role": str(role),
            "agencies": codes,
            "enabled": True,
            "password_hash": hash_password(password),
            "created_at": now,
            "updated_at": now,
            "password_changed_at": now,
        }
        try:
            await self._users.insert_one(doc)
        except DuplicateKeyError:
            raise AccountError(f"name: an account {name!r} exists already") from None
        return StaffAccount.from_document(doc)

    async def get(self, name: str) -> StaffAccount | None:
        """The account ``name``, if there is one."""
        doc = await self._users.find_one({"_id": name.strip().lower()}, {"password_hash": 0})
        return StaffAccount.from_document(doc) if doc else None

    async def all(self) -> list[StaffAccount]:
        """Every account, by name."""
        cursor = self._users.find({}, {"password_hash": 0}).sort("_id", 1)
        return [StaffAccount.from_document(doc) async for doc in cursor]

    async def _set(self, name: str, changes: dict[str, Any], now: datetime) -> StaffAccount:
        name = name.strip().lower()
        result = await self._users.update_one(
            {"_id": name}, {"$set": changes | {"updated_at": now}}
        )
        if result.matched_count == 0:
            raise AccountNotFound(name)
        account = await self.get(name)
        if account is None:  # deleted in between: nobody deletes accounts, but say so
            raise AccountNotFound(name)
        return account

    async def set_enabled(self, name: str, enabled: bool, now: datetime) -> StaffAccount:
        """Enable or disable an account (a disabled account's sessions stop working)."""
        return await self._set(name, {"enabled": enabled}, now)

    async def reset_password(self, name: str, password: str, now: datetime) -> StaffAccount:
        """Give an account a new password and forget its failed log-ins."""
        check_password(password)
        account = await self._set(
            name, {"password_hash": hash_password(password), "password_changed_at": now}, now
        )
        await self.throttle.clear_account(account.name)
        return account

    async def authenticate(
        self, name: str, password: str, address: str, now: datetime
    ) -> StaffAccount:
        """The account if ``name`` and ``password`` match an enabled one.

        Raises :class:`LoginThrottled` while the account or the address is locked out
        (the password is not even checked then) and :class:`LoginFailed` otherwise.
        """
        name = name.strip().lower()[:64]
        until = await self.throttle.blocked_until(name, address, now)
        if until is not None:
            raise LoginThrottled(until)
        doc = await self._users.find_one({"_id": name})
        stored = doc["password_hash"] if doc else _DUMMY_HASH
        matches = verify_password(stored, password[:MAX_PASSWORD_LENGTH])
        if doc is None or not matches or not doc.get("enabled", True):
            await self.throttle.record_failure(name, address, now)
            raise LoginFailed(name)
        if _HASHER.check_needs_rehash(stored):
            await self._users.update_one(
                {"_id": name}, {"$set": {"password_hash": hash_password(password)}}
            )
        await self.throttle.clear_account(name)
        return StaffAccount.from_document(doc)
