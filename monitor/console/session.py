"""Console login: a form that sets the session cookie, and the page guard that reads it."""

from __future__ import annotations

import logging
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from monitor.accounts import Caller, caller_for_token, revoke_token
from monitor.api.auth import login
from monitor.api.deps import SESSION_COOKIE, MonitorDep
from monitor.console.templating import templates

logger = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)


class LoginRequired(Exception):
    """No valid session: the page redirects to the login form."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


def safe_next(value: str | None) -> str:
    """Only same-site paths, so the login form cannot send anyone elsewhere."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


async def page_caller(request: Request, monitor: MonitorDep) -> Caller:
    """The caller of the session cookie, or a redirect to the login page."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        async with monitor.db.sessions() as session:
            caller = await caller_for_token(session, token)
        if caller is not None:
            return caller
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    raise LoginRequired(target)


PageCaller = Annotated[Caller, Depends(page_caller)]


def redirect_to_login(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(f"/login?next={quote(exc.next_path)}", status_code=303)


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str = "/") -> Response:
    """The login page."""
    return templates.TemplateResponse(request, "login.html", {"next": safe_next(next),
                                                              "error": None, "username": ""})


@router.post("/login", response_class=HTMLResponse)
async def login_submit(
    request: Request,
    monitor: MonitorDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the password (slowed after repeated failures), then set the session cookie."""
    token = await login(monitor, username.strip(), password)
    if token is None:
        context: dict[str, Any] = {"next": safe_next(next), "username": username,
                                   "error": "用户名或密码错误，请重新输入"}
        return templates.TemplateResponse(request, "login.html", context, status_code=401)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, token, max_age=monitor.config.api.token_ttl_min * 60,
                        httponly=True, samesite="lax", path="/",
                        secure=request.url.scheme == "https")
    return response


@router.post("/logout")
async def logout(request: Request, monitor: MonitorDep) -> Response:
    """End the session."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        async with monitor.db.transaction() as session:
            await revoke_token(session, token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
