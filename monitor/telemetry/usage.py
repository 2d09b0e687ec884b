"""Usage per elder and hour (water_m3, power_kwh, steps, motion), derived from readings.

Meters send cumulative registers. Each register reading is kept (RegisterReading); when new
ones arrive, the hours between their previous and next neighbours are recomputed from the
consecutive pairs, each pair's delta spread over the hours it spans in proportion to time.
The result depends only on the set of readings, never on the order they arrived in.

Most readings arrive in order: newer than every stored reading of their device. Then the
only new pair is (newest stored, new reading), and its share is added to the hours it spans
(`_append`): the same sums the recomputation makes, in the same order, without reading the
hour's other readings back. A late or repeated reading takes the recomputation. The hours a
device's readings were added to only grew; `record_usage` says from which hour on, so that
the rules reading usage back (monitor/rules/activity.py) read only those.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, delete, func, or_, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from monitor.store.locks import lock_devices
from monitor.store.models import HourlyUsage, RegisterReading
from monitor.store.upsert import dialect_insert
from monitor.telemetry.reading import Reading
from monitor.timeutil import LOCAL_TZ, hour_floor

HOUR = timedelta(hours=1)
# (device type, field) -> usage metric, for cumulative registers.
REGISTERS = {
    ("water_meter", "total_m3"): "water_m3",
    ("power_meter", "total_kwh"): "power_kwh",
    ("wearable", "steps"): "steps",
}
METRICS = ("water_m3", "power_kwh", "steps", "motion")
# Faster than this (per hour) is not usage but a bad reading: flagged, not counted.
ABSURD_PER_HOUR = {"water_m3": 5.0, "power_kwh": 30.0, "steps": 15_000.0}
# Short intervals are judged as if they lasted this long (registers tick in coarse steps).
ABSURD_MIN_HOURS = 0.25
CHUNK = 500
YIELD_EVERY = 50  # devices recomputed between two chances for other tasks to run


@dataclass(slots=True)
class Hour:
    """What one hour of one device accumulates while it is recomputed."""

    value: float = 0.0
    readings: int = 0
    flagged: bool = False
    known: bool = False


def _register_value(reading: Reading) -> tuple[str, float] | None:
    """(metric, value) of a reading that counts towards usage, or None."""
    if reading.device_type == "motion_sensor":
        active = reading.fields.get("motion") is True or reading.fields.get("door_open") is True
        has = "motion" in reading.fields or "door_open" in reading.fields
        return ("motion", 1.0 if active else 0.0) if has else None
    for (device_type, name), metric in REGISTERS.items():
        if reading.device_type == device_type and name in reading.fields:
            value = reading.fields[name]
            if isinstance(value, bool) or not isinstance(value, int | float):
                return None
            number = float(value)
            return (metric, number) if math.isfinite(number) and number >= 0 else None
    return None


def counts_for_usage(reading: Reading) -> bool:
    """Whether the reading is a register or motion reading that usage per hour is made of."""
    return _register_value(reading) is not None


Grown = dict[str, datetime]  # device -> the first hour its readings were added to


async def record_usage(session: AsyncSession, readings: Sequence[Reading]) -> Grown:
    """Store register readings and bring the hours they touch up to date, in the caller's
    transaction; return the devices whose hours only grew, each with the first of them.

    A device whose new readings all follow its newest stored one has their share added to
    its hours. The others' hours are recomputed from the readings near the new ones, read for
    many devices in one query; a device whose neighbours lie further back (silent for hours,
    a first reading) is recomputed on its own with the exact per-device queries.
    """
    latest: dict[tuple[str, datetime], float] = {}
    groups: dict[str, tuple[str, str | None]] = {}
    for reading in readings:
        found = _register_value(reading)
        if found is None:
            continue
        metric, value = found
        latest[(reading.device_id, reading.ts)] = value
        groups[reading.device_id] = (metric, reading.elder_id)
    if not latest:
        return {}
    new_ts: dict[str, list[datetime]] = defaultdict(list)
    for device_id, ts in latest:
        new_ts[device_id].append(ts)
    # PostgreSQL: two daemons with readings of one meter take turns, each seeing the other's.
    await lock_devices(session, new_ts)
    newest = await _below(session, list(new_ts), FAR_FUTURE)
    out = HourWrites()
    grown: Grown = {}
    recompute: dict[str, list[datetime]] = {}
    for n, (device_id, stamps) in enumerate(new_ts.items()):
        if n and not n % YIELD_EVERY:
            await asyncio.sleep(0)  # other tasks (an SOS) run between pieces of the batch
        last = newest.get(device_id)
        metric, elder_id = groups[device_id]
        if last is not None and min(stamps) > last[0]:
            grown[device_id] = _append(out, device_id, metric, elder_id, last,
                                       sorted((ts, latest[(device_id, ts)]) for ts in stamps))
        else:
            recompute[device_id] = stamps
    rows = [{"device_id": d, "ts": ts, "value": v} for (d, ts), v in latest.items()]
    # executemany of one cached statement (SQLAlchemy batches it into multi-row INSERTs).
    stmt = dialect_insert(session, RegisterReading.__table__)
    connection = await session.connection()
    await connection.execute(stmt.on_conflict_do_update(
        index_elements=["device_id", "ts"], set_={"value": stmt.excluded.value}
    ), rows)
    order = sorted(recompute, key=lambda d: min(recompute[d]))
    for i in range(0, len(order), CHUNK):
        chunk = order[i : i + CHUNK]
        floor = hour_floor(min(recompute[chunk[0]])) - LOOKBACK
        views = await _nearby(session, chunk, floor)
        for n, device_id in enumerate(chunk):
            if n and not n % YIELD_EVERY:
                await asyncio.sleep(0)  # other tasks (an SOS) run between pieces of the batch
            metric, elder_id = groups[device_id]
            try:
                await _recompute(views[device_id], device_id, metric, elder_id,
                                 recompute[device_id], out)
            except NotNearby:
                await _recompute(_Stored(session), device_id, metric, elder_id,
                                 recompute[device_id], out)
    await out.write(session)
    return grown


def _append(out: HourWrites, device_id: str, metric: str, elder_id: str | None,
            last: tuple[datetime, float], points: list[tuple[datetime, float]]) -> datetime:
    """What readings newer than the newest stored one (`last`) add to their hours; returns
    the first of those hours."""
    hours: dict[datetime, Hour] = {}
    prior = last
    for ts, value in points:
        if metric == "motion":
            start, delta = ts, value
        elif metric == "steps" and local_midnight(prior[0]) != local_midnight(ts):
            start, delta = local_midnight(ts), value  # a new day counts from local midnight
        else:
            start, delta = prior[0], value - prior[1]
        moment = hour_floor(start)
        while moment <= ts:
            hours.setdefault(moment, Hour())
            moment += HOUR
        slot = hours[hour_floor(ts)]
        slot.readings += 1
        slot.known = True
        if metric == "motion":
            slot.value += value
        else:
            _spread(hours, metric, start, ts, delta)
        prior = (ts, value)
    out.added += [
        {"device_id": device_id, "metric": metric, "hour": hour, "elder_id": elder_id,
         "value": slot.value, "readings": slot.readings, "flagged": slot.flagged}
        for hour, slot in hours.items() if slot.known
    ]
    return min(hours)


# How far before the new readings' hour the batched path reads every reading; before that
# only the newest one. A question about earlier readings takes the per-device path.
LOOKBACK = timedelta(hours=2)
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


class NotNearby(Exception):
    """The readings read for the batch do not answer this question: ask the store."""


class _Stored:
    """Readings of a device, asked from the store one question at a time."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def neighbour(self, device_id: str, moment: datetime,
                        before: bool) -> tuple[datetime, float] | None:
        return await _neighbour(self.session, device_id, moment, before=before)

    async def between(self, device_id: str, start: datetime,
                      end: datetime) -> list[tuple[datetime, float]]:
        return await _between(self.session, device_id, start, end)


@dataclass(slots=True)
class _Nearby:
    """Every reading of a device from `known_from` on, in order (None: all of them);
    questions about earlier readings raise NotNearby."""

    known_from: datetime | None
    points: list[tuple[datetime, float]]

    async def neighbour(self, device_id: str, moment: datetime,
                        before: bool) -> tuple[datetime, float] | None:
        if before:
            found = [p for p in self.points if p[0] < moment]
            if found:
                return found[-1]
            if self.known_from is None:
                return None
            raise NotNearby  # the one before lies further back
        return next((p for p in self.points if p[0] >= moment), None)

    async def between(self, device_id: str, start: datetime,
                      end: datetime) -> list[tuple[datetime, float]]:
        if self.known_from is not None and start < self.known_from:
            raise NotNearby
        return [p for p in self.points if start <= p[0] < end]


_TS = RegisterReading.__table__.c.ts.type
# The newest reading of each device below the floor: one index seek per device.
_BELOW = {
    "postgresql": "SELECT d.id, r.ts, r.value FROM unnest(CAST(:ids AS text[])) AS d(id) "
                  "JOIN LATERAL (SELECT ts, value FROM register_readings WHERE device_id = d.id "
                  "AND ts < :floor ORDER BY ts DESC LIMIT 1) AS r ON true",
    "sqlite": "SELECT j.value, (SELECT ts FROM register_readings WHERE device_id = j.value "
              "AND ts < :floor ORDER BY ts DESC LIMIT 1) AS ts, (SELECT value FROM "
              "register_readings WHERE device_id = j.value AND ts < :floor ORDER BY ts DESC "
              "LIMIT 1) AS value FROM json_each(:ids) AS j",
}


async def _below(session: AsyncSession, device_ids: list[str],
                 floor: datetime) -> dict[str, tuple[datetime, float]]:
    """The newest reading before `floor` of each device that has one: an index seek each."""
    dialect = session.get_bind().dialect.name
    below = text(_BELOW[dialect] if dialect in _BELOW else _BELOW["postgresql"]).bindparams(
        bindparam("floor", type_=_TS)).columns(ts=_TS)
    ids: Any = device_ids if dialect == "postgresql" else json.dumps(device_ids)
    connection = await session.connection()  # Core rows: no ORM result processing
    rows = await connection.execute(below, {"ids": ids, "floor": floor})
    return {device_id: (ts, value) for device_id, ts, value in rows if ts is not None}


async def _nearby(session: AsyncSession, device_ids: list[str],
                  floor: datetime) -> dict[str, _Nearby]:
    """What the batched path knows of each device: its readings from `floor` on and the
    newest one before it."""
    views = {d: _Nearby(None, []) for d in device_ids}
    for device_id, point in (await _below(session, device_ids, floor)).items():
        views[device_id].known_from = point[0]
        views[device_id].points.append(point)
    table = RegisterReading.__table__.c
    connection = await session.connection()
    rows = await connection.execute(
        select(table.device_id, table.ts, table.value)
        .where(table.device_id.in_(device_ids), table.ts >= floor)
        .order_by(table.device_id, table.ts)
    )
    for device_id, ts, value in rows.all():
        views[device_id].points.append((ts, value))
    return views


@dataclass
class HourWrites:
    """The hours recomputed in one batch, written with a few statements at the end."""

    rows: list[dict[str, Any]] = field(default_factory=list)  # hours recomputed
    empty: list[tuple[str, str, datetime]] = field(default_factory=list)  # now without data
    added: list[dict[str, Any]] = field(default_factory=list)  # what appended readings add

    async def write(self, session: AsyncSession) -> None:
        for i in range(0, len(self.empty), CHUNK):
            await session.execute(delete(HourlyUsage).where(
                tuple_(HourlyUsage.device_id, HourlyUsage.metric, HourlyUsage.hour)
                .in_(self.empty[i : i + CHUNK])))
        if self.rows:
            stmt = dialect_insert(session, HourlyUsage.__table__)
            connection = await session.connection()
            await connection.execute(stmt.on_conflict_do_update(
                index_elements=["device_id", "metric", "hour"],
                set_={name: stmt.excluded[name]
                      for name in ("elder_id", "value", "readings", "flagged")},
            ), self.rows)
        if self.added:
            stmt = dialect_insert(session, HourlyUsage.__table__)
            table = HourlyUsage.__table__.c
            connection = await session.connection()
            await connection.execute(stmt.on_conflict_do_update(
                index_elements=["device_id", "metric", "hour"],
                set_={"elder_id": stmt.excluded.elder_id,
                      "value": table.value + stmt.excluded.value,
                      "readings": table.readings + stmt.excluded.readings,
                      "flagged": or_(table.flagged, stmt.excluded.flagged)},
            ), self.added)


async def _recompute(source: _Stored | _Nearby, device_id: str, metric: str,
                     elder_id: str | None, stamps: list[datetime], out: HourWrites) -> None:
    # Both paths compute into a fresh HourWrites: a NotNearby half-way leaves `out` untouched.
    mine = HourWrites()
    if metric == "motion":
        await _recompute_counts(source, device_id, elder_id, stamps, mine)
    else:
        await _recompute_register(source, device_id, metric, elder_id, stamps, mine)
    out.rows += mine.rows
    out.empty += mine.empty


async def _neighbour(
    session: AsyncSession, device_id: str, moment: datetime, *, before: bool
) -> tuple[datetime, float] | None:
    """The reading just before `moment` (strictly), or at or after it."""
    ts = RegisterReading.ts
    query = select(ts, RegisterReading.value).where(RegisterReading.device_id == device_id)
    query = query.where(ts < moment).order_by(ts.desc()) if before else query.where(
        ts >= moment).order_by(ts)
    row = (await session.execute(query.limit(1))).first()
    return None if row is None else (row[0], row[1])


async def _between(
    session: AsyncSession, device_id: str, start: datetime, end: datetime
) -> list[tuple[datetime, float]]:
    rows = await session.execute(
        select(RegisterReading.ts, RegisterReading.value)
        .where(RegisterReading.device_id == device_id, RegisterReading.ts >= start,
               RegisterReading.ts < end)
        .order_by(RegisterReading.ts)
    )
    return [(ts, value) for ts, value in rows.all()]


def local_midnight(moment: datetime) -> datetime:
    """The start (in UTC) of the Asia/Shanghai day that holds `moment`."""
    # Asia/Shanghai's offset is whole hours: the answer depends only on the hour.
    return _midnight_of_hour(hour_floor(moment))


@lru_cache(maxsize=8192)
def _midnight_of_hour(hour: datetime) -> datetime:
    local = hour.astimezone(LOCAL_TZ)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return start.astimezone(hour.tzinfo)


async def _recompute_register(
    source: _Stored | _Nearby, device_id: str, metric: str, elder_id: str | None,
    stamps: list[datetime], out: HourWrites,
) -> None:
    first, last = min(stamps), max(stamps)
    previous = await source.neighbour(device_id, first, True)
    following = await source.neighbour(device_id, last + timedelta(microseconds=1), False)
    lo = previous[0] if previous else first
    if metric == "steps" and previous is None:
        lo = local_midnight(first)  # the day's first count runs from local midnight
    hi = following[0] if following else last
    start, end = hour_floor(lo), hour_floor(hi) + HOUR
    points = await source.between(device_id, start, end)
    outer_before = await source.neighbour(device_id, start, True)
    outer_after = await source.neighbour(device_id, end, False)
    hours = _hours_from(points, start, end)
    sequence = ([outer_before] if outer_before else []) + points + (
        [outer_after] if outer_after else [])
    for index, (b_ts, b_value) in enumerate(sequence):
        prior = sequence[index - 1] if index else None
        if metric == "steps" and (
            prior is None or local_midnight(prior[0]) != local_midnight(b_ts)
        ):
            if index or outer_before is None:
                # Steps count from zero at local midnight: that is this reading's interval.
                _spread(hours, metric, local_midnight(b_ts), b_ts, b_value)
            continue
        if prior is not None:
            _spread(hours, metric, prior[0], b_ts, b_value - prior[1])
    _write_hours(out, device_id, metric, elder_id, hours)


def _hours_from(
    points: list[tuple[datetime, float]], start: datetime, end: datetime
) -> dict[datetime, Hour]:
    hours: dict[datetime, Hour] = {}
    moment = start
    while moment < end:
        hours[moment] = Hour()
        moment += HOUR
    for ts, _ in points:
        slot = hours[hour_floor(ts)]
        slot.readings += 1
        slot.known = True
    return hours


def _spread(
    hours: dict[datetime, Hour], metric: str, a: datetime, b: datetime, delta: float
) -> None:
    """Share `delta` over [a, b) in proportion to time; a drop or an absurd jump is flagged."""
    span = (b - a).total_seconds()
    if span <= 0:
        return
    limit = ABSURD_PER_HOUR[metric] * max(span / 3600.0, ABSURD_MIN_HOURS)
    counted = 0.0 <= delta <= limit
    moment = hour_floor(a)
    while moment < b:
        slot = hours.get(moment)
        if slot is not None:
            slot.known = True
            if counted:
                overlap = (min(b, moment + HOUR) - max(a, moment)).total_seconds()
                slot.value += delta * overlap / span
            else:
                slot.flagged = True
        moment += HOUR


async def _recompute_counts(
    source: _Stored | _Nearby, device_id: str, elder_id: str | None, stamps: list[datetime],
    out: HourWrites,
) -> None:
    """Motion: 1 per active reading, summed in the hour of the reading."""
    start, end = hour_floor(min(stamps)), hour_floor(max(stamps)) + HOUR
    points = await source.between(device_id, start, end)
    hours = _hours_from(points, start, end)
    for ts, value in points:
        hours[hour_floor(ts)].value += value
    _write_hours(out, device_id, "motion", elder_id, hours)


def _write_hours(
    out: HourWrites, device_id: str, metric: str, elder_id: str | None,
    hours: dict[datetime, Hour],
) -> None:
    """Replace the rows of the hours recomputed: upsert those with data, delete the others."""
    out.rows += [
        {"device_id": device_id, "metric": metric, "hour": hour, "elder_id": elder_id,
         "value": slot.value, "readings": slot.readings, "flagged": slot.flagged}
        for hour, slot in hours.items() if slot.known
    ]
    out.empty += [(device_id, metric, hour) for hour, slot in hours.items() if not slot.known]


async def usage_series(
    session: AsyncSession, elder_id: str, metric: str, start: datetime, end: datetime,
    max_points: int,
) -> list[tuple[datetime, float]]:
    """An elder's usage summed over devices, in buckets of whole hours, at most `max_points`."""
    first = hour_floor(start)
    if end <= first:
        return []
    rows = await session.execute(
        select(HourlyUsage.hour, func.sum(HourlyUsage.value))
        .where(HourlyUsage.elder_id == elder_id, HourlyUsage.metric == metric,
               HourlyUsage.hour >= first, HourlyUsage.hour < end)
        .group_by(HourlyUsage.hour)
        .order_by(HourlyUsage.hour)
    )
    span_hours = math.ceil((end - first) / HOUR)
    width = HOUR * max(1, math.ceil(span_hours / max(1, max_points)))
    buckets: dict[datetime, float] = {}
    for hour, total in rows.all():
        key = first + width * ((hour - first) // width)
        buckets[key] = buckets.get(key, 0.0) + float(total or 0.0)
    return sorted(buckets.items())
