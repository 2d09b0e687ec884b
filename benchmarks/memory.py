"""Resident memory of the daemon's process with 10k and 100k registered devices, draining a
backlog spread over all of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks import ingest
from benchmarks.report import Progress, Row
from benchmarks.services import Broker


def run(sizes: Any, workdir: Path, progress: Progress) -> list[Row]:
    rows: list[Row] = []
    broker = Broker(workdir / "broker-memory", queue=sizes.memory_messages * 2)
    broker.start()
    try:
        for devices in sizes.memory_devices:
            progress.step(f"memory: registry of {devices:,} devices")
            client_id = f"bench-mem-{devices}"
            config = ingest.pipeline_config(broker, client_id,
                                            ingest.state_store(workdir, devices), workdir,
                                            "sqlite")
            progress.step(f"memory: draining {sizes.memory_messages:,} messages over "
                          f"{devices:,} devices")
            got = ingest.drain(broker, {"mode": "pipeline", "client_id": client_id,
                                        "config": config}, sizes.memory_messages, devices)
            peak = got.peak_rss_kb / 1024
            floor = ("< 300 MB", peak < 300) if devices >= 100_000 else None
            rows.append(Row("memory", f"daemon, {devices:,} devices under load", "peak RSS MB",
                            round(peak), floor=floor,
                            note=f"{got.rss_kb / 1024:.0f} MB at the end; "
                                 f"{got.result['devices']:,} devices in the directory; "
                                 f"{got.rate:,.0f} msg/s"))
    finally:
        broker.stop()
    return rows
