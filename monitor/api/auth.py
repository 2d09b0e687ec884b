"""Login: the OAuth2 password form gives a bearer token."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from monitor.access import log_access
from monitor.accounts import authenticate, issue_token
from monitor.api.deps import MonitorDep

logger = logging.getLogger(__name__)
router = APIRouter(tags=["auth"])


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"


async def login(monitor: MonitorDep, username: str, password: str) -> str | None:
    """A new token for a right password; failures are logged and slowed down."""
    delay = monitor.login_throttle.delay(username)
    if delay:
        await asyncio.sleep(delay)
    account = await authenticate(monitor.db, username, password)
    async with monitor.db.transaction() as session:
        if account is None:
            monitor.login_throttle.failed(username)
            logger.warning("failed login for %r", username)
            log_access(session, username, "login_failed")
            return None
        monitor.login_throttle.succeeded(username)
        logger.info("login: %s", username)
        log_access(session, username, "login")
        return await issue_token(session, account,
                                 timedelta(minutes=monitor.config.api.token_ttl_min))


@router.post("/api/auth/token", response_model=Token)
async def token(
    monitor: MonitorDep, form: Annotated[OAuth2PasswordRequestForm, Depends()]
) -> Token:
    """Exchange a username and password for a bearer token."""
    issued = await login(monitor, form.username, form.password)
    if issued is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "用户名或密码错误 (wrong credentials)",
                            headers={"WWW-Authenticate": "Bearer"})
    return Token(access_token=issued)
