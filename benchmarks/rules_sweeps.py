"""The rule sweeps over many elders on PostgreSQL: candidate queries by index, then Python.

    .venv/bin/python -m benchmarks.rules_sweeps [--elders 1000000] [--pg URL]

Creates a throwaway database with ELDERS elders, each with a water meter and a call
button (0.1 % of the meters silent for 20 h, 0.1 % of the buttons offline), prints the
query plans of the candidate queries and times each `find_*` and a whole sweep.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg

from monitor.config import Config
from monitor.rules.engine import RuleEngine
from monitor.store.db import Database

NOW = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)  # 14:00 in Yaohai


def load(url: str, elders: int) -> float:
    started = time.monotonic()
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("INSERT INTO communities VALUES ('c1', 's', 'n')")
        c.execute(f"""INSERT INTO elders (id, name, community_id, categories, key_object,
                      overrides, active)
            SELECT 'E'||i, 'x', 'c1', '["独居"]', true, '{{}}', true
            FROM generate_series(1, {elders}) i""")
        c.execute(f"""INSERT INTO devices (id, type, elder_id, last_seen_at, last_active_at,
                      last_idle_at)
            SELECT 'wm'||i, 'water_meter', 'E'||i, timestamp '2026-12-01 05:55',
                   CASE WHEN i % 1000 = 0 THEN timestamp '2026-11-30 10:00'
                        ELSE timestamp '2026-12-01 05:00' END,
                   timestamp '2026-12-01 02:00' FROM generate_series(1, {elders}) i""")
        c.execute(f"""INSERT INTO devices (id, type, elder_id, last_seen_at, battery_pct)
            SELECT 'btn'||i, 'call_button', 'E'||i,
                   CASE WHEN i % 1000 = 7 THEN timestamp '2026-12-01 01:00'
                        ELSE timestamp '2026-12-01 05:58' END, 80
            FROM generate_series(1, {elders}) i""")
        c.execute("ANALYZE")
        for query in (
            "SELECT id FROM devices WHERE last_active_at < '2026-11-30 22:00' "
            "AND type IN ('water_meter', 'power_meter', 'motion_sensor', 'wearable')",
            "SELECT id FROM devices WHERE last_seen_at < '2026-12-01 05:15'",
        ):
            plan = c.execute("EXPLAIN " + query).fetchall()
            print(plan[0][0])
    return time.monotonic() - started


async def measure(url: str) -> None:
    db = Database(url)
    await db.migrate()
    engine = RuleEngine(db, Config.model_validate({}))
    for name, find in (("inactivity", engine.find_inactivity), ("offline", engine.find_offline),
                       ("battery_low", engine.find_battery_low),
                       ("water_running", engine.find_running)):
        for run in ("cold", "warm"):
            started = time.monotonic()
            async with db.sessions() as session:
                found = await find(session, NOW)
            print(f"{name:14} {run}: {len(found)} conditions in "
                  f"{time.monotonic() - started:.3f} s")
    started = time.monotonic()
    opened = await engine.sweep(NOW)
    print(f"first sweep: {len(opened)} alarms opened in {time.monotonic() - started:.1f} s")
    started = time.monotonic()
    opened = await engine.sweep(NOW + timedelta(minutes=1))
    print(f"next sweep: {len(opened)} alarms in {time.monotonic() - started:.2f} s")
    await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--elders", type=int, default=1_000_000)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    name = "tanfang_sweeps_" + uuid.uuid4().hex[:8]
    with psycopg.connect(args.pg, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    url = args.pg.rsplit("/", 1)[0] + "/" + name
    try:
        asyncio.run(Database(url).migrate())
        print(f"loaded {args.elders} elders in {load(url, args.elders):.0f} s")
        asyncio.run(measure(url))
    finally:
        with psycopg.connect(args.pg, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
