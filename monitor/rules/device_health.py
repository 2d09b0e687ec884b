"""Device health: silent devices (offline), low batteries, call buttons never tested.

Each sweep is one indexed query for candidates (`last_seen_at` older than the shortest
offline limit of any type, `battery_pct` under the highest threshold, buttons whose last
test is older than the shortest test period); exact per-type and per-elder limits are then
applied to those few rows. One alarm per elder and kind; the devices are in its details.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from monitor.alarms.service import AlarmDecision
from monitor.rules.lookup import DEVICE_COLUMNS, DeviceRow, device_rows, elders_of
from monitor.rules.settings import Rules
from monitor.store.models import Device

KINDS = ("device_offline", "battery_low", "button_untested")


def _overrides(rules: Rules, field: str) -> list[float]:
    values = [float(getattr(rules.for_elder(None, ()).device, field))]
    for override in [*rules.spec.categories.values(), *rules.spec.elders.values()]:
        value = (override.get("device") or {}).get(field)
        if isinstance(value, int | float):
            values.append(float(value))
    return values


async def _per_elder(
    session: AsyncSession, rules: Rules, rows: list[DeviceRow], kind: str, now: datetime,
    check: Any,
) -> list[AlarmDecision]:
    """Group the devices that fail `check(device, settings) -> (at, details) | None` by elder."""
    elders = await elders_of(session, {str(d.elder_id) for d in rows if d.elder_id})
    found: dict[str, list[tuple[DeviceRow, datetime, dict[str, Any]]]] = defaultdict(list)
    for device in rows:
        elder = elders.get(str(device.elder_id))
        if elder is None or not elder.active:
            continue
        settings = rules.for_elder(elder.id, elder.categories)
        result = check(device, settings)
        if result is not None:
            found[elder.id].append((device, *result))
    decisions = []
    for elder_id, items in sorted(found.items()):
        items.sort(key=lambda item: item[1])
        device, at, details = items[0]
        settings = rules.for_elder(elder_id, elders[elder_id].categories)
        decisions.append(AlarmDecision(
            elder_id=elder_id, community_id=elders[elder_id].community_id, device_id=device.id,
            kind=kind, severity=settings.device.severity, at=min(at, now),
            details={**details, "rule": "device", "devices": [d.id for d, _, _ in items]}))
    return decisions


async def find_offline(
    session: AsyncSession, now: datetime, rules: Rules, heartbeat_s: dict[str, int]
) -> list[AlarmDecision]:
    """Devices silent for `offline_heartbeats` heartbeat intervals of their type."""
    shortest = min(heartbeat_s.values(), default=900) * min(_overrides(rules, "offline_heartbeats"))
    rows = await session.execute(select(*DEVICE_COLUMNS).where(
        Device.last_seen_at < now - timedelta(seconds=shortest), Device.elder_id.is_not(None)))

    def check(device: DeviceRow, settings: Any) -> tuple[datetime, dict[str, Any]] | None:
        assert device.last_seen_at is not None
        limit = timedelta(seconds=heartbeat_s.get(device.type, 3600)
                          * settings.device.offline_heartbeats)
        if now - device.last_seen_at < limit:
            return None
        return device.last_seen_at + limit, {
            "last_seen_at": device.last_seen_at.isoformat(), "device_type": device.type,
            "limit_s": int(limit.total_seconds())}

    return await _per_elder(session, rules, device_rows(rows.all()), "device_offline", now, check)


async def find_battery_low(
    session: AsyncSession, now: datetime, rules: Rules
) -> list[AlarmDecision]:
    """Devices whose latest status reports a battery under the threshold."""
    highest = max(_overrides(rules, "battery_low_pct"))
    rows = await session.execute(select(*DEVICE_COLUMNS).where(
        Device.battery_pct < highest, Device.elder_id.is_not(None)))

    def check(device: DeviceRow, settings: Any) -> tuple[datetime, dict[str, Any]] | None:
        if device.battery_pct is None or device.battery_pct >= settings.device.battery_low_pct:
            return None
        return device.last_seen_at or now, {"battery_pct": device.battery_pct,
                                            "device_type": device.type}

    return await _per_elder(session, rules, device_rows(rows.all()), "battery_low", now, check)


async def find_untested(
    session: AsyncSession, now: datetime, rules: Rules
) -> list[AlarmDecision]:
    """Call buttons without a test press for `button_test_days` (from installation)."""
    cut = now - timedelta(days=min(_overrides(rules, "button_test_days")))
    rows = await session.execute(
        select(*DEVICE_COLUMNS, Device.last_test_at, Device.installed_at).where(
            Device.type == "call_button", Device.elder_id.is_not(None),
            or_(Device.last_test_at < cut,
                and_(Device.last_test_at.is_(None), Device.installed_at < cut))))
    tested: dict[str, datetime] = {}
    devices = []
    for row in rows.all():
        device = DeviceRow(*row[:8])
        tested[device.id] = row[8] or row[9]
        devices.append(device)

    def check(device: DeviceRow, settings: Any) -> tuple[datetime, dict[str, Any]] | None:
        since = tested[device.id]
        due = since + timedelta(days=settings.device.button_test_days)
        if due > now:
            return None
        return due, {"last_test_at": since.isoformat()}

    return await _per_elder(session, rules, devices, "button_untested", now, check)
