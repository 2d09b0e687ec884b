"""Device health: offline per heartbeat of its type, low battery, untested buttons; hysteresis."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from monitor.store.db import Database
from tests.fixtures.factories import MakeElder
from tests.rules.common import HOUR, MIN, T0, Home, kinds


async def test_offline_after_three_heartbeats_of_its_type(
    db: Database, make_elder: MakeElder
) -> None:
    await make_elder(db, "E1", devices={"btn-1": "call_button", "wm-1": "water_meter"})
    home = await Home(db).start()
    await home.status("btn-1", T0)
    await home.status("wm-1", T0)
    assert kinds(await home.sweep(T0 + 44 * MIN)) == []
    opened = await home.sweep(T0 + 46 * MIN)  # a button beats every 15 min: lost at 45
    assert kinds(opened) == ["device_offline"]
    assert opened[0].device_id == "btn-1" and opened[0].opened_at == T0 + 45 * MIN
    assert opened[0].details["devices"] == ["btn-1"]
    await home.status("btn-1", T0 + 3 * HOUR + MIN)
    assert kinds(await home.sweep(T0 + 3 * HOUR + 2 * MIN)) == []  # the meter: every hour, x3
    alarm = (await home.alarms("device_offline"))[0]
    assert alarm.details["occurrences"] == 1  # still the elder's one offline alarm


async def test_a_device_back_clears_after_the_hysteresis_and_does_not_flap(
    sqlite_db: Database, make_elder: MakeElder, tmp_path: Path
) -> None:
    await make_elder(sqlite_db, "E1", devices={"btn-1": "call_button"})
    home = await Home(sqlite_db, "hysteresis_min: 60\n", tmp_path).start()
    await home.status("btn-1", T0)
    await home.sweep(T0 + HOUR)
    alarm = (await home.alarms())[0]
    await home.status("btn-1", T0 + 70 * MIN)  # back, beating every 15 minutes till 130
    await home.sweep(T0 + 75 * MIN)
    for minutes in (85, 100, 115, 130):
        await home.status("btn-1", T0 + minutes * MIN)
    await home.sweep(T0 + 131 * MIN)
    assert (await home.alarms())[0].state == "open"  # back for 56 minutes only
    await home.sweep(T0 + 136 * MIN)
    cleared = (await home.alarms())[0]
    assert cleared.state == "resolved" and cleared.outcome == "device_fault"
    assert "condition_cleared" in await home.events(alarm.id)
    # Lost again at 175: within the hysteresis of the clear (till 196), nothing opens...
    for minutes in (180, 190):
        await home.sweep(T0 + minutes * MIN)
    assert len(await home.alarms()) == 1
    # ... after it, a new episode is a new alarm.
    await home.sweep(T0 + 200 * MIN)
    assert len(await home.alarms()) == 2


async def test_battery_low_and_an_untested_button(sqlite_db: Database,
                                                  make_elder: MakeElder) -> None:
    await make_elder(sqlite_db, "E1", devices={"btn-1": "call_button", "sd-1": "smoke_detector"})
    home = await Home(sqlite_db).start()
    await home.set_device("btn-1", installed_at=T0 - timedelta(days=40))
    await home.set_device("sd-1", installed_at=T0 - timedelta(days=40))
    await home.status("sd-1", T0, battery=18)
    await home.status("btn-1", T0, battery=80)
    await home.send("btn-1", "event", {"msg_id": "t1", "ts": int((T0 - timedelta(days=31))
                                       .timestamp() * 1000), "type": "test"})
    opened = await home.sweep(T0 + MIN)
    assert kinds(opened) == ["battery_low", "button_untested"]
    battery = next(a for a in opened if a.kind == "battery_low")
    assert battery.device_id == "sd-1" and battery.details["battery_pct"] == 18
    untested = next(a for a in opened if a.kind == "button_untested")
    assert untested.opened_at == T0 - timedelta(days=1)  # 30 days after the last test
