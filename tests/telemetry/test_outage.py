"""No loss while InfluxDB is away: a real influxd stopped mid-ingest, then a full spool."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.metrics import Metrics
from monitor.telemetry.influx import InfluxStore
from monitor.telemetry.reading import Reading
from tests.fixtures.influxdb import Influxd
from tests.telemetry.conftest import influx_config, points

BASE = datetime(2026, 12, 3, tzinfo=UTC)
OUTAGE_S = 30.0


def meter_readings(first: int, count: int) -> list[Reading]:
    """Readings numbered `seq`, each its own point (50 meters, one reading a minute)."""
    return [
        Reading(f"pm-{i % 50:02d}", "power_meter", f"E{i % 50:04d}",
                BASE + timedelta(minutes=i // 50), {"total_kwh": i / 100, "seq": float(i)})
        for i in range(first, first + count)
    ]


async def drained(store: InfluxStore, limit_s: float = 60.0) -> None:
    """Wait until the spool is written out (the limit only guards against a hang)."""
    for _ in range(int(limit_s / 0.1)):
        if not len(store.spool) and not store.batcher.pending:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"spool still holds {len(store.spool)} batches")


def stored_seqs(server: Influxd) -> list[int]:
    series = server.query("tanfang", 'SELECT "seq" FROM "power_meter"')
    return [int(v) for _, v in series[0]["values"]] if series else []


@pytest.mark.slow
async def test_influxdb_stopped_mid_ingest_loses_nothing(influxd: Influxd, tmp_path: Path) -> None:
    metrics = Metrics()
    store = InfluxStore(influx_config(influxd, tmp_path, retry_max_s=2.0), metrics)
    await store.start()
    total, chunk = 50_000, 500
    chunks = [meter_readings(i, chunk) for i in range(0, total, chunk)]
    for readings in chunks[:30]:
        await store.write(readings)
        await asyncio.sleep(0.01)
    await store.flush()
    influxd.stop()
    outage = chunks[30:70]
    for readings in outage:  # ingest goes on for the whole outage
        await store.write(readings)
        await asyncio.sleep(OUTAGE_S / len(outage))
    await store.flush()
    assert len(store.spool) > 0
    influxd.start()
    for readings in chunks[70:]:
        await store.write(readings)
        await asyncio.sleep(0.01)
    await store.flush()
    await drained(store)
    await store.close()
    seqs = stored_seqs(influxd)
    assert len(seqs) == total
    assert sorted(seqs) == list(range(total))
    assert points(metrics, "spooled") >= 40 * chunk
    assert points(metrics, "dropped") == 0


async def test_full_spool_drops_the_oldest_and_counts(influxd: Influxd, tmp_path: Path) -> None:
    influxd.stop()
    metrics = Metrics()
    config = influx_config(influxd, tmp_path, batch_size=100, spool_max_mb=0.01)
    store = InfluxStore(config, metrics)
    await store.start()
    total = 4000
    for first in range(0, total, 100):
        await store.write(meter_readings(first, 100))
        await store.flush()
    dropped = int(points(metrics, "dropped"))
    assert dropped > 0
    assert store.spool.bytes <= 0.01 * 1024 * 1024
    assert metrics.registry.get_sample_value("tanfang_telemetry_spool_bytes") == store.spool.bytes
    influxd.start()
    await drained(store)
    await store.close()
    seqs = sorted(stored_seqs(influxd))
    assert len(seqs) + dropped == total
    assert seqs == list(range(dropped, total))  # exactly the oldest went
