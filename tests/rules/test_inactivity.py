"""Inactivity: zero use versus an offline meter, quiet hours, festivals, overrides, absences."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from monitor.rules.inactivity import waking_end
from monitor.rules.settings import QuietHours
from monitor.store.db import Database
from monitor.store.models import Absence
from tests.fixtures.factories import MakeElder
from tests.rules.common import HOUR, MIN, T0, Home, kinds, utc


async def _used_then_idle(home: Home, device: str, idle_until: timedelta,
                          batch: bool = False, reverse: bool = False) -> None:
    """20 L an hour until T0, then a meter that keeps reporting with no water drawn."""
    rows = []
    register = 100.0
    moment = T0 - 2 * HOUR
    while moment <= T0 + idle_until:
        rows.append({"ts": int(moment.timestamp() * 1000), "total_m3": round(register, 3)})
        if moment < T0:
            register += 0.005
        moment += 15 * MIN
    if batch:
        await home.send(device, "telemetry", rows)
        return
    if reverse:  # the first hour in order, then the rest late and newest first
        for row in rows[:4]:
            await home.send(device, "telemetry", row)
        rows = rows[:3:-1]
    for row in rows:
        await home.send(device, "telemetry", row)


async def test_a_meter_reporting_zero_use_alarms_and_a_silent_one_is_offline(
    db: Database, make_elder: MakeElder
) -> None:
    await make_elder(db, "E1", categories=["空巢"], devices={"wm-1": "water_meter"})
    await make_elder(db, "E2", categories=["空巢"], devices={"wm-2": "water_meter"})
    home = await Home(db).start()
    await _used_then_idle(home, "wm-1", 13 * HOUR, batch=True)
    await home.meter("wm-2", T0 - 2 * HOUR, T0, 5.0, batch=True)  # then nothing at all

    assert kinds(await home.sweep(T0 + 2 * HOUR)) == []
    assert kinds(await home.sweep(T0 + 11 * HOUR)) == ["device_offline"]
    offline = (await home.alarms("device_offline"))[0]
    assert offline.elder_id == "E2" and offline.opened_at == T0 + 3 * HOUR
    opened = await home.sweep(T0 + 13 * HOUR)
    assert kinds(opened) == ["no_water"]
    assert opened[0].elder_id == "E1"
    assert opened[0].opened_at == T0 + 12 * HOUR  # 12 waking hours after the last use
    assert opened[0].details["water_m3"] == 0
    assert [a.elder_id for a in await home.alarms("no_water")] == ["E1"]  # never the silent one
    assert kinds(await home.sweep(T0 + 13 * HOUR + 15 * MIN)) == []  # one alarm, not one a sweep
    assert (await home.alarms("no_water"))[0].details["occurrences"] == 1


async def test_late_out_of_order_readings_give_the_same_alarm(
    sqlite_db: Database, make_elder: MakeElder
) -> None:
    await make_elder(sqlite_db, "E1", categories=["空巢"], devices={"wm-1": "water_meter"})
    home = await Home(sqlite_db).start()
    await _used_then_idle(home, "wm-1", 13 * HOUR, reverse=True)
    opened = await home.sweep(T0 + 13 * HOUR)
    assert kinds(opened) == ["no_water"] and opened[0].opened_at == T0 + 12 * HOUR


async def test_a_meter_uploading_late_is_judged_up_to_its_newest_reading(
    sqlite_db: Database, make_elder: MakeElder
) -> None:
    # An NB-IoT meter: statuses come live, readings in a batch every few hours. Until the
    # batch arrives, hours without data are not hours without water.
    await make_elder(sqlite_db, "E1", categories=["空巢"], devices={"wm-1": "water_meter"})
    home = await Home(sqlite_db).start()
    await home.meter("wm-1", T0 - 2 * HOUR, T0, 5.0, batch=True)
    await home.status("wm-1", T0 + 13 * HOUR)
    assert kinds(await home.sweep(T0 + 13 * HOUR)) == []
    await home.meter("wm-1", T0 + 15 * MIN, T0 + 13 * HOUR, 0.0, register=100.04, batch=True)
    assert kinds(await home.sweep(T0 + 13 * HOUR + MIN)) == ["no_water"]


async def test_quiet_hours_do_not_count() -> None:
    quiet = QuietHours()
    evening = utc(2026, 12, 1, 12)  # 20:00 local
    # 12 waking hours from 20:00: 2 h before 22:00, then 10 h from 06:00: 16:00 local next day.
    assert waking_end(quiet, evening, 12 * HOUR) == utc(2026, 12, 2, 8)
    assert quiet.contains(utc(2026, 12, 1, 15)) and not quiet.contains(utc(2026, 12, 1, 23))


async def test_night_silence_is_no_alarm(sqlite_db: Database, make_elder: MakeElder) -> None:
    await make_elder(sqlite_db, "E1", categories=["独居"],
                     devices={"wm-1": "water_meter", "ms-1": "motion_sensor"})
    home = await Home(sqlite_db).start()
    evening = utc(2026, 12, 1, 13, 30)  # 21:30 local, then to bed
    await home.meter("wm-1", evening - HOUR, evening, 5.0, batch=True)
    await home.meter("wm-1", evening + 15 * MIN, utc(2026, 12, 1, 23), 0.0, register=100.02,
                     batch=True)
    await home.send("ms-1", "telemetry", {"ts": int(evening.timestamp() * 1000), "motion": True})
    await home.status("ms-1", utc(2026, 12, 1, 23))
    # 07:00 local: nine hours of silence, but only one of them awake.
    assert kinds(await home.sweep(utc(2026, 12, 1, 23))) == []


SHIPPED = Path(__file__).parents[2] / "config" / "rules.yaml"
FESTIVAL = "calendar:\n  - {date: 2026-12-01, kind: festival, name: 测试节}\n"


async def test_a_festival_day_tightens_the_threshold(
    sqlite_db: Database, make_elder: MakeElder, tmp_path: Path
) -> None:
    await make_elder(sqlite_db, "E1", categories=["空巢"], devices={"wm-1": "water_meter"})
    home = await Home(sqlite_db, FESTIVAL, tmp_path).start()
    await _used_then_idle(home, "wm-1", 10 * HOUR, batch=True)
    opened = await home.sweep(T0 + 10 * HOUR)
    assert kinds(opened) == ["no_water"]
    assert opened[0].opened_at == T0 + 9 * HOUR  # 12 h x 0.75
    assert opened[0].details["threshold_hours"] == 9


async def test_category_and_elder_overrides(
    sqlite_db: Database, make_elder: MakeElder, tmp_path: Path
) -> None:
    rules = ("categories:\n  独居: {inactivity: {water_hours: 8}}\n"
             "  空巢: {inactivity: {water_hours: 10}}\n"
             "elders:\n  E3: {inactivity: {water_hours: 4}}\n")
    for elder, cats in (("E1", ["独居", "空巢"]), ("E2", ["空巢"]), ("E3", ["独居"])):
        await make_elder(sqlite_db, elder, categories=cats, devices={f"wm-{elder}": "water_meter"})
    home = await Home(sqlite_db, rules, tmp_path).start()
    for elder in ("E1", "E2", "E3"):
        await _used_then_idle(home, f"wm-{elder}", 11 * HOUR, batch=True)
    await home.sweep(T0 + 11 * HOUR)
    opened = {a.elder_id: a.opened_at - T0 for a in await home.alarms("no_water")}
    # Both categories: the tighter one wins; the elder's own line beats its category.
    assert opened == {"E1": 8 * HOUR, "E2": 10 * HOUR, "E3": 4 * HOUR}


async def test_an_absence_suppresses_inactivity_and_silence_counts_from_the_return(
    db: Database, make_elder: MakeElder
) -> None:
    await make_elder(db, "E1", categories=["空巢"], devices={"wm-1": "water_meter"})
    async with db.transaction() as session:
        session.add(Absence(elder_id="E1", starts_at=T0 - HOUR, ends_at=T0 + 20 * HOUR,
                            reason="住女儿家"))
    home = await Home(db).start()
    await _used_then_idle(home, "wm-1", 35 * HOUR, batch=True)
    assert kinds(await home.sweep(T0 + 19 * HOUR)) == []  # away
    assert kinds(await home.sweep(T0 + 30 * HOUR)) == []  # back at 04:00: the clock restarted
    opened = await home.sweep(T0 + 35 * HOUR)
    assert kinds(opened) == ["no_water"]
    # From the return (04:00 local, night until 06:00), 12 waking hours: 18:00 local.
    assert opened[0].opened_at == T0 + 34 * HOUR


async def test_no_sign_of_life_from_any_sensor(
    sqlite_db: Database, make_elder: MakeElder, tmp_path: Path
) -> None:
    await make_elder(sqlite_db, "E1", categories=["独居"],
                     devices={"wm-1": "water_meter", "ms-1": "motion_sensor"})
    home = await Home(sqlite_db, SHIPPED.read_text(encoding="utf-8"), tmp_path).start()
    await _used_then_idle(home, "wm-1", 9 * HOUR, batch=True)
    await home.send("ms-1", "telemetry", {"ts": int(T0.timestamp() * 1000), "motion": True})
    for h in range(1, 10):
        await home.status("ms-1", T0 + h * HOUR)
    opened = await home.sweep(T0 + 9 * HOUR)
    assert kinds(opened) == ["no_activity"]  # 独居: 8 waking hours from every sensor
    assert opened[0].severity == "critical" and opened[0].opened_at == T0 + 8 * HOUR
    assert sorted(opened[0].details["devices"]) == ["ms-1", "wm-1"]
