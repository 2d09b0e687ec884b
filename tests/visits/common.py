"""Helpers of the visit and coverage tests: a past week, hourly meter readings, elders."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from monitor.store.db import Database
from monitor.store.models import Device
from monitor.telemetry.reading import Reading
from monitor.telemetry.usage import record_usage
from monitor.visits.weeks import IsoWeek, day_start

WEEK = IsoWeek(2026, 45)  # Monday 2 November to Sunday 8 November 2026
AFTER = WEEK.end + timedelta(hours=1)  # Monday 9 November, 01:00 local: the week is complete
H = timedelta(hours=1)
FIELD = {"water_meter": "total_m3", "power_meter": "total_kwh"}


def meter_readings(
    device_id: str, device_type: str, elder_id: str, days: Iterable[date],
    per_hour: float | Callable[[date], float] = 0.01,
) -> list[Reading]:
    """Hourly register readings through each given local day (and the next midnight)."""
    readings = []
    total = 100.0
    for day in sorted(days):
        rate = per_hour(day) if callable(per_hour) else per_hour
        start = day_start(day).astimezone(UTC)
        for h in range(25):
            ts = start + h * H
            readings.append(Reading(device_id, device_type, elder_id, ts,
                                    {FIELD[device_type]: round(total + rate * h, 6)}))
        total += rate * 24
    return readings


def days_between(first: date, last: date, skip: Iterable[date] = ()) -> list[date]:
    """Every date from `first` to `last` inclusive, but the skipped ones."""
    skipped = set(skip)
    out, day = [], first
    while day <= last:
        if day not in skipped:
            out.append(day)
        day += timedelta(days=1)
    return out


async def feed(db: Database, readings: list[Reading]) -> None:
    async with db.transaction() as session:
        await record_usage(session, readings)


async def installed_long_ago(db: Database) -> None:
    """make_elder installs devices now; these tests look at weeks in the past."""
    async with db.transaction() as session:
        await session.execute(update(Device).values(
            installed_at=datetime(2026, 1, 1, tzinfo=UTC)))


def history_and_week(skip: Iterable[date] = ()) -> list[date]:
    """14 days before the test week, then the week itself."""
    return days_between(WEEK.monday - timedelta(days=14), WEEK.days()[-1], skip)


async def activity_devices(session: AsyncSession, elder_id: str) -> list[Device]:
    """The elder's devices that the remote check reads."""
    return list((await session.execute(select(Device).where(
        Device.elder_id == elder_id, Device.type != "call_button"))).scalars())
