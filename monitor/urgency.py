"""Alarms first in the event loop: while an alarm is being committed, bulk work steps aside.

Every task of the daemon shares one event loop. Committing an SOS takes a dozen round trips
to the store, and after each the SOS waits for whatever else runs to reach its next `await`:
a batch of readings being decoded, usage being recomputed. So, while an urgent section runs
(`async with urgency.first()`), bulk work steps aside at its next chance, until it ends:

    async with db.urgency.first():          # an event batch: alarms and their first step
        ...
    await db.urgency.step_aside()           # bulk work, between two pieces of it

A background transaction (`Database.transaction(background=True)`) steps aside before it
begins. Inside a transaction bulk work must not wait (it may hold SQLite's one writer, which
the urgent section needs): it only yields there or, if preemptible, gives the writer up
(`monitor/store/db.py:Preempted`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Urgency:
    """How many urgent sections run, and an event set when none does."""

    def __init__(self) -> None:
        self._running = 0
        self._clear = asyncio.Event()
        self._clear.set()

    @property
    def active(self) -> bool:
        return self._running > 0

    @asynccontextmanager
    async def first(self) -> AsyncIterator[None]:
        """An urgent section: bulk work that steps aside meanwhile waits until it ends."""
        self._running += 1
        self._clear.clear()
        try:
            yield
        finally:
            self._running -= 1
            if not self._running:
                self._clear.set()

    async def step_aside(self) -> None:
        """Let other tasks run; while an urgent section runs, wait for it to end."""
        if self._running:
            await self._clear.wait()
        else:
            await asyncio.sleep(0)
