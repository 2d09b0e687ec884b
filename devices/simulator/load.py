"""Load mode for benchmarks: many devices, a target message rate, one or more processes.

Devices are `ld000000`, `ld000001`, ... with types in turn (water meter, power meter,
wearable, motion sensor, call button); `load_registry(n)` is the matching registry to load
into the monitor before a benchmark. Each process owns its own connection and a share of
the devices and the rate, paces itself in 10 ms steps and counts what paho actually wrote
(QoS 0) or the broker acknowledged (QoS 1). The report says what was sent, not what was
asked for.
"""

from __future__ import annotations

import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any

import paho.mqtt.client as mqtt

from devices.simulator.publisher import parse_broker

LOAD_TYPES = ("water_meter", "power_meter", "wearable", "motion_sensor", "call_button")
RATE_PER_PROCESS = 15000  # what one paho process sustains comfortably on this class of machine


def load_device_id(i: int) -> str:
    return f"ld{i:06d}"


def load_registry(devices: int) -> dict[str, Any]:
    """A registry holding the load-mode devices, ten per elder, in one community."""
    elders = []
    for e in range(math.ceil(devices / 10)):
        elders.append({
            "id": f"L{e:06d}", "name": "压测老人", "community": "load-01", "birth_year": 1945,
            "categories": ["高龄"], "phone": f"+86138000{80000 + e % 10000:05d}", "contacts": [],
            "devices": [{"id": load_device_id(i), "type": LOAD_TYPES[i % len(LOAD_TYPES)]}
                        for i in range(e * 10, min(devices, e * 10 + 10))],
        })
    return {"communities": [{"id": "load-01", "street": "压测街道", "name": "压测社区"}],
            "elders": elders}


@dataclass
class LoadReport:
    """What the load run asked for and what it achieved."""

    requested_rate: float
    devices: int
    processes: int
    duration_s: float
    sent: int = 0
    per_process: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def achieved_rate(self) -> float:
        return self.sent / self.duration_s if self.duration_s else 0.0

    @property
    def kept_up(self) -> bool:
        return not self.errors and self.achieved_rate >= 0.95 * self.requested_rate

    def summary(self) -> str:
        verdict = "kept up" if self.kept_up else "could NOT keep up"
        line = (f"load: sent {self.sent} messages from {self.devices} devices in "
                f"{self.duration_s:.1f} s with {self.processes} process(es): "
                f"{self.achieved_rate:.0f} msg/s of {self.requested_rate:.0f} requested, {verdict}")
        return line + "".join(f"\n  error: {e}" for e in self.errors)


def _payload(i: int, ms: int, n: int) -> tuple[str, bytes, int]:
    """Topic suffix, payload and QoS of the n-th message of device i."""
    kind = LOAD_TYPES[i % len(LOAD_TYPES)]
    if kind == "call_button" or n % 10 == 9:
        return "status", f'{{"online":true,"ts":{ms},"battery_pct":80}}'.encode(), 1
    if kind == "water_meter":
        return "telemetry", f'{{"ts":{ms},"total_m3":{100 + n * 0.001:.3f}}}'.encode(), 0
    if kind == "power_meter":
        return "telemetry", f'{{"ts":{ms},"total_kwh":{900 + n * 0.01:.2f},"power_w":120}}'\
            .encode(), 0
    if kind == "wearable":
        return "telemetry", f'{{"ts":{ms},"heart_rate":72,"spo2":97,"steps":{n}}}'.encode(), 0
    return "telemetry", f'{{"ts":{ms},"motion":true}}'.encode(), 0


def _worker(broker: str, first: int, count: int, rate: float, duration_s: float,
            username: str | None, password: str | None, prefix: str,
            qos: int | None) -> tuple[int, float, str | None]:
    """One process: publish to devices first..first+count at `rate` for `duration_s`."""
    host, port = parse_broker(broker)
    acked = 0

    def on_publish(*_: Any) -> None:
        nonlocal acked
        acked += 1

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    if username:
        client.username_pw_set(username, password)
    client.max_inflight_messages_set(1000)
    client.on_publish = on_publish
    try:
        client.connect(host, port, keepalive=30)
    except OSError as exc:
        return 0, 0.0, f"cannot reach {broker}: {exc.strerror or exc}"
    deadline = time.monotonic() + 10
    while not client.is_connected() and time.monotonic() < deadline:
        client.loop(timeout=0.05)
    if not client.is_connected():
        return 0, 0.0, f"the broker at {broker} did not accept the connection"
    topics = [(f"{prefix}/{load_device_id(i)}/telemetry", f"{prefix}/{load_device_id(i)}/status")
              for i in range(first, first + count)]
    published = 0
    error = None
    t0 = time.monotonic()
    while True:
        now = time.monotonic()
        elapsed = now - t0
        if elapsed >= duration_s:
            break
        due = int(rate * elapsed) - published
        ms = int(time.time() * 1000)
        for _ in range(min(due, max(1, int(rate / 50)))):
            k = published % count
            suffix, body, q = _payload(first + k, ms, published // count)
            info = client.publish(topics[k][0 if suffix == "telemetry" else 1], body,
                                  qos=q if qos is None else qos)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                error = f"publish failed: {mqtt.error_string(info.rc)}"
                break
            published += 1
        if error:
            break
        client.loop(timeout=0 if due > 0 else 0.005)
    sent_time = time.monotonic() - t0
    deadline = time.monotonic() + 30
    while acked < published and time.monotonic() < deadline:
        client.loop(timeout=0.05)
    client.disconnect()
    client.loop(timeout=0.05)
    return acked, sent_time, error


def run_load(broker: str, devices: int, rate: float, duration_s: float, processes: int = 0,
             username: str | None = None, password: str | None = None,
             prefix: str = "tanfang/v1", qos: int | None = None) -> LoadReport:
    """Publish at `rate` msg/s from `devices` devices for `duration_s`; 0 processes: auto."""
    parse_broker(broker)
    if devices < 1 or rate <= 0 or duration_s <= 0:
        raise ValueError("load mode needs --devices >= 1, --rate > 0 and --duration > 0")
    if processes <= 0:
        processes = min(os.cpu_count() or 1, max(1, math.ceil(rate / RATE_PER_PROCESS)))
    processes = min(processes, devices)
    shares = [devices // processes + (1 if p < devices % processes else 0)
              for p in range(processes)]
    firsts = [sum(shares[:p]) for p in range(processes)]
    args = [(broker, firsts[p], shares[p], rate / processes, duration_s, username, password,
             prefix, qos) for p in range(processes)]
    report = LoadReport(rate, devices, processes, duration_s)
    if processes == 1:
        results = [_worker(*args[0])]
    else:
        with ProcessPoolExecutor(processes, mp_context=get_context("spawn")) as pool:
            results = list(pool.map(_worker, *zip(*args, strict=True)))
    for sent, _, error in results:
        report.per_process.append(sent)
        report.sent += sent
        if error:
            report.errors.append(error)
    longest = max((r[1] for r in results), default=0.0)
    report.duration_s = max(longest, duration_s) if report.sent else duration_s
    return report
