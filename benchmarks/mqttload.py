"""Load-mode registries and messages, persistent sessions, and a fast QoS 1 pre-publisher."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import insert

from devices.simulator.load import LOAD_TYPES, load_device_id
from monitor.ingest.topics import TopicParser
from monitor.store.db import Database
from monitor.store.models import (
    Community,
    Contact,
    Device,
    DutyShift,
    Elder,
    HourlyUsage,
    RegisterReading,
    RuleState,
)
from monitor.timeutil import hour_floor

PREFIX = "tanfang/v1"
TELEMETRY_TYPES = [i for i, t in enumerate(LOAD_TYPES) if t != "call_button"]
# Event time of the first pre-published reading of every device. The registry holds two
# register readings (an hour and a minute) before it, HISTORY_HOURS of usage per hour and an
# hour of vital signs, so the drains measure the steady state of a fleet that has reported
# for days (a device's very first reading takes a slower path, and queries that read more of
# the past than they should show only with a past to read).
START = (datetime.now(UTC) - timedelta(days=3)).replace(second=0, microsecond=0)
SEED = {"water_meter": 99.999, "power_meter": 899.99, "wearable": 0.0}
HISTORY_HOURS = 48
HOURLY = {"water_meter": ("water_m3", 0.005), "power_meter": ("power_kwh", 0.1),
          "wearable": ("steps", 200.0), "motion_sensor": ("motion", 2.0)}


def load_elder_id(e: int) -> str:
    return f"L{e:06d}"


async def fill_registry(url: str, devices: int, start: datetime | None = None) -> None:
    """Migrate the store and register `devices` load devices, ten per elder, with register
    readings just before `start` (the first reading the benchmark will send)."""
    start = start or START
    db = Database(url)
    try:
        await db.migrate()
        elders = (devices + 9) // 10
        async with db.transaction() as session:
            await session.execute(insert(Community), [
                {"id": "load-01", "street": "压测街道", "name": "压测社区"}])
            for lo in range(0, elders, 20_000):
                await session.execute(insert(Elder), [
                    {"id": load_elder_id(e), "name": "压测老人", "community_id": "load-01",
                     "birth_year": 1945, "categories": ["高龄"], "key_object": False,
                     "overrides": {}, "active": True}
                    for e in range(lo, min(elders, lo + 20_000))])
                # Someone for the escalation to notify: a son each, a duty officer all week.
                await session.execute(insert(Contact), [
                    {"elder_id": load_elder_id(e), "position": 0, "name": "压测家属",
                     "relation": "儿子", "phone": f"+86139{e:08d}"}
                    for e in range(lo, min(elders, lo + 20_000))])
            await session.execute(insert(DutyShift), [
                {"community_id": "load-01", "name": "压测值班", "phone": "+8613700000000",
                 "weekday": day, "starts": "00:00", "ends": "00:00"} for day in range(7)])
            for lo in range(0, devices, 20_000):
                await session.execute(insert(Device), [
                    {"id": load_device_id(i), "type": LOAD_TYPES[i % len(LOAD_TYPES)],
                     "elder_id": load_elder_id(i // 10)}
                    for i in range(lo, min(devices, lo + 20_000))])
            seeds = [{"device_id": load_device_id(i), "ts": start - timedelta(minutes=m),
                      "value": SEED[LOAD_TYPES[i % len(LOAD_TYPES)]]}
                     for i in range(devices) if LOAD_TYPES[i % len(LOAD_TYPES)] in SEED
                     for m in (61, 1)]
            for lo in range(0, len(seeds), 20_000):
                await session.execute(insert(RegisterReading), seeds[lo : lo + 20_000])
            history = [{"device_id": load_device_id(i), "metric": metric,
                        "hour": hour_floor(start) - timedelta(hours=h),
                        "elder_id": load_elder_id(i // 10), "value": value, "readings": 4,
                        "flagged": False}
                       for i in range(devices) if LOAD_TYPES[i % len(LOAD_TYPES)] in HOURLY
                       for metric, value in [HOURLY[LOAD_TYPES[i % len(LOAD_TYPES)]]]
                       for h in range(2, 2 + HISTORY_HOURS)]
            for lo in range(0, len(history), 20_000):
                await session.execute(insert(HourlyUsage), history[lo : lo + 20_000])
            # A wearable's vital signs of the last hour, one a minute, as rules keep them.
            minutes = [(start - timedelta(minutes=m)).timestamp() for m in range(60, 0, -1)]
            window = {"heart_rate": [[t, 72.0] for t in minutes],
                      "spo2": [[t, 97.0] for t in minutes], "newest": minutes[-1]}
            vitals = [{"rule": "vitals", "subject": load_device_id(i), "state": window,
                       "updated_at": start}
                      for i in range(devices) if LOAD_TYPES[i % len(LOAD_TYPES)] == "wearable"]
            for lo in range(0, len(vitals), 20_000):
                await session.execute(insert(RuleState), vitals[lo : lo + 20_000])
    finally:
        await db.close()


def _body(kind: str, ts_ms: int, n: int, msg_id: str) -> bytes:
    if kind == "water_meter":
        fields = f'"total_m3":{100 + n * 0.001:.3f},"flow_lpm":0.5'
    elif kind == "power_meter":
        fields = f'"total_kwh":{900 + n * 0.01:.2f},"power_w":120'
    elif kind == "wearable":
        fields = f'"heart_rate":72,"spo2":97,"steps":{n * 10}'
    else:
        fields = '"motion":true'
    return f'{{"ts":{ts_ms},"msg_id":"{msg_id}",{fields}}}'.encode()


def telemetry(count: int, devices: int, tag: str = "a",
              start: datetime | None = None) -> Iterator[tuple[str, bytes]]:
    """`count` telemetry messages spread over the telemetry devices among the first
    `devices`, one a minute per device (so a batch touches many devices, as in production)."""
    ids = [i for i in range(devices) if i % len(LOAD_TYPES) in TELEMETRY_TYPES]
    start = start or START
    base_ms = int(start.timestamp() * 1000)
    for k in range(count):
        i = ids[k % len(ids)]
        n = k // len(ids)
        yield (f"{PREFIX}/{load_device_id(i)}/telemetry",
               _body(LOAD_TYPES[i % len(LOAD_TYPES)], base_ms + n * 60_000, n, f"{tag}{n}"))


def sos(elder: int, msg_id: str, at: datetime | None = None) -> tuple[str, bytes]:
    """An SOS press of the elder's first call button (device 10e+4 of the load registry)."""
    ms = int((at or datetime.now(UTC)).timestamp() * 1000)
    body = json.dumps({"ts": ms, "msg_id": msg_id, "type": "sos"}).encode()
    return f"{PREFIX}/{load_device_id(elder * 10 + 4)}/event", body


def _client(client_id: str = "", v5: bool = True) -> mqtt.Client:
    if v5:
        return mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                           protocol=mqtt.MQTTv5)
    return mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                       protocol=mqtt.MQTTv311, clean_session=not client_id)


def _wait(client: mqtt.Client, done: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:  # type: ignore[operator]
        client.loop(timeout=0.05)
    if not done():  # type: ignore[operator]
        raise TimeoutError(what)


def make_session(port: int, client_id: str, shared_group: str | None = None) -> None:
    """Create the consumer's persistent MQTT 5 session with its subscriptions, then leave."""
    client = _client(client_id)
    acked: list[bool] = []
    client.on_subscribe = lambda *_: acked.append(True)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    client.connect("127.0.0.1", port, 30, clean_start=True, properties=props)
    _wait(client, client.is_connected, 10, "no CONNACK")
    client.subscribe([(t, 1) for t in TopicParser(PREFIX).subscriptions(shared_group)])
    _wait(client, lambda: acked, 10, "no SUBACK")
    client.disconnect()
    client.loop(0.05)


def publish(port: int, messages: Iterator[tuple[str, bytes]], qos: int = 1) -> tuple[int, float]:
    """Publish everything (QoS 1, up to 1,000 in flight); returns (acknowledged, seconds)."""
    client = _client(v5=False)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    acked = 0

    def on_publish(*_: object) -> None:
        nonlocal acked
        acked += 1

    client.on_publish = on_publish
    client.connect("127.0.0.1", port, 60)
    _wait(client, client.is_connected, 10, "no CONNACK")
    sent = 0
    started = time.perf_counter()
    for topic, body in messages:
        client.publish(topic, body, qos=qos)
        sent += 1
        if sent % 500 == 0:
            while sent - acked > 5000:
                client.loop(timeout=0.01)
            client.loop(timeout=0)
    _wait(client, lambda: acked >= sent, 120, f"only {acked} of {sent} acknowledged")
    seconds = time.perf_counter() - started
    client.disconnect()
    client.loop(0.05)
    return acked, seconds


def fill(url: str, devices: int, start: datetime | None = None) -> None:
    asyncio.run(fill_registry(url, devices, start))
