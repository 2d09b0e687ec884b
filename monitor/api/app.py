"""The HTTP application: API routes (and the console, once mounted) of one monitor."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI

from monitor import __version__, console
from monitor.api import alarms, auth, coverage, health, twilio, visits

if TYPE_CHECKING:
    from monitor.daemon import Monitor


def create_app(monitor: Monitor) -> FastAPI:
    """A FastAPI app serving `monitor`."""
    app = FastAPI(title="Tanfang Monitor 探访关爱远程监测", version=__version__)
    app.state.monitor = monitor
    for module in (health, auth, alarms, coverage, visits, twilio):
        app.include_router(module.router)
    console.mount(app)
    return app
