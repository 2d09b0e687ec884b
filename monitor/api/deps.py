"""Dependencies of the HTTP routes: the running monitor, a store session, the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from monitor.accounts import Caller, caller_for_token

if TYPE_CHECKING:
    from monitor.daemon import Monitor

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)
SESSION_COOKIE = "tanfang_session"


def get_monitor(request: Request) -> Monitor:
    return request.app.state.monitor  # type: ignore[no-any-return]


async def get_session(
    monitor: Annotated[Any, Depends(get_monitor)],
) -> AsyncIterator[AsyncSession]:
    """One transaction per request, committed when the route returns without error."""
    async with monitor.db.transaction() as session:
        yield session


async def get_caller(
    request: Request,
    token: Annotated[str | None, Depends(oauth2)],
    monitor: Annotated[Any, Depends(get_monitor)],
) -> Caller:
    """The caller of a bearer token (API) or of the session cookie (console)."""
    token = token or request.cookies.get(SESSION_COOKIE)
    if token:
        async with monitor.db.sessions() as session:
            caller = await caller_for_token(session, token)
        if caller is not None:
            return caller
    raise HTTPException(
        status.HTTP_401_UNAUTHORIZED, "未登录或登录已过期 (not authenticated)",
        headers={"WWW-Authenticate": "Bearer"},
    )


# Typed Any for FastAPI, which resolves annotations at run time; it is a Monitor.
MonitorDep = Annotated[Any, Depends(get_monitor)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
CallerDep = Annotated[Caller, Depends(get_caller)]
