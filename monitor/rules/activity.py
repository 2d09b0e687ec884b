"""Signs of life per device, kept on the device row so the sweeps find silent ones by index.

After each batch of readings (and its usage per hour), every activity device of the batch
gets `last_active_at`: the end of its newest hour with use of at least `life_per_hour` of
its metric (capped at its newest reading), or, for motion, the newest motion. A device's
first reading starts its clock (`last_active_at` is never null once it has reported). Water
meters also get `last_idle_at`, the end of their newest hour without water (a dry hour),
for the continuous-use rule. Both only move forward, so late, out-of-order readings and two
daemons writing at once leave the newest value.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Boolean, Table, Update, bindparam, case, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from monitor.store.models import Device, HourlyUsage
from monitor.telemetry.reading import Reading
from monitor.telemetry.usage import Grown
from monitor.timeutil import hour_floor
from monitor.visits.remote_check import ACTIVITY_METRIC

HOUR = timedelta(hours=1)
RECHECK = timedelta(hours=26)  # a day's backlog, and the hours around it
RECENT = timedelta(hours=2)  # the window of meters whose readings were added in order
# A dry hour: less water than half the 1 L resolution of a household meter.
DRY_M3 = 0.0005


def _is_motion(reading: Reading) -> bool:
    return reading.fields.get("motion") is True or reading.fields.get("door_open") is True


async def note_activity(
    session: AsyncSession, readings: Sequence[Reading], life_per_hour: dict[str, float],
    grown: Grown,
) -> None:
    """Move `last_active_at` / `last_idle_at` of the batch's devices forward, in one
    transaction whose device rows are locked (`RuleEngine.on_readings`). `grown`: what
    `record_usage` returned for the batch."""
    first: dict[str, datetime] = {}
    newest: dict[str, datetime] = {}
    kinds: dict[str, str] = {}
    active: dict[str, datetime] = {}
    for reading in readings:
        if reading.device_type not in ACTIVITY_METRIC:
            continue
        d = reading.device_id
        kinds[d] = reading.device_type
        first[d] = min(first.get(d, reading.ts), reading.ts)
        newest[d] = max(newest.get(d, reading.ts), reading.ts)
        if reading.device_type == "motion_sensor" and _is_motion(reading):
            active[d] = max(active.get(d, reading.ts), reading.ts)
    if not kinds:
        return
    idle: dict[str, datetime] = {}
    recomputed: dict[str, datetime] = {}
    windows = _windows({d: first[d] for d, t in kinds.items() if t != "motion_sensor"}, grown)
    for lo, devices in windows.items():
        rows = await session.execute(
            select(HourlyUsage.device_id, HourlyUsage.metric, HourlyUsage.hour,
                   HourlyUsage.value)
            .where(HourlyUsage.device_id.in_(devices),
                   HourlyUsage.metric.in_(sorted({ACTIVITY_METRIC[kinds[d]] for d in devices})),
                   HourlyUsage.hour >= lo)
        )
        for device_id, metric, hour, value in rows.all():
            end = hour + HOUR  # usage is known by the hour: its end, the cautious side
            if value >= life_per_hour.get(metric, float("inf")):
                recomputed[device_id] = max(recomputed.get(device_id, end), end)
            # The hour before a lone reading is complete only now (dry or not).
            if metric == "water_m3" and value < DRY_M3 and hour + HOUR <= newest[device_id] \
                    and hour >= hour_floor(first[device_id]) - HOUR:
                idle[device_id] = max(idle.get(device_id, end), end)
    window = {d: lo for lo, devices in windows.items() for d in devices}
    # One statement moves both clocks of every device of the batch: forward to what was
    # found (the newest active hour in the device's window replaces what lay inside it), and
    # a device's first report starts a clock still unset: silence is measured from there.
    clocks = [{"d": d, "a": recomputed.get(d, active.get(d)),
               "lo": window[d] if d in recomputed else None, "i": idle.get(d), "f": first[d],
               "w": kinds[d] == "water_meter"} for d in sorted(kinds)]
    await session.execute(_CLOCKS, clocks)


def _clocks() -> Update:
    table: Table = Device.__table__  # type: ignore[assignment]
    c = table.c
    active, lo, idle, first = (bindparam(name, type_=c.last_active_at.type)
                               for name in ("a", "lo", "i", "f"))
    water = bindparam("w", type_=Boolean())
    moves_active = active.is_not(None) & (
        c.last_active_at.is_(None) | (c.last_active_at < active) | (c.last_active_at >= lo))
    moves_idle = idle.is_not(None) & (c.last_idle_at.is_(None) | (c.last_idle_at < idle))
    starts_idle = water & c.last_idle_at.is_(None)
    return (
        update(table).where(c.id == bindparam("d"))
        .where(moves_active | c.last_active_at.is_(None) | moves_idle | starts_idle)
        .values(last_active_at=case((moves_active, active), (c.last_active_at.is_(None), first),
                                    else_=c.last_active_at),
                last_idle_at=case((moves_idle, idle), (starts_idle, first),
                                  else_=c.last_idle_at))
    )


_CLOCKS = _clocks()


def _windows(first: dict[str, datetime], grown: Grown) -> dict[datetime, list[str]]:
    """The meters of a batch by the hour from which their usage is read back.

    Usage per hour is recomputed as late readings fill gaps (a gap's delta is first spread
    evenly), so an hour may lose its use: the newest active hour is read again over RECHECK
    before the batch, and replaces what an earlier batch concluded there. A meter whose
    readings were added in order (`grown`) had its hours only grow since, so what was
    concluded before them still holds: its window is the RECENT hours before the batch,
    when the hours added to lie within them (the usual case: a meter reporting every few
    minutes), and it falls back to RECHECK otherwise.
    """
    if not first:
        return {}
    batch = hour_floor(min(first.values()))
    windows: dict[datetime, list[str]] = {}
    for device_id in sorted(first):
        since = grown.get(device_id)
        recent = since is not None and min(since, hour_floor(first[device_id]) - HOUR) \
            >= batch - RECENT
        windows.setdefault(batch - (RECENT if recent else RECHECK), []).append(device_id)
    return windows


def group_by_device(readings: Sequence[Reading]) -> dict[str, list[Reading]]:
    """Readings of each device, oldest first."""
    out: dict[str, list[Reading]] = defaultdict(list)
    for reading in sorted(readings, key=lambda r: r.ts):
        out[reading.device_id].append(reading)
    return out
