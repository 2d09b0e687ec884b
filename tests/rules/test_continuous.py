"""Continuous use: water in every half hour of a day; more than 2 m3 in a day."""

from __future__ import annotations

from monitor.rules.continuous import dry_slot
from monitor.store.db import Database
from tests.fixtures.factories import MakeElder
from tests.rules.common import HOUR, MIN, T0, Home, kinds


def test_a_dry_half_hour_is_found_between_readings() -> None:
    points = [(T0 + i * 15 * MIN, float(i)) for i in range(9)]
    assert dry_slot(points, T0, T0 + 2 * HOUR, 30 * MIN) is None
    points[4] = (points[4][0], 3.0)
    points[5] = (points[5][0], 3.0)  # nothing drawn from 1:00 to 1:15 only: slots still wet
    assert dry_slot(points, T0, T0 + 2 * HOUR, 30 * MIN) is None
    points[6] = (points[6][0], 3.0)  # nothing from 0:45 to 1:30: the 1:00 slot is dry
    assert dry_slot(points, T0, T0 + 2 * HOUR, 30 * MIN) == T0 + HOUR


async def test_a_tap_left_running_and_a_burst(db: Database, make_elder: MakeElder) -> None:
    await make_elder(db, "E1", devices={"wm-1": "water_meter"})
    await make_elder(db, "E2", devices={"wm-2": "water_meter"})
    home = await Home(db).start()
    for device in ("wm-1", "wm-2"):
        await home.meter(device, T0 - 3 * HOUR, T0, 0.0, batch=True)  # a dry night
    # E1: a dripping tap, 5 litres every quarter hour; E2: 30 litres (a burst pipe).
    await home.meter("wm-1", T0 + 15 * MIN, T0 + 26 * HOUR, 5.0, register=100.005, batch=True)
    await home.meter("wm-2", T0 + 15 * MIN, T0 + 18 * HOUR, 30.0, register=100.03, batch=True)
    high = await home.alarms("water_high")
    assert [a.elder_id for a in high] == ["E2"]  # raised from the readings, at once
    assert high[0].details["water_m3"] > 2
    assert "water_running" not in kinds(await home.sweep(T0 + 23 * HOUR))
    opened = await home.sweep(T0 + 26 * HOUR)
    running = [a for a in opened if a.kind == "water_running"]
    assert [a.elder_id for a in running] == ["E1"]  # E2's readings stopped at 18 h: offline
    assert running[0].opened_at == T0 + 24 * HOUR  # the last dry hour ended at T0
