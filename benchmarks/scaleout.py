"""Scale-out: two daemons sharing one MQTT 5 shared subscription on PostgreSQL, against one;
and a check that no alarm was lost or duplicated."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from benchmarks import ingest, mqttload
from benchmarks.report import Progress, Row
from benchmarks.services import Broker, pg_create, pg_drop, pg_url, postgres_available
from monitor.store.db import Database
from monitor.store.models import AcceptedMessage, Alarm

SOS_EVERY = 500  # one SOS press (each of a different elder) among this many messages


def with_sos(count: int, devices: int, tag: str) -> Iterator[tuple[str, bytes]]:
    """Telemetry with an SOS of a different elder every SOS_EVERY messages."""
    elders = devices // 10
    for k, message in enumerate(mqttload.telemetry(count, devices, tag)):
        if k % SOS_EVERY == 0 and k // SOS_EVERY < elders:
            yield mqttload.sos(k // SOS_EVERY, f"{tag}-sos-{k}")
        yield message


def expected_sos(count: int, devices: int) -> int:
    return min((count + SOS_EVERY - 1) // SOS_EVERY, devices // 10)


async def _alarms(url: str) -> tuple[int, int, int]:
    """(SOS alarms, elders with one, accepted event messages) in the store."""
    db = Database(url)
    try:
        async with db.sessions() as session:
            alarms = (await session.execute(select(func.count()).select_from(Alarm)
                                            .where(Alarm.kind == "sos"))).scalar_one()
            elders = (await session.execute(select(func.count(func.distinct(Alarm.elder_id)))
                                            .where(Alarm.kind == "sos"))).scalar_one()
            accepted = (await session.execute(select(func.count())
                                              .select_from(AcceptedMessage))).scalar_one()
        return int(alarms), int(elders), int(accepted)
    finally:
        await db.close()


def _round(broker: Broker, workdir: Path, template: str, daemons: int, messages: int,
           devices: int, group: str) -> tuple[float, list[int], tuple[int, int, int]]:
    name = pg_create(template=template)
    try:
        url = pg_url(name)
        ids = [f"bench-so-{group}-{d}" for d in range(daemons)]
        for client_id in ids:
            mqttload.make_session(broker.port, client_id, group)
        total = messages + expected_sos(messages, devices)
        mqttload.publish(broker.port, with_sos(messages, devices, group))
        processes = []
        for client_id in ids:
            config = ingest.pipeline_config(broker, client_id, url, workdir, "sqlite",
                                            shared_group=group)
            processes.append(ingest.start_consumer({"mode": "pipeline", "client_id": client_id,
                                                    "config": config,
                                                    "stop_file": str(workdir / group),
                                                    "progress_file": str(
                                                        workdir / f"{client_id}.count")}))
        for process in processes:
            ingest.wait_ready(process)
        # Each daemon gets its share: stop all once the messages handled add up.
        drains = _wait_all(processes, workdir / group, total, ids, workdir)
        first = min(d.result["first"] for d in drains if d.handled)
        last = max(d.result["last"] for d in drains)
        counts = asyncio.run(_alarms(url))
        return total / (last - first), [d.handled for d in drains], counts
    finally:
        pg_drop(name)


def _wait_all(processes: list[Any], stop: Path, total: int, ids: list[str],
              workdir: Path) -> list[ingest.Drain]:
    """Stop the daemons once the messages they report handled add up to `total`."""
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline and sum(_progress(workdir, i) for i in ids) < total:
        time.sleep(0.05)
    stop.touch()
    return [ingest.finish(p) for p in processes]


def _progress(workdir: Path, client_id: str) -> int:
    try:
        return int((workdir / f"{client_id}.count").read_text() or 0)
    except (OSError, ValueError):
        return 0


def run(sizes: Any, workdir: Path, progress: Progress) -> list[Row]:
    if not postgres_available():
        progress.note("PostgreSQL not reachable: scale-out skipped")
        return []
    messages, devices = sizes.scaleout_messages, sizes.devices
    template = pg_create()
    broker = Broker(workdir / "broker-scaleout", queue=messages * 2)
    broker.start()
    try:
        progress.step(f"scale-out: PostgreSQL registry of {devices:,} devices")
        mqttload.fill(pg_url(template), devices)
        progress.step(f"scale-out: one daemon, {messages:,} messages")
        one, _, counts_one = _round(broker, workdir, template, 1, messages, devices, "one")
        progress.step(f"scale-out: two daemons sharing $share/two, {messages:,} messages")
        two, split, counts_two = _round(broker, workdir, template, 2, messages, devices, "two")
    finally:
        broker.stop()
        pg_drop(template)
    want = expected_sos(messages, devices)
    ok_one = counts_one == (want, want, want)
    ok_two = counts_two == (want, want, want)
    ratio = two / one if one else 0.0
    return [
        Row("scale-out", "one daemon (PostgreSQL)", "msg/s", round(one),
            note=f"SOS alarms/elders/accepted events {counts_one}, expected {want} each"),
        Row("scale-out", "two daemons, one shared subscription", "msg/s", round(two),
            note=f"split {split[0]:,} / {split[1]:,}; SOS alarms/elders/accepted events "
                 f"{counts_two}, expected {want} each"),
        Row("scale-out", "two / one", "ratio", round(ratio, 2), floor=(">= 1.6", ratio >= 1.6)),
        Row("scale-out", "no alarm lost or duplicated", "check", "ok" if ok_one and ok_two
            else "FAILED", floor=("exact", ok_one and ok_two)),
    ]
