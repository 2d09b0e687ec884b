"""The registered devices, cached in memory for the hot path and refreshed from the store."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from sqlalchemy import select

from monitor.store.db import Database
from monitor.store.models import Device, Elder

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    id: str
    type: str
    elder_id: str | None
    community_id: str | None


class DeviceDirectory:
    """device_id -> DeviceInfo; a miss looks in the store (a registry loaded since) at most
    once per `miss_ttl_s`, so a flood from an unknown device costs no query per message."""

    def __init__(self, db: Database, miss_ttl_s: float = 30.0) -> None:
        self._db = db
        self._devices: dict[str, DeviceInfo] = {}
        self._misses: dict[str, float] = {}
        self._miss_ttl_s = miss_ttl_s

    def __len__(self) -> int:
        return len(self._devices)

    async def load(self) -> None:
        """Read every registered device."""
        async with self._db.sessions() as session:
            rows = await session.execute(
                select(Device.id, Device.type, Device.elder_id, Elder.community_id).outerjoin(
                    Elder, Elder.id == Device.elder_id
                )
            )
            self._devices = {r[0]: DeviceInfo(r[0], r[1], r[2], r[3]) for r in rows}
        self._misses.clear()
        logger.info("device directory: %d devices", len(self._devices))

    def get_cached(self, device_id: str) -> DeviceInfo | None:
        return self._devices.get(device_id)

    async def get(self, device_id: str) -> DeviceInfo | None:
        """The device, looking in the store on a miss (rate-limited per device)."""
        info = self._devices.get(device_id)
        if info is not None:
            return info
        now = time.monotonic()
        if now - self._misses.get(device_id, -1e9) < self._miss_ttl_s:
            return None
        self._misses[device_id] = now
        if len(self._misses) > 100_000:
            self._misses.clear()
        async with self._db.sessions() as session:
            row = (
                await session.execute(
                    select(Device.id, Device.type, Device.elder_id, Elder.community_id)
                    .outerjoin(Elder, Elder.id == Device.elder_id)
                    .where(Device.id == device_id)
                )
            ).first()
        if row is None:
            return None
        info = DeviceInfo(row[0], row[1], row[2], row[3])
        self._devices[device_id] = info
        self._misses.pop(device_id, None)
        return info
