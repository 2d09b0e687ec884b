"""The embedded backend: raw points in a SQLite file of their own (WAL, batched inserts)."""

from __future__ import annotations

import logging
import math
import sqlite3
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import aiosqlite

from monitor.config import TelemetryConfig
from monitor.metrics import Metrics
from monitor.telemetry.batcher import Batcher
from monitor.telemetry.lineproto import EPOCH, epoch_ms
from monitor.telemetry.reading import Reading
from monitor.telemetry.store import DeadLetter, bucket_ms
from monitor.timeutil import utcnow

logger = logging.getLogger(__name__)

# (device_id, field, ts_ms, measurement, elder_id, value, text): one row per field.
Row = tuple[str, str, int, str, str | None, float | None, str | None]

SCHEMA = """
CREATE TABLE IF NOT EXISTS points (
    device_id TEXT NOT NULL,
    field TEXT NOT NULL,
    ts INTEGER NOT NULL,
    measurement TEXT NOT NULL,
    elder_id TEXT,
    value REAL,
    text TEXT,
    PRIMARY KEY (device_id, field, ts)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS points_ts ON points (ts);
"""
INSERT = "INSERT OR REPLACE INTO points VALUES (?, ?, ?, ?, ?, ?, ?)"
RETENTION_EVERY_S = 3600.0


def to_rows(reading: Reading) -> list[Row]:
    """One row per field; numbers and booleans in `value`, strings in `text`."""
    ts = epoch_ms(reading.ts)
    rows: list[Row] = []
    for name, value in reading.fields.items():
        number: float | None = None
        text: str | None = None
        if isinstance(value, str):
            text = value
        else:
            number = float(value)
            if not math.isfinite(number):
                continue
        rows.append((reading.device_id, name, ts, reading.device_type, reading.elder_id,
                     number, text))
    return rows


class SQLiteTelemetryStore:
    """TelemetryStore in one SQLite file; points older than `retention_days` are deleted."""

    def __init__(
        self, config: TelemetryConfig, metrics: Metrics, dead_letter: DeadLetter | None = None
    ) -> None:
        self.config = config
        self.path = Path(config.sqlite_path)
        self.metrics = metrics
        self._points = metrics.telemetry_points
        self._conn: aiosqlite.Connection | None = None
        self._pruned_at = 0.0
        self.batcher: Batcher[Row] = Batcher(
            self._ship, batch_size=config.batch_size, interval_s=config.flush_interval_s,
            max_pending=max(config.batch_size * 20, 100_000), overflow=self._overflow,
            idle=self._maybe_prune, name="sqlite telemetry",
        )

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = await aiosqlite.connect(self.path)
        await self._conn.execute("PRAGMA journal_mode=WAL")
        await self._conn.execute("PRAGMA synchronous=NORMAL")
        await self._conn.execute("PRAGMA busy_timeout=10000")
        await self._conn.executescript(SCHEMA)
        await self._conn.commit()
        await self._maybe_prune()
        self.batcher.start()

    async def write(self, readings: Sequence[Reading]) -> None:
        """Buffer the readings' rows; a writer far ahead of the disk waits for a flush."""
        self.batcher.add(row for reading in readings for row in to_rows(reading))
        if self.batcher.pending >= 2 * self.batcher.batch_size:
            await self.batcher.flush()

    async def flush(self) -> None:
        await self.batcher.flush()

    async def close(self) -> None:
        await self.batcher.close()
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def _ship(self, rows: list[Row]) -> list[Row]:
        assert self._conn is not None, "start() the store first"
        try:
            await self._conn.executemany(INSERT, rows)
            await self._conn.commit()
        except sqlite3.Error as exc:
            self.metrics.telemetry_writes.labels(result="unavailable").inc()
            logger.error("telemetry SQLite write failed (%s); will try again", exc)
            await self._conn.rollback()
            return rows
        self.metrics.telemetry_writes.labels(result="ok").inc()
        self._points.labels(outcome="written").inc(len(rows))
        return []

    def _overflow(self, rows: list[Row]) -> None:
        self._points.labels(outcome="dropped").inc(len(rows))
        logger.error("telemetry SQLite behind: dropped the oldest %s points", len(rows))

    async def _maybe_prune(self) -> None:
        if self._conn is None or time.monotonic() - self._pruned_at < RETENTION_EVERY_S:
            return
        self._pruned_at = time.monotonic()
        await self.prune(utcnow() - timedelta(days=self.config.retention_days))

    async def prune(self, before: datetime) -> int:
        """Delete points older than `before`; return how many went."""
        assert self._conn is not None, "start() the store first"
        cursor = await self._conn.execute("DELETE FROM points WHERE ts < ?", (epoch_ms(before),))
        await self._conn.commit()
        if cursor.rowcount:
            logger.info("telemetry retention deleted %s points", cursor.rowcount)
        return int(cursor.rowcount)

    async def query(
        self, device_ids: Sequence[str], field: str, start: datetime, end: datetime,
        max_points: int,
    ) -> list[tuple[datetime, float]]:
        """Mean of `field` per bucket, across the devices, at most `max_points` buckets."""
        assert self._conn is not None, "start() the store first"
        if not device_ids or end <= start:
            return []
        width = bucket_ms(start, end, max_points)
        start_ms = epoch_ms(start)
        marks = ",".join("?" for _ in device_ids)
        cursor = await self._conn.execute(
            f"SELECT (ts - ?) / ? AS bucket, avg(value) FROM points "  # noqa: S608 - only marks
            f"WHERE device_id IN ({marks}) AND field = ? AND ts >= ? AND ts < ? "
            "AND value IS NOT NULL GROUP BY bucket ORDER BY bucket",
            (start_ms, width, *device_ids, field, start_ms, epoch_ms(end)),
        )
        rows = await cursor.fetchall()
        return [
            (EPOCH + timedelta(milliseconds=start_ms + int(bucket) * width), float(mean))
            for bucket, mean in rows
        ]
