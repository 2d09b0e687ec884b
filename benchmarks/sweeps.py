"""Periodic sweeps over the whole fleet, timed at several sizes on SQLite and PostgreSQL.

A sweep is one async callable in SWEEPS: the rule engine's candidate checks
(monitor/rules/engine.py `find_*`, what every minute's sweep runs) and the remote check.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete

from benchmarks import fleet
from benchmarks.report import Progress, Row
from monitor.config import Config, RemoteCheckConfig
from monitor.rules.engine import RuleEngine
from monitor.store.db import Database
from monitor.store.models import Visit
from monitor.visits.remote_check import SOURCE, RemoteCheck
from monitor.visits.weeks import IsoWeek


def rule_check(name: str) -> Callable[[Database], Awaitable[int]]:
    """One of the rule engine's checks (`find_<name>`): the conditions it finds at NOW."""

    async def run(db: Database) -> int:
        engine = RuleEngine(db, Config.model_validate({}))
        async with db.sessions() as session:
            return len(await getattr(engine, f"find_{name}")(session, fleet.NOW))

    return run


async def remote_check(db: Database) -> int:
    """The weekly remote check (monitor/visits/remote_check.py) over one judged day."""
    check = RemoteCheck(db, RemoteCheckConfig(min_days=1))
    return await check.check_week(IsoWeek.current(fleet.NOW), fleet.NOW)


async def _undo_remote_check(db: Database) -> None:
    async with db.transaction() as session:
        await session.execute(delete(Visit).where(Visit.source == SOURCE))


@dataclass(frozen=True)
class Sweep:
    run: Callable[[Database], Awaitable[int]]
    needs_usage: bool = False
    undo: Callable[[Database], Awaitable[None]] | None = None


SWEEPS: dict[str, Sweep] = {
    "offline": Sweep(rule_check("offline")),
    "inactivity": Sweep(rule_check("inactivity")),
    "battery_low": Sweep(rule_check("battery_low")),
    "remote_check": Sweep(remote_check, needs_usage=True, undo=_undo_remote_check),
}


async def _time(db: Database, sweep: Sweep, repeats: int) -> tuple[float, int]:
    best, found = float("inf"), 0
    for _ in range(repeats):
        started = time.perf_counter()
        found = await sweep.run(db)
        best = min(best, time.perf_counter() - started)
        if sweep.undo is not None:
            await sweep.undo(db)
    return best, found


def run(sizes: list[int], backends: list[str], cache: Path, usage_max: int,
        progress: Progress, repeats: int = 2) -> list[Row]:
    """Each sweep at each size on each backend; rows with seconds and per-elder cost."""
    from benchmarks.services import postgres_available

    rows: list[Row] = []
    for backend in backends:
        if backend == "postgresql" and not postgres_available():
            progress.note("PostgreSQL not reachable: sweeps on PostgreSQL skipped")
            continue
        previous: dict[str, tuple[int, float]] = {}
        for size in sizes:
            with_usage = size <= usage_max
            progress.step(f"sweeps: {backend} fleet of {size:,} elders")
            if backend == "sqlite":
                url, built = fleet.build_sqlite(cache, size, with_usage)
            else:
                url, built = fleet.build_postgres(size, with_usage)
            if built is not None:
                rows.append(Row("sweeps", f"generate {size:,} elders ({backend})",
                                "seconds", round(built, 1),
                                note="3 devices each" + (", a day of hourly usage"
                                                         if with_usage else "")))
            for name, sweep in SWEEPS.items():
                if sweep.needs_usage and not with_usage:
                    continue
                progress.step(f"sweeps: {name} over {size:,} elders on {backend}")
                seconds, found = asyncio.run(_run_one(url, sweep,
                                                      repeats if size <= 10_000 else 1))
                note = f"{found:,} found; {seconds / size * 1e6:.1f} µs/elder"
                if name in previous:
                    last_size, last_s = previous[name]
                    growth = (seconds / last_s) / (size / last_size) if last_s else 0.0
                    note += f"; growth vs {last_size:,}: {growth:.2f}x linear"
                previous[name] = (size, seconds)
                floor = None
                if backend == "postgresql" and size >= 1_000_000:
                    floor = ("< 2 s", seconds < 2.0)
                rows.append(Row("sweeps", f"{name}, {size:,} elders, {backend}", "seconds",
                                round(seconds, 3), floor=floor, note=note))
    return rows


async def _run_one(url: str, sweep: Sweep, repeats: int) -> tuple[float, int]:
    db = Database(url)
    try:
        return await _time(db, sweep, repeats)
    finally:
        await db.close()
