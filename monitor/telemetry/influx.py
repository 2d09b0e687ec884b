"""The InfluxDB backend: batches in memory, an on-disk spool while InfluxDB is away, bisection
of refused batches so only the bad line is dead-lettered."""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Sequence
from datetime import datetime, timedelta

from monitor.config import InfluxConfig
from monitor.metrics import Metrics
from monitor.telemetry.batcher import Batcher
from monitor.telemetry.influx_v1 import InfluxV1Client, quote_ident, quote_string
from monitor.telemetry.lineproto import EPOCH, LineProtocolError, encode_reading, epoch_ms
from monitor.telemetry.reading import Reading
from monitor.telemetry.spool import Spool
from monitor.telemetry.store import DeadLetter, bucket_ms
from monitor.telemetry.writer import BackendUnavailable, BatchRejected, LineWriter

logger = logging.getLogger(__name__)

DEVICE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class InfluxStore:
    """TelemetryStore over a LineWriter (InfluxDB's v1 API by default)."""

    def __init__(
        self, config: InfluxConfig, metrics: Metrics, dead_letter: DeadLetter | None = None,
        client: LineWriter | None = None,
    ) -> None:
        self.config = config
        self.metrics = metrics
        self.dead_letter = dead_letter
        self.client: LineWriter = client or InfluxV1Client(config)
        self.spool = Spool(config.spool_dir, int(config.spool_max_mb * 1024 * 1024))
        self.batcher: Batcher[str] = Batcher(
            self._ship, batch_size=config.batch_size, interval_s=config.flush_interval_s,
            max_pending=config.memory_max_lines, overflow=self._to_spool, idle=self._drain,
            name="influxdb",
        )
        self._backoff = config.retry_initial_s
        self._retry_at = 0.0
        self._points = metrics.telemetry_points
        metrics.telemetry_spool_bytes.set(self.spool.bytes)

    async def start(self) -> None:
        await self.client.prepare()
        self.batcher.start()

    async def write(self, readings: Sequence[Reading]) -> None:
        """Encode and buffer; a reading that cannot be encoded is dead-lettered."""
        lines: list[str] = []
        for reading in readings:
            try:
                lines.append(encode_reading(reading))
            except LineProtocolError as exc:
                self._points.labels(outcome="invalid").inc()
                await self._dead(f"{reading.device_id} {reading.ts.isoformat()} "
                                 f"{reading.fields!r}", str(exc))
        self.batcher.add(lines)
        if self.batcher.pending >= 2 * self.batcher.batch_size and self._healthy():
            await self.batcher.flush()  # back-pressure while InfluxDB keeps up; never in an outage

    def _healthy(self) -> bool:
        return not len(self.spool) and time.monotonic() >= self._retry_at

    async def flush(self) -> None:
        await self.batcher.flush()

    async def close(self) -> None:
        await self.batcher.close()
        await self.client.aclose()

    # Shipping: straight to InfluxDB while the spool is empty, else behind the spool, in order.

    async def _ship(self, lines: list[str]) -> list[str]:
        if not self._healthy():
            self._to_spool(lines)
            return []
        unsent = await self._send(lines)
        if unsent:
            self._to_spool(unsent)
            self._failed()
        return []

    async def _drain(self) -> None:
        """Write spooled batches, oldest first, while InfluxDB takes them."""
        while len(self.spool) and time.monotonic() >= self._retry_at:
            head = self.spool.peek()
            if head is None:
                break
            seq, lines = head
            unsent = await self._send(lines)
            if unsent:
                self._failed()
                return
            self.spool.pop(seq)
            self.metrics.telemetry_spool_bytes.set(self.spool.bytes)
            self._backoff = self.config.retry_initial_s
        if not len(self.spool):
            self._backoff = self.config.retry_initial_s

    async def _send(self, lines: list[str]) -> list[str]:
        """Write lines, bisecting a refused batch; return the lines not written for an outage."""
        try:
            await self.client.write(lines)
        except BackendUnavailable as exc:
            self.metrics.telemetry_writes.labels(result="unavailable").inc()
            logger.warning("InfluxDB unavailable (%s); %s lines wait in the spool", exc, len(lines))
            return lines
        except BatchRejected as exc:
            self.metrics.telemetry_writes.labels(result="rejected").inc()
            if len(lines) == 1:
                self._points.labels(outcome="rejected").inc()
                await self._dead(lines[0], str(exc))
                return []
            middle = len(lines) // 2
            first = await self._send(lines[:middle])
            if first:
                return first + lines[middle:]
            return await self._send(lines[middle:])
        self.metrics.telemetry_writes.labels(result="ok").inc()
        self._points.labels(outcome="written").inc(len(lines))
        return []

    def _to_spool(self, lines: list[str]) -> None:
        dropped = self.spool.append(lines)
        self._points.labels(outcome="spooled").inc(len(lines))
        if dropped:
            self._points.labels(outcome="dropped").inc(dropped)
            logger.error("telemetry spool full: dropped the oldest %s points", dropped)
        self.metrics.telemetry_spool_bytes.set(self.spool.bytes)

    def _failed(self) -> None:
        jitter = random.uniform(0.8, 1.2)  # noqa: S311 - spreading retries, not security
        self._retry_at = time.monotonic() + self._backoff * jitter
        self._backoff = min(self._backoff * 2, self.config.retry_max_s)

    async def _dead(self, payload: str, error: str) -> None:
        logger.warning("telemetry point dead-lettered: %s (%s)", error, payload[:200])
        if self.dead_letter is None:
            return
        try:
            await self.dead_letter("telemetry_rejected", payload, error)
        except Exception:
            logger.exception("could not dead-letter a telemetry point")

    async def query(
        self, device_ids: Sequence[str], field: str, start: datetime, end: datetime,
        max_points: int,
    ) -> list[tuple[datetime, float]]:
        """Mean of `field` per bucket, across the devices, at most `max_points` buckets."""
        ids = [d for d in device_ids if DEVICE_ID.fullmatch(d)]
        if not ids or end <= start:
            return []
        width = bucket_ms(start, end, max_points)
        start_ms, end_ms = epoch_ms(start), epoch_ms(end)
        devices = " OR ".join(f'"device_id" = {quote_string(d)}' for d in ids)
        column = quote_ident(field)
        statement = (
            f"SELECT mean({column}), count({column}) FROM /.*/ WHERE ({devices}) "
            f"AND time >= {start_ms * 1_000_000} AND time < {end_ms * 1_000_000} "
            f"GROUP BY time({width}ms, {start_ms % width}ms) fill(none)"
        )
        sums: dict[int, tuple[float, int]] = {}
        for series in await self.client.query(statement):
            for at, mean, count in series["values"]:
                if mean is None or not count:
                    continue
                total, n = sums.get(at, (0.0, 0))
                sums[at] = (total + float(mean) * count, n + count)
        return [
            (EPOCH + timedelta(milliseconds=at), total / n)
            for at, (total, n) in sorted(sums.items())
        ]
