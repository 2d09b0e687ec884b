"""SQLite's one writer: alarms and people go before waiting background work, none is lost."""

from __future__ import annotations

import asyncio

import pytest

from monitor.store.db import WriterQueue


async def test_waiting_urgent_work_goes_before_waiting_background_work() -> None:
    queue = WriterQueue()
    order: list[str] = []
    release = asyncio.Event()

    async def write(name: str, background: bool, hold: asyncio.Event | None = None) -> None:
        async with queue.turn(background):
            order.append(name)
            if hold is not None:
                await hold.wait()

    first = asyncio.create_task(write("usage 1", True, release))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(write(name, background))
               for name, background in [("usage 2", True), ("sos", False), ("usage 3", True),
                                         ("escalation", False)]]
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(first, *waiting)
    assert order == ["usage 1", "sos", "escalation", "usage 2", "usage 3"]


async def test_a_cancelled_waiter_neither_writes_nor_blocks_the_next() -> None:
    queue = WriterQueue()
    release = asyncio.Event()
    done: list[str] = []

    async def write(name: str, hold: asyncio.Event | None = None) -> None:
        async with queue.turn():
            if hold is not None:
                await hold.wait()
            done.append(name)

    holder = asyncio.create_task(write("holder", release))
    await asyncio.sleep(0)
    cancelled = asyncio.create_task(write("cancelled"))
    after = asyncio.create_task(write("after"))
    await asyncio.sleep(0)
    cancelled.cancel()
    release.set()
    await asyncio.wait_for(asyncio.gather(holder, after), 2)
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert done == ["holder", "after"]
    async with asyncio.timeout(1), queue.turn():  # free again
        pass
