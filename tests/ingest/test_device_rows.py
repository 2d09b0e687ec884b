"""What devices said lately reaches their rows: last seen only forward, the rest as said."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from monitor.config import Config
from monitor.ingest.directory import DeviceDirectory
from monitor.ingest.pipeline import Activity, Pipeline
from monitor.metrics import Metrics
from monitor.store.db import Database
from monitor.store.models import Device
from tests.fixtures.factories import MakeElder

T = datetime(2026, 12, 4, 8, tzinfo=UTC)


async def rows(db: Database) -> dict[str, tuple[datetime | None, float | None, object]]:
    async with db.sessions() as session:
        found = await session.execute(
            select(Device.id, Device.last_seen_at, Device.battery_pct, Device.last_reading))
        return {d: (seen, battery, reading) for d, seen, battery, reading in found.all()}


async def test_last_seen_moves_only_forward_while_the_rest_is_written(
    db: Database, make_elder: MakeElder
) -> None:
    await make_elder(db, devices={"wm-1": "water_meter", "wm-2": "water_meter",
                                  "btn-1": "call_button"})
    pipeline = Pipeline(Config(), db, DeviceDirectory(db), Metrics())
    await pipeline._write_activity([
        ("wm-1", Activity(T, battery_pct=80.0)),
        ("wm-2", Activity(T, last_reading={"total_m3": 1.0})),
        ("btn-1", Activity(T))])
    await pipeline._write_activity([  # older news of each, with something new to say
        ("wm-1", Activity(T - timedelta(minutes=5), battery_pct=79.0)),
        ("wm-2", Activity(T - timedelta(minutes=5), last_reading={"total_m3": 0.9})),
        ("btn-1", Activity(T - timedelta(minutes=5)))])
    assert await rows(db) == {"wm-1": (T, 79.0, None), "wm-2": (T, None, {"total_m3": 0.9}),
                              "btn-1": (T, None, None)}
    later = T + timedelta(minutes=5)
    await pipeline._write_activity([("wm-1", Activity(later)), ("btn-1", Activity(later)),
                                    ("wm-2", Activity(later, battery_pct=50.0))])
    assert await rows(db) == {"wm-1": (later, 79.0, None),
                              "wm-2": (later, 50.0, {"total_m3": 0.9}),
                              "btn-1": (later, None, None)}
