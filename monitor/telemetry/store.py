"""The telemetry store: raw readings to InfluxDB or to an embedded SQLite file."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from monitor.config import TelemetryConfig
from monitor.metrics import Metrics
from monitor.telemetry.reading import Reading

# dead_letter(reason, payload, error): a line the backend refused, kept for people to read.
DeadLetter = Callable[[str, str, str], Awaitable[None]]


class TelemetryStore(Protocol):
    """Where raw readings go; `write` only buffers and never raises on a backend outage."""

    async def start(self) -> None: ...

    async def write(self, readings: Sequence[Reading]) -> None: ...

    async def flush(self) -> None: ...

    async def close(self) -> None: ...

    async def query(
        self, device_ids: Sequence[str], field: str, start: datetime, end: datetime,
        max_points: int,
    ) -> list[tuple[datetime, float]]: ...


def make_telemetry_store(
    config: TelemetryConfig, metrics: Metrics, dead_letter: DeadLetter | None = None
) -> TelemetryStore:
    """The backend the configuration names."""
    if config.backend == "influxdb":
        from monitor.telemetry.influx import InfluxStore

        return InfluxStore(config.influxdb, metrics, dead_letter)
    from monitor.telemetry.sqlite import SQLiteTelemetryStore

    return SQLiteTelemetryStore(config, metrics, dead_letter)


def bucket_ms(start: datetime, end: datetime, max_points: int) -> int:
    """Bucket width (ms) so that [start, end) holds at most `max_points` buckets."""
    span = max(1, math.ceil((end - start) / timedelta(milliseconds=1)))
    return max(1, math.ceil(span / max(1, max_points)))
