"""Sustained vital signs on event time; two engines sharing one wearable's readings."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime
from pathlib import Path

from monitor.rules.vitals import merged, sustained_runs
from monitor.store.db import Database
from tests.fixtures.factories import MakeElder
from tests.rules.common import MIN, T0, Home, kinds


def _hr(at: datetime, bpm: float, spo2: float = 97) -> dict[str, object]:
    return {"ts": int(at.timestamp() * 1000), "heart_rate": bpm, "spo2": spo2}


def test_a_run_must_last_and_hold_together() -> None:
    low = lambda v: v < 40  # noqa: E731
    five, gap = 5 * MIN, 15 * MIN
    assert sustained_runs([(0, 35), (240, 36)], low, five, gap) == []  # 4 minutes
    assert sustained_runs([(0, 35), (300, 38)], low, five, gap) == [(0, 300, 35, 38)]
    assert sustained_runs([(0, 35), (120, 70), (300, 35)], low, five, gap) == []  # broken
    assert sustained_runs([(0, 35), (1200, 35)], low, five, gap) == []  # 20 min apart


def test_a_window_merges_a_batch_in_order_or_late_as_a_merge_by_time_would() -> None:
    rng = random.Random(5)
    appended = 0
    for _ in range(500):
        kept = [[float(t), float(rng.randint(30, 130))]
                for t in sorted(rng.sample(range(0, 3600, 60), rng.randint(0, 8)))]
        late = kept and rng.random() < 0.4
        times = rng.sample(range(0, 3600, 60), 3) if late else [
            (kept[-1][0] if kept else 0) + 60 * k for k in rng.sample(range(1, 6), 3)]
        fresh = {float(t): float(rng.randint(30, 130)) for t in times[: rng.randint(0, 3)]}
        floor = float(rng.choice([0, 600, 1800, 3000]))
        expected = sorted({**{t: v for t, v in kept}, **fresh}.items())
        assert merged(kept, fresh, floor) == [[t, v] for t, v in expected if t >= floor]
        appended += bool(fresh) and not late
    assert appended > 100


async def test_heart_rate_out_of_range_for_five_minutes(
    sqlite_db: Database, make_elder: MakeElder
) -> None:
    await make_elder(sqlite_db, "E1", devices={"wb-1": "wearable"})
    home = await Home(sqlite_db).start()
    await home.send("wb-1", "telemetry", _hr(T0, 150))  # one odd reading: nothing
    await home.send("wb-1", "telemetry", _hr(T0 + 2 * MIN, 72))
    assert await home.alarms() == []
    # Late and out of order: the newest first, then the two before it.
    await home.send("wb-1", "telemetry", _hr(T0 + 16 * MIN, 34))
    assert await home.alarms() == []
    await home.send("wb-1", "telemetry", [_hr(T0 + 10 * MIN, 36), _hr(T0 + 13 * MIN, 35)])
    alarms = await home.alarms()
    assert kinds(alarms) == ["heart_rate"]
    assert alarms[0].opened_at == T0 + 16 * MIN  # sustained from 10 to 16 minutes
    assert alarms[0].details["lowest"] == 34 and alarms[0].severity == "critical"


async def test_a_reading_older_than_the_kept_hour_changes_nothing(
    sqlite_db: Database, make_elder: MakeElder
) -> None:
    await make_elder(sqlite_db, "E1", devices={"wb-1": "wearable"})
    home = await Home(sqlite_db).start()
    await home.send("wb-1", "telemetry", [_hr(T0 + 120 * MIN, 72), _hr(T0 + 122 * MIN, 150)])
    await home.send("wb-1", "telemetry", [_hr(T0, 150), _hr(T0 + 6 * MIN, 150)])  # 2 h late
    assert await home.alarms() == []
    await home.send("wb-1", "telemetry", _hr(T0 + 128 * MIN, 151))  # now it lasts 6 minutes
    assert kinds(await home.alarms()) == ["heart_rate"]


async def test_spo2_threshold_from_the_rules_file(
    sqlite_db: Database, make_elder: MakeElder, tmp_path: Path
) -> None:
    await make_elder(sqlite_db, "E1", devices={"wb-1": "wearable"})
    home = await Home(sqlite_db, "vitals: {spo2_low: 92, sustain_min: 3}\n", tmp_path).start()
    await home.send("wb-1", "telemetry", [_hr(T0, 80, 91), _hr(T0 + 3 * MIN, 80, 91)])
    assert kinds(await home.alarms()) == ["spo2_low"]


async def test_recovery_clears_after_the_hysteresis(
    sqlite_db: Database, make_elder: MakeElder, tmp_path: Path
) -> None:
    await make_elder(sqlite_db, "E1", devices={"wb-1": "wearable"})
    home = await Home(sqlite_db, "hysteresis_min: 30\n", tmp_path).start()
    await home.send("wb-1", "telemetry", [_hr(T0, 140), _hr(T0 + 6 * MIN, 141)])
    await home.send("wb-1", "telemetry", _hr(T0 + 10 * MIN, 80))
    alarm = (await home.alarms())[0]
    assert "condition_cleared" not in await home.events(alarm.id)
    await home.send("wb-1", "telemetry", _hr(T0 + 45 * MIN, 78))
    events = await home.events(alarm.id)
    assert "condition_cleared" in events
    # The elder's alarm is marked, not closed: a person still calls back.
    assert (await home.alarms())[0].state == "open"


async def test_two_engines_sharing_one_wearable_raise_one_alarm(
    postgres_url: str, make_elder: MakeElder
) -> None:
    # Two daemons on a shared subscription: each gets every other reading of the wearable.
    first, second = Database(postgres_url), Database(postgres_url)
    await first.migrate()
    await make_elder(first, "E1", devices={"wb-1": "wearable"})
    try:
        a, b = await Home(first).start(), await Home(second).start()
        readings = [_hr(T0 + i * 2 * MIN, 30 + i) for i in range(4)]  # 0, 2, 4, 6 minutes

        async def feed(home: Home, mine: list[dict[str, object]]) -> None:
            for reading in mine:
                await home.send("wb-1", "telemetry", reading)

        await asyncio.gather(feed(a, readings[0::2]), feed(b, readings[1::2]))
        alarms = await a.alarms()
        # Each engine saw only 4 minutes of it; the shared state saw 6: one alarm, once.
        assert kinds(alarms) == ["heart_rate"]
        assert alarms[0].opened_at == T0 + 6 * MIN
        assert alarms[0].details["occurrences"] == 1
    finally:
        await first.close()
        await second.close()
