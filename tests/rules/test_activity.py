"""Signs of life: a meter whose readings were added in order is read back over a short window,
and its clocks come out as if a day had been read back."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from monitor.rules.activity import note_activity
from monitor.store.db import Database
from monitor.store.models import Device
from monitor.telemetry.reading import Reading
from monitor.telemetry.usage import record_usage

START = datetime(2026, 12, 3, 14, tzinfo=UTC)  # 22:00 in Yaohai: steps start again at midnight
LIFE = {"water_m3": 0.001, "power_kwh": 0.2, "steps": 20.0}
KINDS = {"water_meter": "total_m3", "power_meter": "total_kwh", "wearable": "steps"}


def arrivals(rng: random.Random, prefix: str) -> list[list[Reading]]:
    """Two days of readings of three meters, every few minutes with silences of hours, in
    batches as the usage writer gets them; a few arrive late or twice."""
    readings: list[Reading] = []
    for n, (kind, field) in enumerate(KINDS.items()):
        total, moment = 5.0, START + timedelta(minutes=n)
        while moment < START + timedelta(days=2):
            moment += timedelta(minutes=rng.choice([2, 5, 5, 10, 15, 15, 40, 130, 400]))
            total += rng.choice([0.0, 0.0, 0.0004, 0.002, 0.3])
            value: float = int(total * 100) if kind == "wearable" else round(total, 4)
            readings.append(Reading(f"{prefix}-{n}", kind, None, moment, {field: value}))
    readings.sort(key=lambda r: r.ts)
    for _ in range(8):
        i = rng.randrange(len(readings) - 12)
        readings.insert(i + rng.randrange(2, 12), readings[i] if rng.random() < 0.3
                        else readings.pop(i))
    batches, i = [], 0
    while i < len(readings):
        size = rng.choice([1, 2, 6])
        batches.append(readings[i : i + size])
        i += size
    return batches


async def clocks(db: Database, prefix: str) -> list[tuple[datetime | None, datetime | None]]:
    async with db.sessions() as session:
        rows = await session.execute(
            select(Device.last_active_at, Device.last_idle_at)
            .where(Device.id.like(f"{prefix}-%")).order_by(Device.id))
        return [(active, idle) for active, idle in rows.all()]


async def test_clocks_are_the_same_as_when_every_batch_reads_a_day_back(db: Database) -> None:
    for seed in (3, 4):
        short, day = f"short{seed}", f"day{seed}"
        async with db.transaction() as session:
            session.add_all([Device(id=f"{prefix}-{n}", type=kind)
                             for prefix in (short, day) for n, kind in enumerate(KINDS)])
        appended = 0
        for batch in arrivals(random.Random(seed), short):
            async with db.transaction() as session:
                grown = await record_usage(session, batch)
                await note_activity(session, batch, LIFE, grown)
            appended += len(grown)
            mirror = [Reading(r.device_id.replace(short, day), r.device_type, None, r.ts,
                              r.fields) for r in batch]
            async with db.transaction() as session:
                await record_usage(session, mirror)
                await note_activity(session, mirror, LIFE, {})  # as if none had only grown
            assert await clocks(db, short) == await clocks(db, day)
        assert appended > 40
        assert all(active for active, _ in await clocks(db, short))
