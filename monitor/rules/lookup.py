"""Small set-based lookups the sweeps make for their few candidates, in chunks."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from monitor.store.models import Absence, Device, Elder, RegisterReading

CHUNK = 1000


@dataclass(frozen=True)
class ElderInfo:
    id: str
    community_id: str | None
    categories: tuple[str, ...]
    active: bool


@dataclass
class DeviceRow:
    """What the sweeps read of a device row."""

    id: str
    type: str
    elder_id: str | None
    last_seen_at: datetime | None
    last_active_at: datetime | None = None
    last_idle_at: datetime | None = None
    battery_pct: float | None = None
    last_reading: dict[str, Any] | None = field(default=None, repr=False)

    def horizon(self, now: datetime, newest: dict[str, datetime]) -> datetime:
        """Event time up to which its telemetry is known (batched meters upload late)."""
        known = newest.get(self.id, self.last_seen_at)
        if self.type == "motion_sensor":  # speaks only when something moves; status says it is up
            known = self.last_seen_at
        return min(now, known) if known is not None else now


async def newest_readings(session: AsyncSession, devices: Iterable[DeviceRow]
                          ) -> dict[str, datetime]:
    """Event time of the newest register reading of each metered device, one query a chunk
    (a correlated max over the (device_id, ts) key: an index seek per device)."""
    ids = sorted({d.id for d in devices if d.type != "motion_sensor"})
    out: dict[str, datetime] = {}
    for chunk in chunks(ids):
        newest = (select(func.max(RegisterReading.ts))
                  .where(RegisterReading.device_id == Device.id).scalar_subquery())
        rows = await session.execute(select(Device.id, newest).where(Device.id.in_(chunk)))
        out.update({device_id: ts for device_id, ts in rows.all() if ts is not None})
    return out


DEVICE_COLUMNS = (Device.id, Device.type, Device.elder_id, Device.last_seen_at,
                  Device.last_active_at, Device.last_idle_at, Device.battery_pct,
                  Device.last_reading)


def device_rows(rows: Iterable[Any]) -> list[DeviceRow]:
    return [DeviceRow(*row) for row in rows]


def chunks(items: list[str]) -> Iterable[list[str]]:
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


async def elders_of(session: AsyncSession, ids: Iterable[str]) -> dict[str, ElderInfo]:
    """Community, categories and active flag of these elders."""
    out: dict[str, ElderInfo] = {}
    for chunk in chunks(sorted(set(ids))):
        rows = await session.execute(
            select(Elder.id, Elder.community_id, Elder.categories, Elder.active)
            .where(Elder.id.in_(chunk)))
        for elder_id, community, cats, active in rows.all():
            out[elder_id] = ElderInfo(elder_id, community, tuple(cats or ()), bool(active))
    return out


async def devices_of(
    session: AsyncSession, elder_ids: Iterable[str], types: Iterable[str]
) -> dict[str, list[DeviceRow]]:
    """The devices of these types of each elder."""
    out: dict[str, list[DeviceRow]] = defaultdict(list)
    kinds = sorted(types)
    for chunk in chunks(sorted(set(elder_ids))):
        rows = await session.execute(select(*DEVICE_COLUMNS).where(
            Device.elder_id.in_(chunk), Device.type.in_(kinds)).order_by(Device.id))
        for row in device_rows(rows.all()):
            out[str(row.elder_id)].append(row)
    return out


async def absences_of(
    session: AsyncSession, elder_ids: Iterable[str], since: datetime, now: datetime
) -> dict[str, list[tuple[datetime, datetime]]]:
    """Planned absences of these elders that overlap [since, now]."""
    out: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for chunk in chunks(sorted(set(elder_ids))):
        rows = await session.execute(
            select(Absence.elder_id, Absence.starts_at, Absence.ends_at)
            .where(Absence.elder_id.in_(chunk), Absence.ends_at > since,
                   Absence.starts_at <= now))
        for elder_id, start, end in rows.all():
            out[elder_id].append((start, end))
    return out
