"""The InfluxDB store's own logic over a fake writer: order after an outage, bisection, memory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from monitor.config import InfluxConfig
from monitor.metrics import Metrics
from monitor.telemetry.influx import InfluxStore
from monitor.telemetry.reading import Reading
from monitor.telemetry.spool import Spool
from monitor.telemetry.writer import BackendUnavailable, BatchRejected
from tests.telemetry.conftest import points

BASE = datetime(2026, 12, 3, tzinfo=UTC)


class FakeWriter:
    """Takes lines unless `down`; refuses any batch holding a line in `bad`."""

    def __init__(self) -> None:
        self.down = False
        self.bad: set[str] = set()
        self.lines: list[str] = []
        self.calls = 0

    async def prepare(self) -> None:
        return None

    async def write(self, lines: list[str]) -> None:
        self.calls += 1
        if self.down:
            raise BackendUnavailable("connection refused")
        if self.bad.intersection(lines):
            raise BatchRejected("HTTP 400: unable to parse")
        self.lines.extend(lines)

    async def query(self, statement: str) -> list[dict[str, Any]]:
        return []

    async def aclose(self) -> None:
        return None


def readings(first: int, count: int) -> list[Reading]:
    return [Reading("wm-1", "water_meter", "E1", BASE + timedelta(seconds=i), {"seq": i})
            for i in range(first, first + count)]


def make(tmp_path: Path, writer: FakeWriter, **overrides: Any) -> tuple[InfluxStore, Metrics]:
    config = InfluxConfig.model_validate(
        {"spool_dir": str(tmp_path / "spool"), "retry_initial_s": 0.0, "retry_max_s": 0.0,
         "batch_size": 100, **overrides}
    )
    metrics = Metrics()
    return InfluxStore(config, metrics, client=writer), metrics


async def test_spooled_batches_are_written_in_order(tmp_path: Path) -> None:
    writer = FakeWriter()
    store, metrics = make(tmp_path, writer)
    writer.down = True
    for first in range(0, 1050, 150):
        await store.write(readings(first, 150))
        await store.flush()
    assert len(store.spool) > 0 and not writer.lines
    writer.down = False
    await store.write(readings(1050, 50))
    await store.flush()  # behind the spool, never before it
    await store._drain()
    await store.close()
    assert [int(line.split("seq=")[1].split(".")[0]) for line in writer.lines] == list(range(1100))
    assert points(metrics, "written") == 1100


async def test_a_refused_batch_is_bisected_to_its_bad_line(tmp_path: Path) -> None:
    dead: list[str] = []

    async def dead_letter(reason: str, payload: str, error: str) -> None:
        dead.append(payload)

    writer = FakeWriter()
    config = InfluxConfig.model_validate({"spool_dir": str(tmp_path / "spool")})
    store = InfluxStore(config, Metrics(), dead_letter, client=writer)
    batch = readings(0, 5000)
    await store.write(batch)
    writer.bad = {writer_line for writer_line in store.batcher._items[1234:1235]}
    await store.close()
    assert dead == list(writer.bad)
    assert len(writer.lines) == 4999
    assert writer.calls <= 2 * 13 + 1  # two writes per level of a 5,000-line bisection


async def test_memory_stays_bounded_while_the_backend_is_away(tmp_path: Path) -> None:
    writer = FakeWriter()
    writer.down = True
    store, _ = make(tmp_path, writer, memory_max_lines=300)
    for first in range(0, 5000, 250):
        await store.write(readings(first, 250))
        assert store.batcher.pending <= 300
    assert store.spool.lines + store.batcher.pending == 5000
    writer.down = False
    await store.close()
    await store._drain()
    assert len(writer.lines) == 5000


def test_spool_survives_a_restart_and_drops_oldest_when_full(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10_000)
    for n in range(3):
        spool.append([f"m v={n}.0 {n}"] * 10)
    again = Spool(tmp_path, max_bytes=3_000)
    assert len(again) == 3 and again.lines == 30
    head = again.peek()
    assert head is not None and head[1][0] == "m v=0.0 0"
    again.pop(head[0])
    assert len(again) == 2
    big = [f"m,device_id=d v={n}.123456789 {n}" for n in range(2000)]
    dropped = sum(again.append(big[i : i + 100]) for i in range(0, 2000, 100))
    assert again.bytes <= 3_000
    assert dropped == again.dropped_lines > 0
    assert again.lines + dropped == 20 + 2000  # every line is either kept or counted
    newest = [line for segment in list(again.segments) for line in (again.peek() or (0, []))[1]
              if again.pop(segment.seq) is None]
    assert newest == big[-len(newest):]  # what is left is the newest
