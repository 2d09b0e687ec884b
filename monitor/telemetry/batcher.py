"""Collect items in memory and hand them on in batches: by size, or when the oldest is old."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")

# ship(batch) stores a batch and returns what it could not store (kept for the next round).
Ship = Callable[[list[T]], Awaitable[list[T]]]


class Batcher(Generic[T]):
    """A buffer, a background task that empties it, and a lock so one batch moves at a time."""

    def __init__(
        self,
        ship: Ship[T],
        *,
        batch_size: int,
        interval_s: float,
        max_pending: int,
        overflow: Callable[[list[T]], None],
        idle: Callable[[], Awaitable[None]] | None = None,
        name: str = "telemetry",
    ) -> None:
        self._ship = ship
        self.batch_size = batch_size
        self.interval_s = interval_s
        self.max_pending = max(max_pending, batch_size)
        self._overflow = overflow
        self._idle = idle
        self._name = name
        self._items: list[T] = []
        self._oldest = 0.0
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def pending(self) -> int:
        return len(self._items)

    def add(self, items: Iterable[T]) -> None:
        """Buffer items; past `max_pending` the oldest whole batches go to `overflow`."""
        if not self._items:
            self._oldest = time.monotonic()
        self._items.extend(items)
        if len(self._items) >= self.batch_size:
            self._wake.set()
        while len(self._items) > self.max_pending:
            spill, self._items = self._items[: self.batch_size], self._items[self.batch_size :]
            self._overflow(spill)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"{self._name} batcher")

    async def _run(self) -> None:
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval_s)
            self._wake.clear()
            if self._closing:
                break
            try:
                async with self._lock:
                    due = time.monotonic() - self._oldest >= self.interval_s
                    await self._send(everything=due)
                    if self._idle is not None:
                        await self._idle()
            except Exception:  # the loop must survive anything a backend does
                logger.exception("%s batcher round failed; will try again", self._name)

    async def _send(self, everything: bool) -> None:
        while len(self._items) >= self.batch_size or (everything and self._items):
            batch, self._items = self._items[: self.batch_size], self._items[self.batch_size :]
            left = await self._ship(batch)
            if left:
                self._items[:0] = left
                break
        if self._items:
            self._oldest = time.monotonic()

    async def flush(self) -> None:
        """Hand on everything buffered now."""
        async with self._lock:
            await self._send(everything=True)

    async def close(self) -> None:
        """Let the background task finish its round (never cut a batch in half), then flush."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        await self.flush()
