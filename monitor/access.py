"""The access log (PIPL): who looked at or changed which elder's records, and when."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from monitor.store.models import AccessLog
from monitor.timeutil import utcnow


def log_access(
    session: AsyncSession, actor: str, action: str, elder_id: str | None = None,
    detail: str | None = None,
) -> None:
    """Add one line to the access log, in the caller's transaction."""
    session.add(AccessLog(at=utcnow(), actor=actor[:64], action=action, elder_id=elder_id,
                          detail=detail))
