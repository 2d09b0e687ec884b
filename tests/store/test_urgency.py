"""Alarms first: bulk work waits for an alarm being committed and, on SQLite, gives the one
writer up to it mid-transaction; what gave way is done again, once, and nothing is lost."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from monitor.store.db import Database, Preempted
from monitor.store.models import Community, HourlyUsage, RegisterReading
from monitor.telemetry.reading import Reading
from monitor.telemetry.usage import Grown
from monitor.telemetry.usage_writer import UsageWriter
from monitor.urgency import Urgency
from tests.fixtures.factories import MakeElder


async def test_bulk_work_steps_aside_while_an_alarm_is_committed() -> None:
    urgency = Urgency()
    order: list[str] = []
    release = asyncio.Event()

    async def alarm() -> None:
        async with urgency.first():
            order.append("sos begins")
            await release.wait()
            order.append("sos committed")

    async def bulk() -> None:
        await urgency.step_aside()
        order.append("bulk goes on")

    sos = asyncio.create_task(alarm())
    await asyncio.sleep(0)
    waiting = asyncio.create_task(bulk())
    for _ in range(5):
        await asyncio.sleep(0)
    assert order == ["sos begins"] and not waiting.done()
    release.set()
    await asyncio.gather(sos, waiting)
    assert order == ["sos begins", "sos committed", "bulk goes on"]


async def test_a_preemptible_transaction_gives_sqlites_writer_up_and_writes_nothing(
    sqlite_db: Database,
) -> None:
    db = sqlite_db
    inside = asyncio.Event()
    release = asyncio.Event()

    async def alarm() -> None:
        async with db.urgency.first():
            inside.set()
            await release.wait()
            async with db.transaction() as session:
                session.add(Community(id="sos", street="街道", name="报警"))

    with pytest.raises(Preempted):
        async with db.transaction(preemptible=True) as session:
            session.add(Community(id="bulk-1", street="街道", name="批量"))
            await session.flush()
            sos = asyncio.create_task(alarm())
            await inside.wait()
            session.add(Community(id="bulk-2", street="街道", name="批量"))
            await session.flush()  # the next statement: the alarm is waiting
    release.set()
    await sos
    async with db.sessions() as session:
        ids = set((await session.execute(select(Community.id))).scalars())
    assert ids == {"sos"}


async def test_postgresql_has_no_single_writer_to_give_up(postgres_url: str) -> None:
    db = Database(postgres_url)
    await db.migrate()
    try:
        # An alarm comes in once the transaction has begun.
        async with db.transaction(preemptible=True) as session, db.urgency.first():
            session.add(Community(id="bulk", street="街道", name="批量"))
            await session.flush()
        async with db.sessions() as session:
            assert await session.get(Community, "bulk") is not None
    finally:
        await db.close()


class AlarmMidway:
    """Reading rules that, in the first usage transaction only, see an SOS come in."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.calls = 0
        self.announced: list[Any] = []
        self.sos: asyncio.Task[None] | None = None

    async def on_readings(self, session: AsyncSession, readings: Sequence[Reading],
                          grown: Grown) -> Any:
        self.calls += 1
        if self.calls == 1:
            entered = asyncio.Event()

            async def alarm() -> None:
                async with self.db.urgency.first():
                    entered.set()
                    await asyncio.sleep(0.01)

            self.sos = asyncio.create_task(alarm())
            await entered.wait()
        await session.execute(select(1))  # a statement of the rules
        return len(readings)

    def announce(self, opened: Any) -> None:
        self.announced.append(opened)


async def test_the_usage_writer_does_a_preempted_transaction_again_exactly_once(
    sqlite_db: Database, make_elder: MakeElder
) -> None:
    meters = {f"wm-{i}": "water_meter" for i in range(3)}
    await make_elder(sqlite_db, devices=meters)
    rules = AlarmMidway(sqlite_db)
    writer = UsageWriter(sqlite_db, rules)
    t0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    readings = [Reading(d, "water_meter", "E0001", t0 + timedelta(minutes=20 * k),
                        {"total_m3": 1.0 + 0.01 * k}) for d in meters for k in range(6)]

    assert await writer._ship(readings) == []

    assert rules.sos is not None and rules.sos.done()
    assert rules.calls == 2  # rolled back once, done again once
    assert rules.announced == [len(readings)]
    async with sqlite_db.sessions() as session:
        stored = (await session.execute(select(func.count()).select_from(RegisterReading)))
        hours = (await session.execute(
            select(func.round(func.sum(HourlyUsage.value), 6)).where(
                HourlyUsage.metric == "water_m3")))
        assert stored.scalar_one() == len(readings)
        assert hours.scalar_one() == pytest.approx(3 * 0.05)
