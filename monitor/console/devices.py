"""Device health for people who go and fix things: offline, low battery, never tested."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from monitor.api.deps import MonitorDep
from monitor.console import labels
from monitor.console.session import PageCaller
from monitor.console.templating import templates
from monitor.store.models import Community, Device, Elder
from monitor.timeutil import utcnow

router = APIRouter(include_in_schema=False)

LOW_BATTERY_PCT = 20.0
# Three missed heartbeats make a device offline (telecare practice: 15 min beat, 45 min lost).
MISSED_HEARTBEATS = 3
# Devices whose button should be test-pressed (an untested button may not work when needed).
TESTABLE = frozenset({"call_button", "wearable", "smoke_detector", "gas_detector"})

READING_FORMAT = {
    "total_m3": ("累计", "{:.2f} m³"), "flow_lpm": ("流量", "{:.1f} L/分"),
    "total_kwh": ("累计", "{:.1f} kWh"), "power_w": ("功率", "{:.0f} W"),
    "heart_rate": ("心率", "{:.0f} 次/分"), "spo2": ("血氧", "{:.0f}%"),
    "steps": ("今日步数", "{:.0f}"),
}


@dataclass(frozen=True)
class DeviceHealth:
    """What a person should know about one device."""

    state: str  # online | offline | never_seen
    state_label: str
    low_battery: bool
    untested: bool

    @property
    def problems(self) -> list[str]:
        found = []
        if self.state != "online":
            found.append(self.state_label)
        if self.low_battery:
            found.append("电量低")
        if self.untested:
            found.append("从未测试")
        return found


def device_health(device: Device, heartbeat_s: dict[str, int], now: datetime) -> DeviceHealth:
    """Online, offline or never seen; low battery; a testable device never test-pressed."""
    beat = timedelta(seconds=heartbeat_s.get(device.type, 3600) * MISSED_HEARTBEATS)
    if device.last_seen_at is None:
        state, label = "never_seen", "从未上线"
    elif device.online is False or now - device.last_seen_at > beat:
        state, label = "offline", "离线"
    else:
        state, label = "online", "在线"
    low = device.battery_pct is not None and device.battery_pct < LOW_BATTERY_PCT
    untested = device.type in TESTABLE and device.last_test_at is None
    return DeviceHealth(state, label, low, untested)


def reading_text(reading: dict[str, Any] | None) -> str:
    """A device's last reading in a few Chinese words."""
    if not reading:
        return "—"
    parts = []
    for key, (name, fmt) in READING_FORMAT.items():
        value = reading.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            parts.append(f"{name} {fmt.format(value)}")
    if "motion" in reading:
        parts.append("有人活动" if reading["motion"] else "无活动")
    if "door_open" in reading:
        parts.append("门已打开" if reading["door_open"] else "门已关闭")
    return "，".join(parts) or "—"


@router.get("/devices", response_class=HTMLResponse)
async def devices_page(request: Request, monitor: MonitorDep, caller: PageCaller) -> Response:
    """Devices needing a visit, grouped by community."""
    query = (
        select(Device, Elder, Community)
        .join(Elder, Elder.id == Device.elder_id)
        .join(Community, Community.id == Elder.community_id)
        .where(Elder.active.is_(True))
        .order_by(Community.street, Community.id, Elder.id, Device.id)
    )
    if not caller.sees_all:
        query = query.where(Elder.community_id == caller.community_id)
    async with monitor.db.sessions() as session:
        rows = (await session.execute(query)).all()
    now = utcnow()
    groups: dict[str, dict[str, Any]] = {}
    totals = {"devices": 0, "offline": 0, "never_seen": 0, "low_battery": 0, "untested": 0}
    for device, elder, community in rows:
        health = device_health(device, monitor.config.ingest.heartbeat_s, now)
        totals["devices"] += 1
        totals["offline"] += health.state == "offline"
        totals["never_seen"] += health.state == "never_seen"
        totals["low_battery"] += health.low_battery
        totals["untested"] += health.untested
        if not health.problems:
            continue
        group = groups.setdefault(community.id, {"community": community, "rows": []})
        group["rows"].append({"device": device, "elder": elder, "health": health,
                              "type_label": labels.DEVICE_TYPE.get(device.type, device.type)})
    return templates.TemplateResponse(request, "devices.html", {
        "caller": caller, "groups": list(groups.values()), "totals": totals, "now": now,
        "active": "devices", "low_battery_pct": LOW_BATTERY_PCT,
    })
