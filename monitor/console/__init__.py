"""The duty console: Jinja2 pages, a live alarm board and their static files, served at `/`."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


def mount(app: FastAPI) -> None:
    """Add the console's pages, its JSON routes and /static to the API app."""
    from monitor.console import board, devices, elders, pages, session

    app.add_exception_handler(session.LoginRequired, session.redirect_to_login)
    for module in (session, pages, board, elders, devices):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
