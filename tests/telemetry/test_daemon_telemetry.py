"""Meter telemetry through a real broker and a running daemon lands in both stores."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor.store.db import Database
from monitor.store.models import HourlyUsage
from tests.fixtures.daemon import Daemon
from tests.fixtures.influxdb import Influxd

TOTALS = [10.000, 10.020, 10.050, 10.050, 10.110]  # on five successive hours
USAGE = [0.020, 0.030, 0.0, 0.060]


def past_hours() -> list[datetime]:
    """Five whole UTC hours, the last one at least an hour ago (never in the future)."""
    last = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    return [last - timedelta(hours=4 - h) for h in range(5)]


def publish_day(daemon: Daemon, hours: list[datetime]) -> None:
    """An NB-IoT water meter's late backlog (one JSON array, out of order) and a power reading."""
    backlog = [{"ts": int(h.timestamp() * 1000), "total_m3": total, "flow_lpm": 0.0}
               for h, total in zip(hours, TOTALS, strict=True)]
    backlog.reverse()
    daemon.broker.publish("tanfang/v1/wm-0001/telemetry", json.dumps(backlog), qos=1)
    daemon.broker.publish("tanfang/v1/pm-0001/telemetry", json.dumps(
        {"ts": int(hours[-1].timestamp() * 1000), "total_kwh": 812.5, "power_w": 64}), qos=1)


async def hourly(daemon: Daemon) -> dict[datetime, float]:
    """Water usage per hour of wm-0001, polled until the four hours are there."""
    db = Database(daemon.database_url)
    try:
        for _ in range(200):
            async with db.sessions() as session:
                rows = (await session.execute(
                    select(HourlyUsage).where(HourlyUsage.device_id == "wm-0001",
                                              HourlyUsage.metric == "water_m3")
                )).scalars().all()
            got = {r.hour.replace(tzinfo=UTC) if r.hour.tzinfo is None else r.hour: r.value
                   for r in rows if r.elder_id == "E0001"}
            if len(got) >= 4:
                return got
            await asyncio.sleep(0.1)
        return got
    finally:
        await db.close()


def assert_usage(got: dict[datetime, float], hours: list[datetime]) -> None:
    assert [got.get(h) for h in hours[:4]] == pytest.approx(USAGE, abs=1e-9)


async def test_meter_readings_reach_the_sqlite_store_and_hourly_usage(daemon: Daemon) -> None:
    daemon.start()
    hours = past_hours()
    publish_day(daemon, hours)
    assert_usage(await hourly(daemon), hours)
    daemon.stop()  # the daemon writes what is pending on the way down
    with sqlite3.connect(daemon.directory / "tele.db") as conn:
        rows = conn.execute(
            "SELECT device_id, field, ts, elder_id, value FROM points "
            "WHERE field IN ('total_m3', 'total_kwh') ORDER BY device_id, ts").fetchall()
    assert [r[4] for r in rows if r[0] == "wm-0001"] == TOTALS
    assert {r[3] for r in rows} == {"E0001"}
    assert ("pm-0001", "total_kwh", int(hours[-1].timestamp() * 1000), "E0001", 812.5) in rows


async def test_meter_readings_reach_influxdb_through_the_daemon(
    daemon: Daemon, influxd: Influxd, tmp_path: Path
) -> None:
    daemon.extra = {"telemetry": {"backend": "influxdb", "influxdb": {
        "url": influxd.url, "database": "tanfang", "spool_dir": str(tmp_path / "spool"),
        "flush_interval_s": 0.2}}}
    daemon.write_config()
    daemon.start()
    hours = past_hours()
    publish_day(daemon, hours)
    assert_usage(await hourly(daemon), hours)
    series: list[dict[str, object]] = []
    for _ in range(100):
        series = influxd.query("tanfang", 'SELECT "total_m3", "elder_id" FROM "water_meter" '
                               "WHERE \"device_id\" = 'wm-0001'")
        if series and len(series[0]["values"]) == len(TOTALS):  # type: ignore[arg-type]
            break
        await asyncio.sleep(0.1)
    values = series[0]["values"] if series else []
    assert [(ts, total, elder) for ts, total, elder in values] == [  # type: ignore[union-attr]
        (int(h.timestamp() * 1000), total, "E0001") for h, total in zip(hours, TOTALS,
                                                                           strict=True)]
