"""Usage per hour written behind the ingest path: readings buffered, recorded in batches.

Ingest hands the register readings over and acknowledges the messages; a background task
records them (monitor/telemetry/usage.py) a batch at a time, so one batch's store work
overlaps the next batch's decoding and large batches share their queries. A writer far
behind makes ingest wait for a flush, so the backlog stays bounded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from monitor.ingest.pipeline import is_operational
from monitor.store.db import Database
from monitor.telemetry.batcher import Batcher
from monitor.telemetry.reading import Reading
from monitor.telemetry.usage import counts_for_usage, record_usage

logger = logging.getLogger(__name__)

DEVICES_PER_TRANSACTION = 200


class ReadingRules(Protocol):
    """Rules that read usage as it is recorded (monitor/rules/engine.RuleEngine)."""

    async def on_readings(self, session: AsyncSession, readings: Sequence[Reading]) -> Any:
        """Judge the readings inside the usage transaction; return what to announce."""
        ...

    def announce(self, opened: Any) -> None:
        """Tell the listeners, after the commit."""
        ...


class UsageWriter:
    """Buffers register and wearable readings, records usage per hour and runs the reading
    rules on them in batches."""

    def __init__(self, db: Database, rules: ReadingRules | None = None,
                 batch_size: int = 5000, interval_s: float = 1.0) -> None:
        self.db = db
        self.rules = rules
        self.batcher: Batcher[Reading] = Batcher(
            self._ship, batch_size=batch_size, interval_s=interval_s,
            max_pending=max(batch_size * 40, 200_000), overflow=self._overflow, name="usage",
        )

    def start(self) -> None:
        self.batcher.start()

    async def write(self, readings: Sequence[Reading]) -> None:
        """Buffer the readings usage and the rules need; wait for a flush when far behind."""
        self.batcher.add(r for r in readings if counts_for_usage(r) or r.device_type == "wearable")
        if self.batcher.pending >= 2 * self.batcher.batch_size:
            await self.batcher.flush()

    async def flush(self) -> None:
        await self.batcher.flush()

    async def close(self) -> None:
        await self.batcher.close()

    async def _ship(self, readings: list[Reading]) -> list[Reading]:
        # A transaction per few hundred devices (all readings of a device in the same one):
        # SQLite has one writer, and an SOS commit must not wait behind a whole batch.
        by_device: dict[str, list[Reading]] = {}
        for reading in readings:
            by_device.setdefault(reading.device_id, []).append(reading)
        devices = list(by_device)
        for i in range(0, len(devices), DEVICES_PER_TRANSACTION):
            part = [r for d in devices[i : i + DEVICES_PER_TRANSACTION] for r in by_device[d]]
            try:
                async with self.db.transaction(background=True) as session:
                    await record_usage(session, part)
                    opened = await self.rules.on_readings(session, part) if self.rules else None
            except Exception as exc:
                if not (isinstance(exc, OSError | ConnectionError) or is_operational(exc)):
                    logger.exception("usage of %d readings could not be recorded; dropped",
                                     len(part))
                    continue
                logger.warning("store unavailable for usage (%s); will try again", exc)
                return [r for d in devices[i:] for r in by_device[d]]
            if self.rules is not None:
                self.rules.announce(opened)
            await asyncio.sleep(0)  # let a waiting event commit go first
        return []

    @staticmethod
    def _overflow(readings: list[Reading]) -> None:
        logger.error("usage writer behind: dropped the oldest %d readings", len(readings))
