"""SOS latency: publish -> alarm committed, with the daemon under half its measured maximum
telemetry load (the load-mode simulator publishing meanwhile)."""

from __future__ import annotations

import multiprocessing
import os
import statistics
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from benchmarks import ingest, mqttload
from benchmarks.report import Progress, Row
from benchmarks.services import Broker, pg_create, pg_drop, pg_url, postgres_available

DEFAULT_RATE = 2000.0  # msg/s of background load when the ingest benchmark did not run
PROBE_EVERY_S = 0.1
WARMUP_S = 5.0


def _load(port: int, devices: int, rate: float, seconds: float) -> None:
    from devices.simulator.load import run_load

    run_load(f"127.0.0.1:{port}", devices, rate, seconds, processes=1, qos=1)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def run(sizes: Any, workdir: Path, max_rate: float | None, progress: Progress,
        stores: Sequence[str] = ("sqlite",)) -> list[Row]:
    """The same load and SOS presses against a daemon on each state store."""
    rows: list[Row] = []
    for store in stores:
        if store == "postgresql" and not postgres_available():
            progress.note("PostgreSQL not reachable: latency on it skipped")
            continue
        rows += _measure(sizes, workdir, max_rate, progress, store)
    return rows


def _measure(sizes: Any, workdir: Path, max_rate: float | None, progress: Progress,
             store: str) -> list[Row]:
    rate = (max_rate or DEFAULT_RATE * 2) / 2
    probes = min(sizes.sos_probes, sizes.devices // 10)
    # What earlier benchmarks wrote is on disk before this one starts: the kernel's writeback
    # of it stalled the daemon's writes here for hundreds of milliseconds at a time.
    os.sync()
    broker = Broker(workdir / f"broker-latency-{store}")
    broker.start()
    stop = workdir / f"latency-{store}.stop"
    database = None
    try:
        progress.step(f"latency: daemon on {store} with {sizes.devices:,} devices, "
                      f"load {rate:,.0f} msg/s")
        if store == "postgresql":
            database = pg_create()
            state_url = pg_url(database)
            mqttload.fill(state_url, sizes.devices, datetime.now(UTC).replace(microsecond=0))
        else:
            state_url = ingest.state_store(workdir, sizes.devices, live=True)
        client_id = f"bench-latency-{store}"
        config = ingest.pipeline_config(broker, client_id, state_url, workdir, "sqlite")
        consumer = ingest.start_consumer({"mode": "pipeline", "client_id": client_id,
                                          "config": config, "stop_file": str(stop)})
        ingest.wait_ready(consumer)
        # Warm up until every device has reported once (a device's first reading after a
        # long silence takes the slower per-device usage path).
        warmup = max(WARMUP_S, 1.5 * sizes.devices / rate)
        seconds = warmup + probes * PROBE_EVERY_S + 2
        load = multiprocessing.get_context("spawn").Process(
            target=_load, args=(broker.port, sizes.devices, rate, seconds))
        load.start()
        time.sleep(warmup)
        progress.step(f"latency: {probes} SOS presses, one every {PROBE_EVERY_S * 1000:.0f} ms")
        sent = _probe(broker.port, probes)
        load.join(60)
        time.sleep(3.0)  # what is still queued behind the load
        stop.touch()
        result = ingest.finish(consumer).result
    finally:
        broker.stop()
        if database is not None:
            pg_drop(database)
    name = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[store]
    committed = {elder: at for elder, at, created in result["alarms"] if created}
    latencies = [(committed[mqttload.load_elder_id(k)] - at) * 1000
                 for k, at in sent.items() if mqttload.load_elder_id(k) in committed]
    lost = probes - len(latencies)
    note = (f"{len(latencies)} of {probes} SOS committed"
            f"{f' ({lost} missing)' if lost else ''}; background load {rate:,.0f} msg/s "
            f"(half the pipeline's drain rate on SQLite)")
    rows = _spread(f"{name}: publish -> alarm committed", latencies, 50, note)
    first_message: dict[str, float] = {}
    for elder, at in result.get("notifier") or []:
        if elder is not None and elder not in first_message:
            first_message[elder] = at
    handed = [(first_message[mqttload.load_elder_id(k)] - at) * 1000
              for k, at in sent.items() if mqttload.load_elder_id(k) in first_message]
    note = f"{len(handed)} of {probes} SOS reached the notifier (escalation woken by the alarm)"
    rows += _spread(f"{name}: publish -> first notification handed to the notifier", handed,
                    100, note)
    return rows


def _spread(case: str, values: list[float], floor_ms: float, note: str) -> list[Row]:
    """p50, p99 (against its floor) and max of latencies in milliseconds."""
    def shown(value: float) -> float | str:
        return round(value, 1) if values else "n/a"

    p99 = percentile(values, 0.99)
    return [Row("sos latency", f"{case}, p50", "ms",
                shown(statistics.median(values) if values else 0.0), note=note),
            Row("sos latency", f"{case}, p99", "ms", shown(p99),
                floor=(f"< {floor_ms:g} ms", bool(values) and p99 < floor_ms)),
            Row("sos latency", f"{case}, max", "ms", shown(max(values, default=0.0)))]


def _probe(port: int, probes: int) -> dict[int, float]:
    """Press SOS on `probes` elders' call buttons in turn; when each was published."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.connect("127.0.0.1", port, 30)
    client.loop_start()
    sent: dict[int, float] = {}
    try:
        for k in range(probes):
            topic, body = mqttload.sos(k, f"sos-{k}")
            sent[k] = time.time()
            client.publish(topic, body, qos=1)
            time.sleep(PROBE_EVERY_S)
    finally:
        client.loop_stop()
        client.disconnect()
    return sent
