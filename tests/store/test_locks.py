"""PostgreSQL: device rows written by many transactions at once, without deadlocks; and a
deadlock, should one happen, is tried again rather than dropping what it wrote."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError

from monitor.config import Config
from monitor.ingest.directory import DeviceDirectory
from monitor.ingest.pipeline import Activity, Pipeline, is_operational
from monitor.metrics import Metrics
from monitor.store.db import Database
from monitor.store.models import Device
from tests.fixtures.factories import MakeElder

METERS = [f"wm-{i:04d}" for i in range(400)]


@pytest.fixture
async def pg(postgres_url: str, make_elder: MakeElder) -> AsyncIterator[Database]:
    db = Database(postgres_url)
    await db.migrate()
    await make_elder(db, devices=dict.fromkeys(METERS, "water_meter"))
    yield db
    await db.close()


async def test_a_lost_deadlock_counts_as_worth_another_try(pg: Database) -> None:
    took: dict[str, asyncio.Event] = {d: asyncio.Event() for d in METERS[:2]}

    async def cross(first: str, second: str) -> None:
        async with pg.transaction() as session:
            await session.execute(update(Device).where(Device.id == first).values(signal_dbm=-1))
            took[first].set()
            await took[second].wait()
            await session.execute(update(Device).where(Device.id == second).values(signal_dbm=-2))

    outcomes = await asyncio.gather(cross(METERS[0], METERS[1]), cross(METERS[1], METERS[0]),
                                    return_exceptions=True)

    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert len(errors) == 1, outcomes  # PostgreSQL broke the cycle by failing one of the two
    assert is_operational(errors[0])


async def test_device_activity_takes_its_rows_in_id_order(pg: Database) -> None:
    """Signs of life (rules/activity.py) update device rows in id order; device activity,
    arriving newest device first, took them in that order and so deadlocked with it."""
    pipeline = Pipeline(Config(), pg, DeviceDirectory(pg), Metrics())
    at = datetime.now(UTC).replace(microsecond=0)
    part = [(d, Activity(last_seen_at=at, battery_pct=80.0)) for d in reversed(METERS)]
    first = select(Device.id).where(Device.id == METERS[0]).with_for_update(nowait=True)

    async def first_row_taken() -> bool:
        async with pg.sessions() as probe:
            try:
                await probe.execute(first)
            except DBAPIError:  # lock not available
                return True
            return False

    async with pg.transaction() as holder:  # another writer holds the last row
        await holder.execute(update(Device).where(Device.id == METERS[-1]).values(signal_dbm=-1))
        writing = asyncio.create_task(pipeline._write_activity(part))
        for _ in range(200):  # the writer, waiting for the last row, holds the first
            if await first_row_taken():
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("device activity did not take the rows in id order")
        assert not writing.done()
    await writing
    async with pg.sessions() as session:
        seen = (await session.execute(select(Device.last_seen_at))).scalars().all()
    assert len(seen) == len(METERS) and all(seen)


async def test_the_reading_rules_hold_a_wearables_row_while_they_read_its_window(
    pg: Database, make_elder: MakeElder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two daemons with readings of one wearable must take turns at its vital-sign window,
    or each merges its readings into what it read and the later commit drops the other's."""
    from monitor.rules import engine as engine_module
    from monitor.rules.engine import RuleEngine
    from monitor.telemetry.reading import Reading

    await make_elder(pg, "E2", devices={"wb-1": "wearable"})
    now = datetime.now(UTC)
    async with pg.transaction() as session:  # clocks set: signs of life leave the row alone
        await session.execute(update(Device).where(Device.id == "wb-1").values(
            last_active_at=now, last_idle_at=now))
    reading = Reading("wb-1", "wearable", "E2", now, {"heart_rate": 72.0})
    inside, release = asyncio.Event(), asyncio.Event()
    original = engine_module.check_vitals

    async def paused(*args: object, **kwargs: object) -> object:
        inside.set()
        await release.wait()
        return await original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(engine_module, "check_vitals", paused)
    engine = RuleEngine(pg, Config())

    async def rules() -> None:
        async with pg.transaction() as session:
            await engine.on_readings(session, [reading], {})

    running = asyncio.create_task(rules())
    await asyncio.wait_for(inside.wait(), 10)
    probe = select(Device.id).where(Device.id == "wb-1").with_for_update(nowait=True)
    async with pg.sessions() as other:
        with pytest.raises(DBAPIError):  # lock not available
            await other.execute(probe)
    release.set()
    await running
