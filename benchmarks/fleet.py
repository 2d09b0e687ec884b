"""Generated fleets: N elders with their devices (and a day of hourly usage) in a state store.

SQLite is filled with executemany in one transaction, PostgreSQL with COPY. Generated
databases are kept between runs (a SQLite file in the cache directory, a PostgreSQL database
named after the size) since generating a million elders takes a while.
"""

from __future__ import annotations

import asyncio
import io
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from monitor.store.db import Database
from monitor.visits.weeks import IsoWeek, day_start

# Every elder: a call button and two activity devices (a water and a power meter).
DEVICE_TYPES = ("call_button", "water_meter", "power_meter")
COMMUNITIES = 100
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # a Tuesday: Monday is complete
OFFLINE_EVERY = 997  # one device in 997 has been silent for a day
USAGE_HOURS = range(8, 20)  # local hours with usage on the day the remote check judges
SILENT_EVERY = 1000  # one activity meter in 1000 has shown no use for 20 hours
SCHEMA_VERSION = "v5"


def elder_id(i: int) -> str:
    return f"B{i:07d}"


def device_id(i: int, kind: int) -> str:
    return f"bd{i:07d}{kind}"


def _sqlite_ts(moment: datetime) -> str:
    # SQLAlchemy's own SQLite storage format for DateTime: naive UTC with microseconds.
    return moment.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def _last_seen(i: int, kind: int) -> datetime:
    if (i * 3 + kind) % OFFLINE_EVERY == 0:
        return NOW - timedelta(hours=26)
    return NOW - timedelta(seconds=(i * 7 + kind * 13) % 1800)  # within every heartbeat


def usage_days() -> list[datetime]:
    """The UTC start of the local day that gets hourly usage (the Monday before NOW)."""
    return [day_start(IsoWeek.current(NOW).days()[0])]


def _rows(size: int, with_usage: bool) -> Iterator[tuple[str, tuple[Any, ...]]]:
    for c in range(COMMUNITIES):
        yield "communities", (f"bc{c:03d}", "压测街道", f"压测社区{c}")
    for i in range(size):
        yield "elders", (elder_id(i), "压测老人", f"bc{i % COMMUNITIES:03d}", 1945, "[]", False,
                         "{}", True)
        for kind, kind_name in enumerate(DEVICE_TYPES):
            seen = _last_seen(i, kind)
            # Meters: the last hour with use, and the last hour without (monitor/rules/activity).
            active = (NOW - timedelta(hours=20) if (i + kind) % SILENT_EVERY == 0
                      else seen - timedelta(minutes=30)) if kind else None
            idle = NOW - timedelta(hours=3) if kind else None
            yield "devices", (device_id(i, kind), kind_name, elder_id(i), seen, True,
                              active, idle, 80)
        if with_usage:
            for kind, metric in ((1, "water_m3"), (2, "power_kwh")):
                for day in usage_days():
                    for hour in USAGE_HOURS:
                        yield "hourly_usage", (device_id(i, kind), metric,
                                               day + timedelta(hours=hour),
                                               elder_id(i), 0.01 * kind, 2, False)


COLUMNS = {
    "communities": ("id", "street", "name"),
    "elders": ("id", "name", "community_id", "birth_year", "categories", "key_object",
               "overrides", "active"),
    "devices": ("id", "type", "elder_id", "last_seen_at", "online", "last_active_at",
                "last_idle_at", "battery_pct"),
    "hourly_usage": ("device_id", "metric", "hour", "elder_id", "value", "readings", "flagged"),
}


def sqlite_path(cache: Path, size: int, with_usage: bool) -> Path:
    return cache / f"fleet-{SCHEMA_VERSION}-{size}{'-usage' if with_usage else ''}.db"


def pg_name(size: int, with_usage: bool) -> str:
    return f"tanfang_bench_fleet_{SCHEMA_VERSION}_{size}{'_usage' if with_usage else ''}"


def build_sqlite(cache: Path, size: int, with_usage: bool) -> tuple[str, float | None]:
    """The fleet's SQLite URL, generated unless cached; seconds spent generating (None: cached)."""
    path = sqlite_path(cache, size, with_usage)
    url = f"sqlite:///{path}"
    if path.exists():
        return url, None
    started = time.perf_counter()
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    asyncio.run(_migrate(f"sqlite:///{partial}"))
    conn = sqlite3.connect(partial)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    buffers: dict[str, list[tuple[Any, ...]]] = {t: [] for t in COLUMNS}

    def flush(table: str) -> None:
        cols = COLUMNS[table]
        conn.executemany(f"INSERT INTO {table} ({', '.join(cols)}) "  # noqa: S608 - fixed names
                         f"VALUES ({', '.join('?' for _ in cols)})", buffers[table])
        buffers[table].clear()

    for table, row in _rows(size, with_usage):
        if table in ("devices", "hourly_usage"):
            row = tuple(_sqlite_ts(v) if isinstance(v, datetime) else v for v in row)
        buffers[table].append(row)
        if len(buffers[table]) >= 50_000:
            flush(table)
    for table in COLUMNS:
        flush(table)
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()
    partial.rename(path)
    return url, time.perf_counter() - started


def build_postgres(size: int, with_usage: bool) -> tuple[str, float | None]:
    """The fleet's PostgreSQL URL, generated with COPY unless it exists; seconds (None: cached)."""
    import psycopg

    from benchmarks.services import pg_create, pg_drop, pg_exists, pg_url

    name = pg_name(size, with_usage)
    if pg_exists(name):
        return pg_url(name), None
    started = time.perf_counter()
    partial = name + "_partial"
    pg_drop(partial)
    pg_create(name=partial)
    asyncio.run(_migrate(pg_url(partial)))
    with psycopg.connect(pg_url(partial)) as conn:
        buffers: dict[str, io.StringIO] = {t: io.StringIO() for t in COLUMNS}

        def flush(table: str) -> None:
            data = buffers[table].getvalue()
            if not data:
                return
            with conn.cursor().copy(
                f"COPY {table} ({', '.join(COLUMNS[table])}) FROM STDIN"  # noqa: S608
            ) as copy:
                copy.write(data)
            buffers[table] = io.StringIO()

        for buffered, (table, row) in enumerate(_rows(size, with_usage), 1):
            buffers[table].write("\t".join(_pg_text(v) for v in row) + "\n")
            if buffered % 500_000 == 0:
                for each in COLUMNS:  # in order: foreign keys are checked at once
                    flush(each)
        for table in COLUMNS:
            flush(table)
        conn.commit()
    with psycopg.connect(pg_url(partial), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    with psycopg.connect(pg_url(partial).rsplit("/", 1)[0] + "/postgres", autocommit=True) as c:
        c.execute(f'ALTER DATABASE "{partial}" RENAME TO "{name}"')
    return pg_url(name), time.perf_counter() - started


def _pg_text(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
    return str(value)


async def _migrate(url: str) -> None:
    db = Database(url)
    try:
        await db.migrate()
    finally:
        await db.close()
