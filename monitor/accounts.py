"""Console and API accounts: argon2 password hashes, bearer tokens, community scope."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from monitor.errors import TanfangError
from monitor.store.db import Database
from monitor.store.models import ROLES, Account, Community, Session
from monitor.timeutil import utcnow

_hasher = PasswordHasher()


@dataclass(frozen=True)
class Caller:
    """Who is calling, and which community they may see (None: the whole district)."""

    account_id: int
    username: str
    role: str
    community_id: str | None

    @property
    def sees_all(self) -> bool:
        return self.role == "district_admin"

    def may_see(self, community_id: str | None) -> bool:
        return self.sees_all or (community_id is not None and community_id == self.community_id)


async def create_account(
    session: AsyncSession, username: str, password: str, role: str,
    community_id: str | None = None, display_name: str | None = None,
) -> Account:
    """Create or update an account (its password, role and community)."""
    if role not in ROLES:
        raise TanfangError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    if role != "district_admin" and not community_id:
        raise TanfangError(f"a {role} account needs --community")
    if community_id and await session.get(Community, community_id) is None:
        raise TanfangError(f"unknown community {community_id!r}; load the registry first")
    if len(password) < 8:
        raise TanfangError("the password needs at least 8 characters")
    account = (
        await session.execute(select(Account).where(Account.username == username))
    ).scalar_one_or_none()
    if account is None:
        account = Account(username=username, created_at=utcnow(), active=True, password_hash="")
        session.add(account)
    account.password_hash = _hasher.hash(password)
    account.role = role
    account.community_id = community_id if role != "district_admin" else None
    account.display_name = display_name or account.display_name
    await session.flush()
    return account


async def authenticate(db: Database, username: str, password: str) -> Account | None:
    """The account if the password is right, else None (same work either way)."""
    async with db.sessions() as session:  # a short read: no lock is held while hashing
        account = (
            await session.execute(select(Account).where(Account.username == username))
        ).scalar_one_or_none()
    stored = account.password_hash if account is not None and account.active else None
    # Argon2 is slow by design: off the event loop, so ingest and alarms never wait for it.
    if not await asyncio.to_thread(_verify, stored or _DUMMY_HASH, password):
        return None
    return account if stored else None


def _verify(stored: str, password: str) -> bool:
    try:
        return bool(_hasher.verify(stored, password))
    except (VerificationError, InvalidHashError):
        return False


_DUMMY_HASH = _hasher.hash("not a real password")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_token(session: AsyncSession, account: Account, ttl: timedelta) -> str:
    """A new bearer token for the account; only its hash is stored."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    await session.execute(delete(Session).where(Session.expires_at < now))
    session.add(Session(token_hash=_digest(token), account_id=account.id, created_at=now,
                        expires_at=now + ttl))
    return token


async def caller_for_token(session: AsyncSession, token: str) -> Caller | None:
    """The caller a token belongs to, if it is valid and not expired."""
    row = (
        await session.execute(
            select(Account).join(Session, Session.account_id == Account.id).where(
                Session.token_hash == _digest(token), Session.expires_at > utcnow(),
                Account.active.is_(True),
            )
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    return Caller(row.id, row.username, row.role, row.community_id)


async def revoke_token(session: AsyncSession, token: str) -> None:
    await session.execute(delete(Session).where(Session.token_hash == _digest(token)))
