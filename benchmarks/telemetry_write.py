"""Readings per second through the telemetry store, to InfluxDB (its own influxd) and SQLite."""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.report import Row
from monitor.config import InfluxConfig, TelemetryConfig
from monitor.metrics import Metrics
from monitor.telemetry.reading import Reading
from monitor.telemetry.store import TelemetryStore, make_telemetry_store

READINGS = 200_000
CHUNK = 1_000  # readings handed to write() at once, like one ingest batch
BASE = datetime(2026, 12, 3, tzinfo=UTC)


def readings(count: int) -> list[Reading]:
    """A mix of meters and wearables, 500 devices, one reading each a minute."""
    out: list[Reading] = []
    for i in range(count):
        device, at = i % 500, BASE + timedelta(minutes=i // 500)
        if device % 2:
            out.append(Reading(f"wm-{device:03d}", "water_meter", f"E{device:04d}", at,
                               {"total_m3": 100 + i / 1000, "flow_lpm": float(i % 7)}))
        else:
            out.append(Reading(f"w-{device:03d}", "wearable", f"E{device:04d}", at,
                               {"heart_rate": 60 + i % 30, "spo2": 97, "steps": i % 9000}))
    return out


async def measure(store: TelemetryStore, data: list[Reading]) -> float:
    """Readings per second from the first write until everything is stored."""
    await store.start()
    started = time.perf_counter()
    for i in range(0, len(data), CHUNK):
        await store.write(data[i : i + CHUNK])
        await asyncio.sleep(0)
    await store.close()
    return len(data) / (time.perf_counter() - started)


def rows(count: int, workdir: Path) -> list[Row]:
    """The numbers of `measure_both` as rows of the benchmark table."""
    results = measure_both(count)
    note = f"{count:,} readings handed over in chunks of {CHUNK:,}"
    out = [Row("telemetry write", "TelemetryStore, SQLite backend", "readings/s",
               results["sqlite_readings_per_s"], note=note)]
    if results.get("influxdb_readings_per_s") is not None:
        out.append(Row("telemetry write", "TelemetryStore, InfluxDB backend", "readings/s",
                       results["influxdb_readings_per_s"],
                       note=note + f"; {results.get('influxdb_points_checked', 0):,} "
                                   "counted in influxd afterwards"))
    return out


def run() -> dict[str, Any]:
    """Run both backends; print a small table; return the numbers."""
    results = measure_both(READINGS)
    print(f"telemetry write: {READINGS:,} readings in chunks of {CHUNK:,}")
    print(f"  {'backend':<10} {'readings/s':>12}")
    for backend in ("sqlite", "influxdb"):
        value = results[f"{backend}_readings_per_s"]
        print(f"  {backend:<10} {value if value is None else f'{value:,}':>12}")
    if results.get("influxdb_points_checked") is not None:
        print(f"  influxdb holds {results['influxdb_points_checked']:,} readings afterwards")
    return results


def measure_both(count: int) -> dict[str, Any]:
    """Readings per second into SQLite and (with its own influxd) InfluxDB."""
    from tests.fixtures.influxdb import Influxd, influxd_available

    data = readings(count)
    results: dict[str, Any] = {"readings": count, "chunk": CHUNK}
    workdir = Path(tempfile.mkdtemp(prefix="tanfang-bench-"))
    try:
        sqlite_config = TelemetryConfig(backend="sqlite", sqlite_path=str(workdir / "t.db"))
        results["sqlite_readings_per_s"] = round(
            asyncio.run(measure(make_telemetry_store(sqlite_config, Metrics()), data))
        )
        if influxd_available():
            server = Influxd(workdir / "influxd")
            server.start()
            try:
                influx = TelemetryConfig(backend="influxdb", influxdb=InfluxConfig(
                    url=server.url, database="bench", spool_dir=str(workdir / "spool"),
                ))
                results["influxdb_readings_per_s"] = round(
                    asyncio.run(measure(make_telemetry_store(influx, Metrics()), data))
                )
                stored = server.query("bench", "SELECT count(heart_rate) FROM wearable")
                results["influxdb_points_checked"] = stored[0]["values"][0][1] * 2
            finally:
                server.stop()
        else:
            results["influxdb_readings_per_s"] = None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return results


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    run()
