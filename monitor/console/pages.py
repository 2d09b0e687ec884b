"""The board and coverage pages: server-rendered frames that their scripts fill in."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from monitor.console import labels
from monitor.console.session import PageCaller
from monitor.console.templating import templates
from monitor.timeutil import to_local, utcnow

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def board_page(request: Request, caller: PageCaller) -> Response:
    """The alarm board (filled live by static/board.js)."""
    return templates.TemplateResponse(request, "board.html", {
        "caller": caller, "active": "board", "labels": labels.all_labels()})


def current_week() -> str:
    """This ISO week in Asia/Shanghai, as 2026-W49."""
    year, week, _ = to_local(utcnow()).isocalendar()
    return f"{year}-W{week:02d}"


@router.get("/coverage", response_class=HTMLResponse)
async def coverage_page(request: Request, caller: PageCaller, week: str | None = None) -> Response:
    """This week's visit coverage (filled by static/coverage.js from /api/coverage)."""
    return templates.TemplateResponse(request, "coverage.html", {
        "caller": caller, "active": "coverage", "week": week or current_week(),
        "labels": labels.all_labels()})
