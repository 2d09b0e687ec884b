"""Row locks in one order, so that transactions writing many of the same rows never deadlock."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from monitor.store.models import Device


async def lock_devices(session: AsyncSession, device_ids: Iterable[str]) -> None:
    """Lock these device rows, in id order, before a transaction's updates take them.

    Device activity (`Pipeline.flush_activity`) and the reading rules (`RuleEngine.on_readings`)
    each update hundreds of device rows in a few statements; on PostgreSQL two such transactions
    that took the same rows in different orders deadlocked. SQLite's one writer needs no locks.
    """
    ids = sorted(set(device_ids))
    if not ids or session.get_bind().dialect.name != "postgresql":
        return
    await session.execute(select(Device.id).where(Device.id.in_(ids)).order_by(Device.id)
                          .with_for_update())
