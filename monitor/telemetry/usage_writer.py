"""Usage per hour written behind the ingest path: readings buffered, recorded in batches.

Ingest hands the register readings over and acknowledges the messages; a background task
records them (monitor/telemetry/usage.py) a batch at a time, so one batch's store work
overlaps the next batch's decoding and large batches share their queries. A writer far
behind makes ingest wait for a flush, so the backlog stays bounded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from monitor.ingest.pipeline import is_operational
from monitor.store.db import Database, Preempted
from monitor.telemetry.batcher import Batcher
from monitor.telemetry.reading import Reading
from monitor.telemetry.usage import Grown, counts_for_usage, record_usage

logger = logging.getLogger(__name__)

# How long one usage transaction should hold the writer, and the bounds of its size.
HOLD_S = 0.04
MIN_DEVICES, MAX_DEVICES = 40, 1000


class ReadingRules(Protocol):
    """Rules that read usage as it is recorded (monitor/rules/engine.RuleEngine)."""

    async def on_readings(self, session: AsyncSession, readings: Sequence[Reading],
                          grown: Grown) -> Any:
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
        self.devices_per_transaction = 100
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
        # A transaction per part of the devices (all readings of a device in the same one),
        # sized to hold SQLite's one writer about HOLD_S, and preemptible: an SOS arriving
        # meanwhile has it rolled back and writes first.
        by_device: dict[str, list[Reading]] = {}
        for reading in readings:
            by_device.setdefault(reading.device_id, []).append(reading)
        devices = list(by_device)
        i = 0
        while i < len(devices):
            chunk = devices[i : i + self.devices_per_transaction]
            part = [r for d in chunk for r in by_device[d]]
            try:
                async with self.db.transaction(preemptible=True) as session:
                    began = time.perf_counter()
                    grown = await record_usage(session, part)
                    opened = (await self.rules.on_readings(session, part, grown)
                              if self.rules else None)
                self._fit(len(chunk), time.perf_counter() - began)
            except Preempted:
                continue  # rolled back for an alarm: the same devices again, once it is in
            except Exception as exc:
                if not (isinstance(exc, OSError | ConnectionError) or is_operational(exc)):
                    logger.exception("usage of %d readings could not be recorded; dropped",
                                     len(part))
                    i += len(chunk)
                    continue
                logger.warning("store unavailable for usage (%s); will try again", exc)
                return [r for d in devices[i:] for r in by_device[d]]
            if self.rules is not None:
                self.rules.announce(opened)
            i += len(chunk)
        return []

    def _fit(self, devices: int, held_s: float) -> None:
        """Size the next transaction from how long this one held the writer."""
        per_device = held_s / max(1, devices)
        fitted = HOLD_S / per_device if per_device > 0 else MAX_DEVICES
        # Halfway there each time: one slow transaction (a cold cache) does not halve the next.
        size = (self.devices_per_transaction + fitted) / 2
        self.devices_per_transaction = int(min(MAX_DEVICES, max(MIN_DEVICES, size)))

    @staticmethod
    def _overflow(readings: list[Reading]) -> None:
        logger.error("usage writer behind: dropped the oldest %d readings", len(readings))
