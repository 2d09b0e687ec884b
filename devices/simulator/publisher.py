"""Play a timeline onto a broker, in real or accelerated time, from asyncio.

One MQTT connection (paho-mqtt 2.x) carries every device's messages; paho's socket is
driven by the event loop (add_reader/add_writer), so no thread is started. Events and
status go at QoS 1 (status retained, as the protocol asks), single readings at QoS 0,
meter backlogs at QoS 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import paho.mqtt.client as mqtt

from devices.simulator.generator import Timeline
from devices.simulator.scenarios import Incident, ScenarioSpec

logger = logging.getLogger(__name__)

MAX_UNACKED = 5000  # publishes paho may hold before we wait for the broker


def parse_broker(text: str) -> tuple[str, int]:
    """`HOST:PORT` (or `HOST`, port 1883) -> (host, port); raises ValueError."""
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = text, "1883"
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"bad broker address '{text}': use HOST:PORT, e.g. 127.0.0.1:1883")
    return host, int(port)


@dataclass
class SimulationReport:
    """What a simulation sent, and the ground truth of what it played."""

    sent: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)  # event / telemetry / status
    sim_start: datetime | None = None
    sim_reached: datetime | None = None
    wall_s: float = 0.0
    stopped: bool = False
    incidents: list[Incident] = field(default_factory=list)


class AsyncPublisher:
    """A paho client whose socket the asyncio loop drives."""

    def __init__(self, broker: str, username: str | None = None, password: str | None = None,
                 client_id: str = "") -> None:
        self.host, self.port = parse_broker(broker)
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=mqtt.MQTTv311)
        if username:
            self.client.username_pw_set(username, password)
        self.client.max_inflight_messages_set(200)
        self.client.max_queued_messages_set(0)
        self.acked = 0
        self.published = 0
        self._misc: asyncio.Task[None] | None = None
        self._connected: asyncio.Future[Any] | None = None

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        self._connected = loop.create_future()
        c = self.client

        def opened(cl: mqtt.Client, ud: Any, sock: Any) -> None:
            loop.add_reader(sock, cl.loop_read)

        def closed(cl: mqtt.Client, ud: Any, sock: Any) -> None:
            loop.remove_reader(sock)

        def want_write(cl: mqtt.Client, ud: Any, sock: Any) -> None:
            loop.add_writer(sock, cl.loop_write)

        def written(cl: mqtt.Client, ud: Any, sock: Any) -> None:
            loop.remove_writer(sock)

        c.on_socket_open, c.on_socket_close = opened, closed
        c.on_socket_register_write, c.on_socket_unregister_write = want_write, written
        c.on_connect = self._on_connect
        c.on_publish = self._on_publish
        try:
            c.connect(self.host, self.port, keepalive=30)
        except OSError as exc:
            raise ConnectionError(f"cannot reach the broker at {self.host}:{self.port}: "
                                  f"{exc.strerror or exc}") from None
        sock = c.socket()
        if isinstance(sock, socket.socket):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        self._misc = asyncio.create_task(self._loop_misc())
        try:
            await asyncio.wait_for(self._connected, 10)
        except TimeoutError:
            raise ConnectionError(f"no answer from the broker at {self.host}:{self.port}") from None

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any,
                    properties: Any) -> None:
        fut = self._connected
        if fut is not None and not fut.done():
            if reason.is_failure:
                fut.set_exception(ConnectionError(f"the broker refused the simulator: {reason}"))
            else:
                fut.set_result(None)

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason: Any,
                    properties: Any) -> None:
        self.acked += 1

    async def _loop_misc(self) -> None:
        while self.client.loop_misc() == mqtt.MQTT_ERR_SUCCESS:
            await asyncio.sleep(1)

    async def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        while self.published - self.acked > MAX_UNACKED:
            await asyncio.sleep(0.005)
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise ConnectionError(f"publish failed: {mqtt.error_string(info.rc)}")
        self.published += 1

    async def drain(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self.acked < self.published and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        self.client.disconnect()
        if self._misc is not None:
            self._misc.cancel()
            await asyncio.gather(self._misc, return_exceptions=True)


class Simulation:
    """The device simulator for asyncio callers (`tanfang demo`) and the CLI alike."""

    def __init__(
        self,
        registry: dict,
        broker: str,
        speed: float = 1.0,
        scenarios: list[ScenarioSpec] | None = None,
        start: datetime | None = None,
        seed: int = 0,
        record: Path | None = None,
        *,
        username: str | None = None,
        password: str | None = None,
        faults: bool = True,
    ) -> None:
        parse_broker(broker)
        if speed < 0:
            raise ValueError("speed must be positive (0: as fast as possible)")
        self.registry = registry
        self.broker = broker
        self.speed = speed
        self.scenarios = list(scenarios or [])
        self.start = start or datetime.now(UTC)
        self.seed = seed
        self.record = record
        self.username, self.password, self.faults = username, password, faults
        self._stop = asyncio.Event()

    def stop(self) -> None:
        """Ask a running simulation to finish after the message it is sending."""
        self._stop.set()

    def timeline(self, duration: timedelta | None) -> Timeline:
        return Timeline(self.registry, self.start, duration, self.scenarios, self.seed,
                        self.faults)

    async def run(self, duration: timedelta | None = None) -> SimulationReport:
        """Publish until `duration` of simulated time has passed (None: until stop())."""
        timeline = self.timeline(duration)
        report = SimulationReport(sim_start=self.start, incidents=timeline.incidents())
        pub = AsyncPublisher(self.broker, self.username, self.password)
        await pub.connect()
        kinds: Counter[str] = Counter()
        record: IO[str] | None = (self.record.open("w", encoding="utf-8")
                                  if self.record else None)
        t0_ms = timeline.t0_s * 1000
        wall0 = time.monotonic()
        try:
            for ms, topic, payload in timeline.messages_ms():
                if self._stop.is_set():
                    report.stopped = True
                    break
                if self.speed > 0:
                    delay = wall0 + (ms - t0_ms) / 1000 / self.speed - time.monotonic()
                    if delay > 0:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._stop.wait(), delay)
                        if self._stop.is_set():
                            report.stopped = True
                            break
                elif kinds.total() % 500 == 0:
                    await asyncio.sleep(0)  # let the socket and other tasks breathe
                kind = topic.rsplit("/", 1)[1]
                backlog = payload[:1] == b"["
                await pub.publish(topic, payload, qos=0 if kind == "telemetry" and not backlog
                                  else 1, retain=kind == "status")
                kinds[kind] += 1
                report.sim_reached = datetime.fromtimestamp(ms / 1000, UTC)
                if record is not None:
                    record.write(json.dumps({"topic": topic, "payload": json.loads(payload)},
                                            ensure_ascii=False) + "\n")
            await pub.drain()
        finally:
            await pub.close()
            if record is not None:
                record.close()
        report.sent = pub.acked
        report.by_kind = dict(kinds)
        report.wall_s = time.monotonic() - wall0
        logger.info("simulation sent %s messages in %.1f s", report.sent, report.wall_s)
        return report
