"""Ingest throughput: the daemon's whole pipeline against a bare paho drain, same broker, same
messages. Each consumer's persistent session is filled while it is offline, then drained."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import mqttload
from benchmarks.report import Progress, Row
from benchmarks.services import Broker

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Drain:
    handled: int
    seconds: float
    rss_kb: int
    peak_rss_kb: int
    result: dict[str, Any]

    @property
    def rate(self) -> float:
        return self.handled / self.seconds if self.seconds > 0 else 0.0


def start_consumer(spec: dict[str, Any]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "benchmarks.consumer", json.dumps(spec)],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)


def wait_ready(process: subprocess.Popen[str]) -> None:
    """Wait for the pipeline consumer's `ready` line (store migrated, devices loaded)."""
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line or "ready" not in json.loads(line):
        raise RuntimeError(f"consumer did not start: {line!r}")


def finish(process: subprocess.Popen[str], timeout: float = 900) -> Drain:
    out, _ = process.communicate(timeout=timeout)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if process.returncode or not lines:
        raise RuntimeError(f"consumer failed ({process.returncode}): {out[-2000:]}")
    result = json.loads(lines[-1])
    return Drain(result["handled"], result["last"] - result["first"], result["rss_kb"],
                 result["peak_rss_kb"], result)


def pipeline_config(broker: Broker, client_id: str, state_url: str, workdir: Path,
                    telemetry: str, influx_url: str | None = None,
                    shared_group: str | None = None) -> dict[str, Any]:
    tel: dict[str, Any] = {"backend": "sqlite", "sqlite_path": str(workdir / f"{client_id}.tel")}
    if telemetry == "influxdb":
        tel = {"backend": "influxdb", "influxdb": {
            "url": influx_url, "database": "bench_" + client_id.replace("-", "_"),
            "spool_dir": str(workdir / f"{client_id}-spool")}}
    return {
        "mqtt": {"port": broker.port, "client_id": client_id, "shared_group": shared_group},
        "database": {"url": state_url},
        "telemetry": tel,
        "coverage": {"remote_check": {"enabled": False}},
    }


def state_store(workdir: Path, devices: int, live: bool = False) -> str:
    """A SQLite state store holding the load registry: built once, copied for each consumer.

    The drains send readings from `mqttload.START` on; `live` seeds the registers just
    before now instead, for a load of readings stamped now (a meter silent for days would
    spread the gap over every hour of it: real work, but not the steady state measured).
    """
    template = workdir / f"registry-{devices}{'-live' if live else ''}.db"
    if not template.exists():
        mqttload.fill(f"sqlite:///{template}", devices,
                      datetime.now(UTC).replace(microsecond=0) if live else None)
    copy = workdir / f"state-{uuid.uuid4().hex[:8]}.db"
    shutil.copy(template, copy)
    return f"sqlite:///{copy}"


def drain(broker: Broker, spec: dict[str, Any], messages: int, devices: int,
          shared_group: str | None = None) -> Drain:
    """Fill the consumer's session while it is away, then time how fast it drains it."""
    mqttload.make_session(broker.port, spec["client_id"], shared_group)
    mqttload.publish(broker.port, mqttload.telemetry(messages, devices, spec["client_id"]))
    spec = {**spec, "expect": messages, "port": broker.port}
    process = start_consumer(spec)
    if spec["mode"] == "pipeline":
        wait_ready(process)
    return finish(process)


def run(messages: int, devices: int, workdir: Path, backends: list[str],
        progress: Progress) -> tuple[list[Row], dict[str, float]]:
    """Bare paho, then the pipeline on each telemetry backend; rates and their ratio."""
    from benchmarks.services import influxd_available

    rows: list[Row] = []
    rates: dict[str, float] = {}
    broker = Broker(workdir / "broker-ingest", queue=messages * 2)
    broker.start()
    influxd = None
    try:
        progress.step(f"ingest: registry of {devices:,} devices")
        state_store(workdir, devices)
        progress.step(f"ingest: bare paho drain of {messages:,} QoS 1 messages")
        base = drain(broker, {"mode": "bare", "client_id": "bench-bare"}, messages, devices)
        rates["bare"] = base.rate
        rows.append(Row("ingest", "bare paho-mqtt drain (MQTT 5, QoS 1)", "msg/s",
                        round(base.rate), note=f"{base.handled:,} messages"))
        for backend in backends:
            influx_url = None
            if backend == "influxdb":
                if not influxd_available():
                    progress.note("influxd not installed: InfluxDB pipeline skipped")
                    continue
                from tests.fixtures.influxdb import Influxd

                influxd = Influxd(workdir / "influxd")
                influxd.start()
                influx_url = influxd.url
            client_id = f"bench-pipe-{backend}"
            progress.step(f"ingest: pipeline drain, telemetry to {backend}")
            config = pipeline_config(broker, client_id, state_store(workdir, devices), workdir,
                                     backend, influx_url)
            got = drain(broker, {"mode": "pipeline", "client_id": client_id,
                                 "config": config}, messages, devices)
            rates[backend] = got.rate
            ratio = got.rate / base.rate if base.rate else 0.0
            rows.append(Row("ingest", f"whole pipeline, telemetry to {backend}", "msg/s",
                            round(got.rate), floor=(">= 15,000 msg/s", got.rate >= 15_000),
                            note=f"{got.handled:,} messages; peak RSS "
                                 f"{got.peak_rss_kb // 1024} MB"))
            rows.append(Row("ingest", f"pipeline ({backend}) / bare paho", "ratio",
                            round(ratio, 2), floor=(">= 0.50", ratio >= 0.5)))
            if influxd is not None:
                influxd.stop()
                influxd = None
    finally:
        if influxd is not None:
            influxd.stop()
        broker.stop()
    return rows, rates
