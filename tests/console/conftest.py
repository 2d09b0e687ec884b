"""One daemon, one Mosquitto and one Chromium for the console module (they are slow to start)."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from monitor.store.db import Database
from monitor.store.models import Alarm, Contact, Device, Elder, HourlyUsage, Notification, Visit
from tests.fixtures.daemon import PASSWORD, Daemon, small_registry, sos, wait_for
from tests.fixtures.services import Mosquitto, missing

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
COMMUNITY_USER = "dongzhuang"  # community_admin of mgl-01 (odd-numbered elders)


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """A running daemon with a seeded district: usage, visits, device states, open alarms."""
    if not shutil.which("mosquitto"):
        missing("mosquitto")
    if not os.path.exists(CHROMIUM):
        missing(CHROMIUM)
    root = tmp_path_factory.mktemp("console")
    broker = Mosquitto(root / "mosquitto")
    broker.directory.mkdir()
    broker.start()
    directory = root / "daemon"
    directory.mkdir()
    # The board shows the seeded alarms and escalation chips: no live escalation, and no rule
    # sweep (which would rightly add the seeded offline meters and low batteries) meanwhile.
    daemon = Daemon(directory, broker, f"sqlite:///{directory}/state.db",
                    extra={"escalation": {"enabled": False},
                           "rules": {"sweep_interval_s": 86400}})
    try:
        daemon.write_config()
        daemon.load(small_registry(12))
        daemon.cli("user", "create", COMMUNITY_USER, "--role", "community_admin", "--community",
                   "mgl-01", "--password-stdin", stdin=PASSWORD + "\n")
        asyncio.run(seed(daemon.database_url))
        daemon.start()
        raise_board_alarms(daemon)
        yield daemon
    finally:
        daemon.stop()
        broker.stop()


def _local_hour(moment: datetime) -> int:
    return (moment + timedelta(hours=8)).hour


def usage_rows(elder_id: str, now: datetime) -> list[HourlyUsage]:
    """Seven days of a plausible routine: water and power at meal times, steps by day."""
    rows = []
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(days=7)
    for i in range(7 * 24):
        hour = start + timedelta(hours=i)
        local = _local_hour(hour)
        day = i // 24
        water = {7: 0.035, 8: 0.02, 11: 0.025, 12: 0.015, 18: 0.03, 19: 0.02,
                 21: 0.012}.get(local, 0.0)
        if day == 4 and 6 <= local <= 12:
            water = 0.0  # a quiet morning: the 12-hour total dips towards the line
        power = 0.04 + {7: 0.25, 11: 0.45, 12: 0.3, 18: 0.5, 19: 0.6, 20: 0.4}.get(local, 0.0)
        steps = {7: 320, 8: 540, 9: 610, 10: 380, 15: 450, 16: 520, 17: 300, 19: 180}.get(local, 0)
        for device, metric, value in ((f"wm-{elder_id[1:]}", "water_m3", water),
                                      (f"pm-{elder_id[1:]}", "power_kwh", power),
                                      (f"ww-{elder_id[1:]}", "steps", float(steps))):
            rows.append(HourlyUsage(device_id=device, metric=metric, hour=hour, elder_id=elder_id,
                                    value=value * (0.8 + 0.05 * (i % 7)), readings=4,
                                    flagged=False))
    return rows


async def seed(url: str) -> None:
    """What a district looks like after some weeks: usage, visits, tested and failing devices."""
    db = Database(url)
    now = datetime.now(UTC)
    try:
        async with db.transaction() as session:
            session.add_all(usage_rows("E0001", now))
            await session.execute(update(Device).values(
                last_seen_at=now - timedelta(minutes=4), online=True, battery_pct=86.0,
                signal_dbm=-71.0, last_test_at=now - timedelta(days=6)))
            problems: dict[str, dict[str, Any]] = {
                "wm-0003": {"online": False, "last_seen_at": now - timedelta(hours=5)},
                "wm-0006": {"last_seen_at": now - timedelta(days=2)},
                "ww-0005": {"battery_pct": 12.0},
                "btn-0008": {"battery_pct": 9.0},
                "btn-0007": {"last_test_at": None},
                "ww-0010": {"last_test_at": None},
                "pm-0009": {"last_seen_at": None, "online": None, "battery_pct": None},
            }
            for device_id, values in problems.items():
                await session.execute(update(Device).where(Device.id == device_id).values(**values))
            await session.execute(update(Device).where(Device.id == "wm-0001").values(
                last_reading={"total_m3": 132.46, "flow_lpm": 0.0}, battery_pct=71.0))
            await session.execute(update(Device).where(Device.id == "pm-0001").values(
                last_reading={"total_kwh": 2471.3, "power_w": 62.0}, battery_pct=None))
            await session.execute(update(Device).where(Device.id == "ww-0001").values(
                last_reading={"heart_rate": 74, "spo2": 97, "steps": 2310}, battery_pct=64.0))
            elder = (await session.execute(select(Elder).where(Elder.id == "E0001"))).scalar_one()
            elder.address = "东庄小区 3栋 2单元 401"
            elder.visit_contact = "王秀英"
            elder.visit_contact_phone = "+8613955550101"
            session.add(Contact(elder_id="E0001", position=1, name="张丽华", relation="女儿",
                                phone="+8613955550102"))
            for days, method, by, note in ((1, "phone", "dongzhuang", "老人精神好，提醒按时服药"),
                                           (5, "home_visit", "王秀英", "检查燃气阀门，已关好")):
                session.add(Visit(elder_id="E0001", method=method, at=now - timedelta(days=days),
                                  by=by, source="staff", findings={}, evidence={}, note=note,
                                  created_at=now))
            opened = now - timedelta(days=3, hours=2)
            session.add(Alarm(
                elder_id="E0001", community_id="mgl-01", device_id="btn-0001", kind="sos",
                severity="critical", state="resolved", open_key=None, opened_at=opened,
                created_at=opened, updated_at=opened + timedelta(minutes=9),
                acknowledged_at=opened + timedelta(minutes=1), acknowledged_by="district",
                resolved_at=opened + timedelta(minutes=9), resolved_by="district",
                outcome="false_alarm", contact_method="phone", details={"occurrences": 1},
                escalation_step=0))
    finally:
        await db.close()


def raise_board_alarms(daemon: Daemon) -> None:
    """Alarms of both communities, through the broker as devices would raise them."""
    events = [("btn-0003", "sos"), ("ww-0005", "fall"), ("btn-0007", "tamper"),
              ("btn-0004", "sos"), ("ww-0010", "fall")]
    for i, (device, kind) in enumerate(events):
        daemon.broker.publish(f"tanfang/v1/{device}/event", sos(f"seed-{i}", kind=kind))
    alarms = wait_for(lambda: len(daemon.alarms()) == len(events) and daemon.alarms())
    fall = next(a for a in alarms if a["device_id"] == "ww-0005")
    assert daemon.api("POST", f"/api/alarms/{fall['id']}/ack", json={}).status_code == 200
    sos_alarm = next(a for a in alarms if a["device_id"] == "btn-0003")
    asyncio.run(add_notifications(daemon.database_url, sos_alarm["id"]))


async def add_notifications(url: str, alarm_id: int) -> None:
    """An escalation's first steps, as the escalation worker records them (unless it has)."""
    db = Database(url)
    now = datetime.now(UTC)
    try:
        async with db.transaction() as session:
            found = await session.execute(select(Notification).where(
                Notification.alarm_id == alarm_id))
            if found.first() is not None:
                return
            for step, kind, name, channel, state in (
                (0, "elder", "张桂兰", "voice", "failed"),
                (0, "contact", "李明", "sms", "delivered"),
                (1, "duty", "赵强", "sms", "sent"),
            ):
                session.add(Notification(
                    alarm_id=alarm_id, step=step, recipient_kind=kind, recipient_name=name,
                    address="+8613800000000", channel=channel, body="…", state=state, attempts=1,
                    created_at=now, sent_at=now, delivered_at=now if state == "delivered" else None,
                    error="无人接听" if state == "failed" else None))
    finally:
        await db.close()


@pytest.fixture(scope="module")
def browser(console: Daemon) -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def new_page(browser: Any, daemon: Daemon, width: int = 1440, height: int = 900) -> Any:
    """A fresh browser context (no cookies) in Beijing time, at the given viewport."""
    context = browser.new_context(viewport={"width": width, "height": height},
                                  locale="zh-CN", timezone_id="Asia/Shanghai",
                                  base_url=daemon.url, device_scale_factor=1)
    return context.new_page()


def log_in(page: Any, username: str = "district", password: str = PASSWORD,
           next_path: str = "/") -> None:
    page.goto(f"/login?next={next_path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{next_path}")


def screenshot(page: Any, name: str, full_page: bool = False) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=full_page)
