"""Inactivity: no water, no power, no motion, no steps, each and together, in waking hours.

One indexed range query finds the activity devices whose newest sign of life
(`devices.last_active_at`, see activity.py) is older than the tightest threshold configured
anywhere; only those candidates are judged in Python, with each elder's own thresholds:
- quiet hours do not count: a threshold of 12 h means 12 waking hours;
- on a festival or extreme-weather day the thresholds shrink by `care_day_factor`;
- a planned absence suppresses the rules, and silence is measured from its end;
- a device that is offline raises nothing here (device_offline speaks for it), and
  silence is measured up to the newest reading it uploaded, so a meter that sends its
  readings in batches every few hours is not mistaken for an idle one;
- water also needs the real programmes' total: under `water_min_m3` in the window.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from monitor.alarms.service import AlarmDecision
from monitor.rules.lookup import (
    DEVICE_COLUMNS,
    DeviceRow,
    absences_of,
    chunks,
    device_rows,
    devices_of,
    elders_of,
    newest_readings,
)
from monitor.rules.settings import QuietHours, Rules, RuleSet
from monitor.store.models import Device, HourlyUsage
from monitor.timeutil import hour_floor

# device type -> (alarm kind, threshold field of InactivityRules)
SENSORS = {
    "water_meter": ("no_water", "water_hours"),
    "power_meter": ("no_power", "power_hours"),
    "motion_sensor": ("no_motion", "motion_hours"),
    "wearable": ("no_steps", "steps_hours"),
}
COMBINED = "no_activity"
KINDS = (*(k for k, _ in SENSORS.values()), COMBINED)


def waking_end(quiet: QuietHours, start: datetime, waking: timedelta) -> datetime:
    """The moment at which `waking` hours outside quiet hours have passed since `start`."""
    end = start + waking
    for _ in range(10):
        candidate = start + waking + quiet.overlap(start, end)
        if candidate == end:
            break
        end = candidate
    return end


def offline(device: DeviceRow, now: datetime, heartbeat_s: dict[str, int], rules: RuleSet) -> bool:
    """Whether the device has been silent for the offline threshold of its type."""
    if device.last_seen_at is None:
        return True
    limit = timedelta(seconds=heartbeat_s.get(device.type, 3600) * rules.device.offline_heartbeats)
    return now - device.last_seen_at >= limit


@dataclass
class Silence:
    """One online activity device, silent since `since`, known up to `horizon`."""

    device: DeviceRow
    since: datetime
    horizon: datetime


async def find_inactivity(
    session: AsyncSession, now: datetime, rules: Rules, heartbeat_s: dict[str, int]
) -> list[AlarmDecision]:
    """Every inactivity condition that holds at `now` (event time), one per elder and kind."""
    fields = [f for _, f in SENSORS.values()] + ["any_hours"]
    tightest = min(rules.tightest(f) for f in fields)
    cut = now - timedelta(hours=tightest)
    rows = await session.execute(select(*DEVICE_COLUMNS).where(
        Device.last_active_at < cut, Device.type.in_(list(SENSORS)),
        Device.elder_id.is_not(None)))
    candidates = device_rows(rows.all())
    if not candidates:
        return []
    elder_ids = sorted({str(d.elder_id) for d in candidates})
    elders = await elders_of(session, elder_ids)
    devices = await devices_of(session, elder_ids, SENSORS)
    longest = timedelta(days=3)
    absences = await absences_of(session, elder_ids, now - longest, now)
    decisions: list[AlarmDecision] = []
    water: list[tuple[Silence, datetime, AlarmDecision]] = []
    factor = rules.factor(now)
    quiet = rules.spec.quiet_hours
    newest = await newest_readings(session, [d for ds in devices.values() for d in ds])
    for elder_id in elder_ids:
        elder = elders.get(elder_id)
        if elder is None or not elder.active:
            continue
        away = absences.get(elder_id, [])
        if any(start <= now < end for start, end in away):
            continue  # a planned absence: nobody is home to use anything
        back = max((end for _, end in away), default=None)
        settings = rules.for_elder(elder_id, elder.categories)
        inact = settings.inactivity
        online: list[Silence] = []
        live = [d for d in devices.get(elder_id, [])
                if d.last_active_at is not None and not offline(d, now, heartbeat_s, settings)]
        for device in live:
            assert device.last_active_at is not None
            since = max(device.last_active_at, back) if back else device.last_active_at
            online.append(Silence(device, since, device.horizon(now, newest)))
        for silence in online:
            kind, field = SENSORS[silence.device.type]
            hours = timedelta(hours=getattr(inact, field) * factor)
            at = waking_end(quiet, silence.since, hours)
            if at > silence.horizon:
                continue
            decision = _decision(elder_id, elder.community_id, silence, kind, inact.severity,
                                 at, hours, {"threshold_hours": round(hours.total_seconds() /
                                                                      3600, 2)})
            if kind == "no_water":
                water.append((silence, quiet.waking_start(silence.horizon, hours), decision))
            else:
                decisions.append(decision)
        if len(online) >= inact.any_min_sensors:
            hours = timedelta(hours=inact.any_hours * factor)
            latest = max(online, key=lambda s: s.since)
            at = waking_end(quiet, latest.since, hours)
            if at <= min(s.horizon for s in online):
                decisions.append(_decision(
                    elder_id, elder.community_id, latest, COMBINED, inact.any_severity, at,
                    hours, {"threshold_hours": round(hours.total_seconds() / 3600, 2),
                            "devices": [s.device.id for s in online]}))
    decisions += await _water_totals(session, water, rules, elders)
    return decisions


def _decision(
    elder_id: str, community_id: str | None, silence: Silence, kind: str, severity: str,
    at: datetime, hours: timedelta, extra: dict[str, Any],
) -> AlarmDecision:
    return AlarmDecision(
        elder_id=elder_id, community_id=community_id, device_id=silence.device.id, kind=kind,
        severity=severity, at=at,
        details={"rule": "inactivity", "last_sign_of_life": silence.since.isoformat(),
                 **extra})


async def _water_totals(
    session: AsyncSession, water: list[tuple[Silence, datetime, AlarmDecision]], rules: Rules,
    elders: dict[str, Any],
) -> list[AlarmDecision]:
    """Keep the water candidates whose window total is under the real programmes' 0.01 m3."""
    if not water:
        return []
    first = hour_floor(min(start for _, start, _ in water))
    totals: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for chunk in chunks(sorted({s.device.id for s, _, _ in water})):
        rows = await session.execute(
            select(HourlyUsage.device_id, HourlyUsage.hour, HourlyUsage.value)
            .where(HourlyUsage.device_id.in_(chunk), HourlyUsage.metric == "water_m3",
                   HourlyUsage.hour >= first))
        for device_id, hour, value in rows.all():
            totals[device_id].append((hour, float(value)))
    out = []
    for silence, start, decision in water:
        elder = elders[str(silence.device.elder_id)]
        limit = rules.for_elder(elder.id, elder.categories).inactivity.water_min_m3
        used = sum(v for h, v in totals.get(silence.device.id, [])
                   if hour_floor(start) <= h < silence.horizon)
        if used < limit:
            out.append(AlarmDecision(**{**decision.__dict__, "details": {
                **decision.details, "water_m3": round(used, 4), "water_min_m3": limit}}))
    return out
