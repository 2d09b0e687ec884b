"""The elder's own routine: a sharp departure, a night of high power, the weekly drift."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from monitor.rules.routine import drift_report
from monitor.store.db import Database
from monitor.store.models import HourlyUsage
from monitor.visits.weeks import day_start
from tests.fixtures.factories import MakeElder
from tests.rules.common import HOUR, Home

DAY = date(2026, 11, 30)  # the day judged


async def _history(db: Database, device: str, metric: str, per_day: dict[date, float],
                   night_kwh: dict[date, float] | None = None, elder: str = "E1") -> None:
    """Usage spread over the 24 hours of each local day (nights apart for power)."""
    rows = []
    for day, total in per_day.items():
        start = day_start(day)
        for h in range(24):
            value = total / 24
            if night_kwh is not None and h < 6:  # 00:00-06:00 local: the quiet hours' end
                value = night_kwh.get(day, 0.3) / 6
            rows.append(HourlyUsage(device_id=device, metric=metric, hour=start + h * HOUR,
                                    elder_id=elder, value=value, readings=4, flagged=False))
    async with db.transaction() as session:
        session.add_all(rows)


async def test_a_day_with_a_fraction_of_the_usual_use(sqlite_db: Database,
                                                      make_elder: MakeElder) -> None:
    await make_elder(sqlite_db, "E1", devices={"wm-1": "water_meter", "pm-1": "power_meter"})
    await make_elder(sqlite_db, "E2", devices={"pm-2": "power_meter"})
    days = {DAY - timedelta(days=k): 0.12 for k in range(1, 15)}
    days[DAY - timedelta(days=3)] = 0.9  # a big clean-up: the median does not care
    days[DAY] = 0.01
    await _history(sqlite_db, "wm-1", "water_m3", days)
    power = {d: 3.0 for d in days}
    await _history(sqlite_db, "pm-2", "power_kwh", power, night_kwh={DAY: 4.0}, elder="E2")
    power[DAY] = 0.5
    await _history(sqlite_db, "pm-1", "power_kwh", power)
    home = await Home(sqlite_db).start()
    opened = [a for a, _ in await home.engine.daily(day_start(DAY + timedelta(days=1)) + 2 * HOUR)]
    assert sorted((a.kind, a.elder_id) for a in opened) == [
        ("night_power", "E2"), ("routine_departure", "E1")]
    departure = next(a for a in opened if a.kind == "routine_departure")
    assert departure.details["devices"]["wm-1"] == {"total": 0.01, "usual": 0.12}
    night = next(a for a in opened if a.kind == "night_power")
    # The heater on all night, against the usual night (22:00-06:00: 2 x 0.125 + 0.3 kWh).
    assert night.details["night_kwh"] == 4.25 and night.details["usual_kwh"] == 0.55


async def test_one_quiet_device_beside_a_busy_one_is_no_departure(
    sqlite_db: Database, make_elder: MakeElder
) -> None:
    await make_elder(sqlite_db, "E1", devices={"wm-1": "water_meter", "pm-1": "power_meter"})
    days = {DAY - timedelta(days=k): 0.12 for k in range(0, 15)}
    await _history(sqlite_db, "pm-1", "power_kwh", {d: 3.0 for d in days})
    days[DAY] = 0.01
    await _history(sqlite_db, "wm-1", "water_m3", days)
    home = await Home(sqlite_db).start()
    assert await home.engine.daily(day_start(DAY + timedelta(days=1)) + 2 * HOUR) == []


async def test_weekly_drift(sqlite_db: Database, make_elder: MakeElder) -> None:
    await make_elder(sqlite_db, "E1", devices={"wm-1": "water_meter"})
    days = {DAY - timedelta(days=k): (0.06 if k < 7 else 0.12) for k in range(0, 30)}
    await _history(sqlite_db, "wm-1", "water_m3", days)
    home = await Home(sqlite_db).start()
    async with sqlite_db.sessions() as session:
        drift = await drift_report(session, DAY, home.engine.rules,
                                   home.config.coverage.remote_check)
    assert [(d.device_id, round(d.ratio, 2)) for d in drift] == [("wm-1", 0.5)]


async def test_no_night_power_alarm_in_extreme_weather(
    sqlite_db: Database, make_elder: MakeElder, tmp_path: Path
) -> None:
    await make_elder(sqlite_db, "E2", devices={"pm-2": "power_meter"})
    power = {DAY - timedelta(days=k): 3.0 for k in range(0, 15)}
    await _history(sqlite_db, "pm-2", "power_kwh", power, night_kwh={DAY: 4.0}, elder="E2")
    heat = f"calendar:\n  - {{date: {DAY.isoformat()}, kind: extreme_weather, name: 寒潮}}\n"
    home = await Home(sqlite_db, heat, tmp_path).start()
    assert await home.engine.daily(day_start(DAY + timedelta(days=1)) + 2 * HOUR) == []
