"""The embedded SQLite backend: batched writes, idempotence, downsampled queries, retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.config import TelemetryConfig
from monitor.metrics import Metrics
from monitor.telemetry.reading import Reading
from monitor.telemetry.sqlite import SQLiteTelemetryStore
from monitor.telemetry.store import make_telemetry_store
from tests.telemetry.conftest import points

BASE = datetime(2026, 12, 3, tzinfo=UTC)


def config(tmp_path: Path) -> TelemetryConfig:
    return TelemetryConfig.model_validate(
        {"backend": "sqlite", "sqlite_path": str(tmp_path / "t" / "telemetry.db")}
    )


async def test_written_points_are_queried_downsampled(tmp_path: Path) -> None:
    metrics = Metrics()
    store = make_telemetry_store(config(tmp_path), metrics)
    assert isinstance(store, SQLiteTelemetryStore)
    await store.start()
    readings = [
        Reading(device, "wearable", "E1", BASE + timedelta(minutes=m),
                {"heart_rate": hr, "steps": m, "note": "好"})
        for m in range(600) for device, hr in (("w-1", 60 + m % 10), ("w-2", 80))
    ]
    await store.write(readings)
    await store.write(readings[:100])  # written again: the same points, not new ones
    await store.close()
    store = SQLiteTelemetryStore(config(tmp_path), metrics)
    await store.start()
    start, end = BASE + timedelta(minutes=30), BASE + timedelta(minutes=630)
    series = await store.query(["w-1", "w-2"], "heart_rate", start, end, 7)
    assert len(series) == 7 and series[0][0] == start
    assert all(69.5 <= value <= 75.5 for _, value in series)
    raw = await store.query(["w-1"], "heart_rate", BASE, BASE + timedelta(minutes=600), 1000)
    assert [v for _, v in raw] == [float(60 + m % 10) for m in range(600)]
    # Each value is stamped with the start of its bucket (600 min / 1000 = 36 s wide).
    assert all(timedelta(0) <= BASE + timedelta(minutes=m) - t < timedelta(seconds=36)
               for m, (t, _) in enumerate(raw))
    assert await store.query(["w-1"], "note", BASE, end, 10) == []  # text has no mean
    assert points(metrics, "written") == 2 * 600 * 3 + 100 * 3
    await store.close()


async def test_retention_deletes_old_points(tmp_path: Path) -> None:
    store = SQLiteTelemetryStore(config(tmp_path), Metrics())
    await store.start()
    now = datetime.now(UTC)
    await store.write([
        Reading("wm-1", "water_meter", None, now - timedelta(days=days), {"total_m3": days})
        for days in (1, 89, 91, 200)
    ])
    await store.flush()
    assert await store.prune(now - timedelta(days=90)) == 2
    left = await store.query(["wm-1"], "total_m3", now - timedelta(days=365), now, 1000)
    assert sorted(v for _, v in left) == [1.0, 89.0]
    await store.close()
