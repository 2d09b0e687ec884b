"""Usage per hour from cumulative registers, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from monitor.store.db import Database
from monitor.store.models import HourlyUsage, RegisterReading
from monitor.telemetry.reading import Reading
from monitor.telemetry.usage import record_usage, usage_series

DAY = datetime(2026, 12, 3, tzinfo=UTC)
H = timedelta(hours=1)


def water(ts: datetime, total: float, device: str = "wm-1", elder: str = "E1") -> Reading:
    return Reading(device, "water_meter", elder, ts, {"total_m3": total, "flow_lpm": 0.0})


async def record(db: Database, readings: list[Reading]) -> None:
    async with db.transaction() as session:
        await record_usage(session, readings)


async def hours(db: Database, device: str = "wm-1") -> dict[datetime, tuple[float, int, bool]]:
    async with db.sessions() as session:
        rows = (await session.execute(
            select(HourlyUsage).where(HourlyUsage.device_id == device)
            .order_by(HourlyUsage.hour)
        )).scalars().all()
    return {r.hour: (r.value, r.readings, r.flagged) for r in rows}


def day_of_hourly_readings() -> tuple[list[Reading], list[float]]:
    """25 readings on the hour, 00:00 to 24:00, and the 24 hourly deltas between them."""
    deltas = [round(0.01 * ((h * 7) % 5), 3) for h in range(24)]
    totals = [100.0]
    for delta in deltas:
        totals.append(totals[-1] + delta)
    return [water(DAY + h * H, totals[h]) for h in range(25)], deltas


async def test_a_late_day_in_one_batch_out_of_order(db: Database) -> None:
    readings, deltas = day_of_hourly_readings()
    shuffled = readings[:]
    random.Random(3).shuffle(shuffled)
    await record(db, shuffled)
    got = await hours(db)
    assert [got[DAY + h * H][0] for h in range(24)] == pytest.approx(deltas, abs=1e-9)
    assert not any(flagged for _, _, flagged in got.values())
    assert got[DAY][1] == 1 and got[DAY + 24 * H] == (0.0, 1, False)


async def test_arrival_order_does_not_change_the_result(db: Database) -> None:
    readings, _ = day_of_hourly_readings()
    await record(db, readings)
    expected = await hours(db)
    for seed in (1, 2):
        async with db.transaction() as session:
            await session.execute(RegisterReading.__table__.delete())
            await session.execute(HourlyUsage.__table__.delete())
        order = readings[:]
        random.Random(seed).shuffle(order)
        for i in range(0, len(order), 4):  # small batches, in a random order
            await record(db, order[i : i + 4])
        await record(db, order[:5])  # and some again: idempotent
        got = await hours(db)
        assert got.keys() == expected.keys()
        for hour, (value, count, flagged) in expected.items():
            assert got[hour][0] == pytest.approx(value, abs=1e-9)
            assert got[hour][1:] == (count, flagged)


async def test_an_interval_is_spread_over_the_hours_it_spans(db: Database) -> None:
    # 08:30 -> 14:30 (a gap of six hours), 0.6 m3: 0.05, 0.1 x5, 0.05.
    await record(db, [water(DAY + 8.5 * H, 10.0), water(DAY + 14.5 * H, 10.6)])
    got = await hours(db)
    assert [got[DAY + h * H][0] for h in range(8, 15)] == pytest.approx(
        [0.05, 0.1, 0.1, 0.1, 0.1, 0.1, 0.05])
    assert got[DAY + 8 * H][1] == 1 and got[DAY + 10 * H][1] == 0
    # A late reading in the gap reshapes it; the total stays the register's delta.
    await record(db, [water(DAY + 9.5 * H, 10.5)])
    got = await hours(db)
    assert got[DAY + 8 * H][0] == pytest.approx(0.25)
    assert got[DAY + 9 * H][0] == pytest.approx(0.25 + 0.01)  # + half an hour of 0.02/h
    assert sum(v for v, _, _ in got.values()) == pytest.approx(0.6)


async def test_a_meter_replaced_mid_day(db: Database) -> None:
    old = [water(DAY + h * H, 500.0 + 0.1 * h) for h in range(13)]  # 00:00..12:00
    new = [water(DAY + h * H, 0.02 + 0.1 * (h - 13)) for h in range(13, 25)]  # from 13:00
    await record(db, old + new)
    got = await hours(db)
    assert got[DAY + 12 * H] == (0.0, 1, True)  # the drop: flagged, not counted
    for h in list(range(12)) + list(range(13, 24)):
        assert got[DAY + h * H][0] == pytest.approx(0.1)
        assert not got[DAY + h * H][2]
    async with db.sessions() as session:
        series = await usage_series(session, "E1", "water_m3", DAY, DAY + 24 * H, 1)
    assert series == [(DAY, pytest.approx(2.3))]


async def test_an_absurd_jump_is_flagged_not_counted(db: Database) -> None:
    readings = [water(DAY + h * H, 10.0 + 0.1 * h) for h in range(6)]
    readings[3] = water(DAY + 3 * H, 99_999.0)  # a misread register, then back to normal
    readings.append(water(DAY + 6 * H, 99_999.0 + 0.1))  # or a jump that stays
    await record(db, readings)
    got = await hours(db)
    assert got[DAY + 2 * H] == (0.0, 1, True)  # 10.2 -> 99999
    assert got[DAY + 3 * H] == (0.0, 1, True)  # 99999 -> 10.4: a drop
    assert got[DAY + 5 * H] == (0.0, 1, True)  # 10.5 -> 99999.1
    assert [got[DAY + h * H][0] for h in (0, 1, 4)] == pytest.approx([0.1, 0.1, 0.1])


async def test_steps_are_cumulative_for_the_local_day(db: Database) -> None:
    # Local midnight in Shanghai is 16:00 UTC. Readings at 14:00, 15:00 local-yesterday, then
    # 17:30 UTC (01:30 local): 900 steps since midnight, spread over 16:00-17:30.
    def steps(ts: datetime, value: int) -> Reading:
        return Reading("w-1", "wearable", "E1", ts, {"steps": value, "heart_rate": 70})

    await record(db, [steps(DAY + 14 * H, 5000), steps(DAY + 15 * H, 5600),
                      steps(DAY + 17.5 * H, 900), steps(DAY + 18 * H, 1000)])
    got = await hours(db, "w-1")
    assert got[DAY + 14 * H][0] == 600
    assert DAY + 15 * H not in got or got[DAY + 15 * H][0] == 0  # after the last, unknown
    assert got[DAY + 16 * H][0] == pytest.approx(600)
    assert got[DAY + 17 * H][0] == pytest.approx(300 + 100)
    assert not any(flagged for _, _, flagged in got.values())


async def test_motion_counts_active_readings(db: Database) -> None:
    def motion(minutes: int, **fields: bool) -> Reading:
        return Reading("ms-1", "motion_sensor", "E1", DAY + timedelta(minutes=minutes), fields)

    batch = [motion(5, motion=True), motion(10, motion=False), motion(20, door_open=True),
             motion(70, motion=True), motion(75, door_open=False)]
    await record(db, batch)
    await record(db, batch[:2])  # a resent reading is not counted twice
    got = await hours(db, "ms-1")
    assert got[DAY] == (2.0, 3, False)
    assert got[DAY + H] == (1.0, 2, False)


async def test_usage_series_sums_devices_and_downsamples(db: Database) -> None:
    for device in ("wm-1", "wm-2"):
        await record(db, [water(DAY + h * H, 1.0 + 0.1 * h, device) for h in range(49)])
    await record(db, [water(DAY + h * H, 0.5 * h, "wm-9", "E2") for h in range(49)])
    async with db.sessions() as session:
        hourly = await usage_series(session, "E1", "water_m3", DAY, DAY + 48 * H, 100)
        daily = await usage_series(session, "E1", "water_m3", DAY, DAY + 48 * H, 2)
        few = await usage_series(session, "E1", "water_m3", DAY, DAY + 48 * H, 5)
        power = await usage_series(session, "E1", "power_kwh", DAY, DAY + 48 * H, 5)
    assert len(hourly) == 48 and hourly[0] == (DAY, pytest.approx(0.2))
    assert daily == [(DAY, pytest.approx(4.8)), (DAY + 24 * H, pytest.approx(4.8))]
    assert len(few) == 5 and few[1][0] == DAY + 10 * H
    assert power == []


async def test_batches_over_many_devices_match_the_per_device_path(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Meters, wearables and motion sensors of several elders, with gaps longer than the
    # batched path's lookback, recorded in shuffled batches: the hours must be those the
    # per-device queries give, and most devices must have taken the batched path.
    from monitor.telemetry import usage

    rng = random.Random(7)
    readings: list[Reading] = []
    for d in range(12):
        kind = ("water_meter", "power_meter", "wearable", "motion_sensor")[d % 4]
        total, moment = 50.0 * d, DAY + timedelta(minutes=7 * d)
        for _ in range(40):
            moment += timedelta(minutes=rng.choice([5, 10, 20, 180]))
            total += rng.random() * 0.2
            fields: dict[str, float | int | bool] = {
                "water_meter": {"total_m3": round(total, 3)},
                "power_meter": {"total_kwh": round(total, 3)},
                "wearable": {"steps": int(total * 100)},
                "motion_sensor": {"motion": rng.random() < 0.5},
            }[kind]
            readings.append(Reading(f"dev-{d}", kind, f"E{d // 3}", moment, fields))
    rng.shuffle(readings)
    slow_calls = 0
    original = usage._Stored.neighbour

    async def counted(self: object, *args: object) -> object:
        nonlocal slow_calls
        slow_calls += 1
        return await original(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(usage._Stored, "neighbour", counted)
    for i in range(0, len(readings), 60):
        await record(db, readings[i : i + 60])
    batched = {d: await hours(db, f"dev-{d}") for d in range(12)}
    batched_slow = slow_calls

    async with db.transaction() as session:
        await session.execute(RegisterReading.__table__.delete())
        await session.execute(HourlyUsage.__table__.delete())

    class Unknown:
        async def neighbour(self, *_: object) -> None:
            raise usage.NotNearby

        async def between(self, *_: object) -> None:
            raise usage.NotNearby

    async def nothing_nearby(session: object, device_ids: list[str],
                             floor: datetime) -> dict[str, object]:
        return {d: Unknown() for d in device_ids}

    monkeypatch.setattr(usage, "_nearby", nothing_nearby)
    for i in range(0, len(readings), 60):
        await record(db, readings[i : i + 60])
    for d in range(12):
        got = await hours(db, f"dev-{d}")
        assert got.keys() == batched[d].keys()
        for hour, (value, count, flagged) in got.items():
            assert batched[d][hour][0] == pytest.approx(value, abs=1e-9)
            assert batched[d][hour][1:] == (count, flagged)
    assert batched_slow < (slow_calls - batched_slow) / 2


async def test_readings_in_order_are_added_to_their_hours_as_the_recomputation_makes_them(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Mostly in order, a few late or sent twice, over local midnight (steps start again),
    # with drops and absurd jumps: batch by batch the hours must be those of recomputing
    # every reading at once, and the readings in order must have been added, not recomputed.
    from monitor.telemetry import usage

    appended = 0
    original = usage._append

    def counted(out: object, device_id: str, metric: str, elder_id: str | None,
                last: object, points: list[object]) -> datetime:
        nonlocal appended
        appended += len(points)
        return original(out, device_id, metric, elder_id, last, points)  # type: ignore[arg-type]

    monkeypatch.setattr(usage, "_append", counted)
    rng = random.Random(11)
    readings: list[Reading] = []
    for d, kind in enumerate(("water_meter", "power_meter", "wearable", "motion_sensor")):
        total, moment = 10.0 * d, DAY + timedelta(hours=14, minutes=3 * d)  # 22:00 Beijing
        for _ in range(60):
            moment += timedelta(minutes=rng.choice([1, 7, 30, 95]))
            total += rng.choice([0.0, 0.01, 0.2, 0.5, -0.3, 80.0])  # drops, absurd jumps
            total = max(total, 0.0)
            fields: dict[str, float | int | bool] = {
                "water_meter": {"total_m3": round(total, 3)},
                "power_meter": {"total_kwh": round(total, 3)},
                "wearable": {"steps": int(total * 100)},
                "motion_sensor": {"motion": rng.random() < 0.5},
            }[kind]
            readings.append(Reading(f"dev-{d}", kind, "E1", moment, fields))
    readings.sort(key=lambda r: r.ts)
    arrival = readings[:]
    for _ in range(12):  # some arrive late, some twice
        i = rng.randrange(len(arrival) - 10)
        arrival.insert(i + rng.randrange(2, 10), arrival[i] if rng.random() < 0.3
                       else arrival.pop(i))
    i = 0
    while i < len(arrival):
        size = rng.choice([1, 3, 8])
        await record(db, arrival[i : i + size])
        i += size
    added = {d: await hours(db, f"dev-{d}") for d in range(4)}

    async with db.transaction() as session:
        await session.execute(RegisterReading.__table__.delete())
        await session.execute(HourlyUsage.__table__.delete())
    await record(db, readings)  # all at once: nothing stored before, all recomputed
    for d in range(4):
        got = await hours(db, f"dev-{d}")
        assert got.keys() == added[d].keys()
        for hour, (value, count, flagged) in got.items():
            assert added[d][hour][0] == pytest.approx(value, abs=1e-9)
            assert added[d][hour][1:] == (count, flagged)
    assert appended > len(readings) / 2
