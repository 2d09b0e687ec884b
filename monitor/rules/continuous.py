"""Continuous use: water drawn in every half hour of a day (a tap left running, a leak, a
person who cannot get up to turn it off), or more than 2 m3 in a day.

Every slot: usage per hour cannot see half hours, so candidates come from the water
meters' `last_idle_at` (the end of their newest hour without water, kept by activity.py):
a meter without a dry hour for `water_hours` is a candidate, found by an index range
query. Each candidate's half-hour slots are then judged from its register readings (the
delta of the register across the slot, interpolated linearly between readings). With
meters reading every 15 minutes this is exact; with sparser readings a slot is judged by
the readings around it, so a gap never counts as a dry slot nor invents one.

Too much: more than `water_max_m3` in `water_hours` needs an hour of at least
water_max_m3 / water_hours, so it is checked after a batch of readings for the meters
that show such an hour, and again by the sweep while its alarm's episode lives.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from monitor.alarms.service import AlarmDecision
from monitor.rules.inactivity import offline
from monitor.rules.lookup import (
    DEVICE_COLUMNS,
    DeviceRow,
    chunks,
    device_rows,
    elders_of,
    newest_readings,
)
from monitor.rules.settings import Rules
from monitor.store.models import Device, HourlyUsage, RegisterReading
from monitor.telemetry.reading import Reading
from monitor.timeutil import hour_floor

EVERY_SLOT = "water_running"
TOO_MUCH = "water_high"
KINDS = (EVERY_SLOT, TOO_MUCH)


def _at(points: Sequence[tuple[datetime, float]], stamps: list[datetime],
        moment: datetime) -> float | None:
    """The register at `moment`, interpolated between its readings (None outside them)."""
    i = bisect_left(stamps, moment)
    if i < len(stamps) and stamps[i] == moment:
        return points[i][1]
    if i == 0 or i == len(stamps):
        return None
    (t0, v0), (t1, v1) = points[i - 1], points[i]
    return v0 + (v1 - v0) * (moment - t0) / (t1 - t0)


def dry_slot(points: Sequence[tuple[datetime, float]], start: datetime, end: datetime,
             slot: timedelta) -> datetime | None:
    """The first slot of [start, end) without water, or None when water ran in every one."""
    stamps = [t for t, _ in points]
    moment = start
    while moment + slot <= end:
        a, b = _at(points, stamps, moment), _at(points, stamps, moment + slot)
        if a is None or b is None or b - a <= 0:
            return moment
        moment += slot
    return None


async def find_running(
    session: AsyncSession, now: datetime, rules: Rules, heartbeat_s: dict[str, int]
) -> list[AlarmDecision]:
    """Water meters that drew water in every slot of the last `water_hours`."""
    shortest = min([rules.for_elder(None, ()).continuous.water_hours] + [
        float(v) for o in [*rules.spec.categories.values(), *rules.spec.elders.values()]
        if isinstance(v := (o.get("continuous") or {}).get("water_hours"), int | float)])
    cut = now - timedelta(hours=shortest * min(1.0, rules.spec.care_day_factor))
    rows = await session.execute(select(*DEVICE_COLUMNS).where(
        Device.last_idle_at < cut, Device.type == "water_meter", Device.elder_id.is_not(None)))
    candidates = device_rows(rows.all())
    if not candidates:
        return []
    elders = await elders_of(session, {str(d.elder_id) for d in candidates})
    factor = rules.factor(now)
    newest = await newest_readings(session, candidates)
    judged: list[tuple[DeviceRow, datetime, datetime, timedelta]] = []
    for device in candidates:
        elder = elders.get(str(device.elder_id))
        if elder is None or not elder.active or device.last_idle_at is None:
            continue
        settings = rules.for_elder(elder.id, elder.categories)
        if offline(device, now, heartbeat_s, settings):
            continue
        hours = timedelta(hours=settings.continuous.water_hours * factor)
        horizon = device.horizon(now, newest)
        if horizon - device.last_idle_at < hours:
            continue
        judged.append((device, horizon - hours, horizon,
                       timedelta(minutes=settings.continuous.slot_min)))
    points = await _registers(session, [(d.id, s, e) for d, s, e, _ in judged])
    decisions = []
    for device, start, end, slot in judged:
        if dry_slot(points.get(device.id, []), start, end, slot) is not None:
            continue
        elder = elders[str(device.elder_id)]
        settings = rules.for_elder(elder.id, elder.categories)
        assert device.last_idle_at is not None
        decisions.append(AlarmDecision(
            elder_id=elder.id, community_id=elder.community_id, device_id=device.id,
            kind=EVERY_SLOT, severity=settings.continuous.severity,
            at=min(now, device.last_idle_at + (end - start)),
            details={"rule": "continuous", "since": device.last_idle_at.isoformat(),
                     "slot_min": settings.continuous.slot_min,
                     "hours": round((end - start).total_seconds() / 3600, 2)}))
    return decisions


async def _registers(
    session: AsyncSession, windows: Iterable[tuple[str, datetime, datetime]]
) -> dict[str, list[tuple[datetime, float]]]:
    """Register readings of each device over its window, with one reading either side."""
    wanted = {d: (s, e) for d, s, e in windows}
    out: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    if not wanted:
        return out
    lo = min(s for s, _ in wanted.values()) - timedelta(hours=6)
    hi = max(e for _, e in wanted.values()) + timedelta(hours=6)
    for chunk in chunks(sorted(wanted)):
        rows = await session.execute(
            select(RegisterReading.device_id, RegisterReading.ts, RegisterReading.value)
            .where(RegisterReading.device_id.in_(chunk), RegisterReading.ts >= lo,
                   RegisterReading.ts <= hi)
            .order_by(RegisterReading.device_id, RegisterReading.ts))
        for device_id, ts, value in rows.all():
            out[device_id].append((ts, float(value)))
    return out


async def water_totals(
    session: AsyncSession, ends: dict[str, datetime], hours: dict[str, float]
) -> dict[str, float]:
    """Water of each meter over the `hours[d]` before its `ends[d]` (from usage per hour).

    One query for all the meters (their hours over the widest window), summed here."""
    starts = {d: hour_floor(end - timedelta(hours=hours[d])) for d, end in ends.items()}
    out = dict.fromkeys(ends, 0.0)
    if not ends:
        return out
    lo, hi = min(starts.values()), max(ends.values())
    for chunk in chunks(sorted(ends)):
        rows = await session.execute(
            select(HourlyUsage.device_id, HourlyUsage.hour, HourlyUsage.value)
            .where(HourlyUsage.device_id.in_(chunk), HourlyUsage.metric == "water_m3",
                   HourlyUsage.hour >= lo, HourlyUsage.hour < hi))
        for device_id, hour, value in rows.all():
            if starts[device_id] <= hour < ends[device_id]:
                out[device_id] += float(value)
    return out


def heavy_meters(readings: Sequence[Reading]) -> dict[str, datetime]:
    """Water meters of a batch, with their newest reading (candidates for too much water)."""
    newest: dict[str, datetime] = {}
    for reading in readings:
        if reading.device_type == "water_meter":
            newest[reading.device_id] = max(newest.get(reading.device_id, reading.ts),
                                            reading.ts)
    return newest
