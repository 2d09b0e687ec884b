"""The monitor's MQTT connection: paho in its network thread, batches handed to asyncio.

The session is persistent (fixed client id, clean start off, a session expiry), so the
broker keeps QoS 1 messages published while the daemon is away. Acknowledgements are
manual: a message is acknowledged only after its batch was durably handled.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from monitor.config import MqttConfig
from monitor.errors import TanfangError
from monitor.ingest.message import ReceivedMessage
from monitor.ingest.topics import KINDS, TopicKind, TopicParser

logger = logging.getLogger(__name__)

BatchHandler = Callable[[Sequence[ReceivedMessage]], Awaitable[None]]
# Acknowledgements written between two chances for other tasks (an SOS) to run.
ACK_SLICE = 100


class BrokerUnreachable(TanfangError):
    """The broker could not be reached at start."""


class MqttSource:
    """Subscribes to the device topics and feeds batches to a handler, in arrival order.

    The daemon runs two: one for events and one for telemetry and status, each a session of
    its own (client id `mqtt.client_id` + `-events` for events), so an SOS never queues at
    the broker behind a backlog of meter readings.
    """

    def __init__(self, config: MqttConfig, batch_max: int = 2000,
                 kinds: Sequence[TopicKind] = KINDS, client_id: str | None = None) -> None:
        self.config = config
        self.client_id = client_id or config.client_id
        self.batch_max = batch_max
        self.connected = False
        self._queue: deque[ReceivedMessage] = deque()
        self._signalled = False
        self._wakeup = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._v5 = config.protocol == "5"
        self._client = self._make_client()
        self._topics = TopicParser(config.topic_prefix).subscriptions(config.shared_group,
                                                                      kinds)

    def _make_client(self) -> mqtt.Client:
        cfg = self.config
        if self._v5:
            client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id,
                                 protocol=mqtt.MQTTv5, manual_ack=True)
        else:
            client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id,
                                 protocol=mqtt.MQTTv311, clean_session=False, manual_ack=True)
        if cfg.username:
            client.username_pw_set(cfg.username, cfg.password)
        client.reconnect_delay_set(1, max(1, int(cfg.reconnect_max_s)))
        client.max_inflight_messages_set(1000)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    # -- paho's thread ----------------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            logger.error("broker refused the connection: %s", reason)
            return
        self.connected = True
        logger.info("connected to %s:%s (session present: %s)", self.config.host,
                    self.config.port, flags.session_present)
        client.subscribe([(topic, 1) for topic in self._topics])

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self.connected = False
        logger.warning("disconnected from the broker (%s); reconnecting", reason)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        payload = bytes(msg.payload)  # already bytes: no copy; the type says bytearray too
        self._queue.append(ReceivedMessage(msg.topic, payload, msg.qos, msg.mid, msg.retain))
        if not self._signalled and self._loop is not None:
            self._signalled = True
            self._loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        self._signalled = False
        self._wakeup.set()

    # -- the event loop ---------------------------------------------------------------------

    async def connect(self, timeout: float = 10.0) -> None:
        """Connect once (failing clearly if the broker is unreachable), then keep connected."""
        self._loop = asyncio.get_running_loop()
        properties = None
        if self._v5:
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = self.config.session_expiry_s
        where = f"{self.config.host}:{self.config.port}"
        try:
            await asyncio.wait_for(asyncio.to_thread(
                self._client.connect, self.config.host, self.config.port,
                self.config.keepalive_s, clean_start=False if self._v5 else
                mqtt.MQTT_CLEAN_START_FIRST_ONLY, properties=properties,
            ), timeout)
        except (OSError, socket.gaierror, TimeoutError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise BrokerUnreachable(f"cannot reach the MQTT broker at {where}: {reason}") from None
        self._client.loop_start()

    async def run(self, handle: BatchHandler) -> None:
        """Hand batches to `handle` forever; acknowledge each batch after it returns."""
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                batch = [self._queue.popleft() for _ in range(min(self.batch_max,
                                                                  len(self._queue)))]
                await handle(batch)
                await self._acknowledge(batch)

    async def _acknowledge(self, batch: Sequence[ReceivedMessage]) -> None:
        """PUBACK the batch, a slice at a time: each acknowledgement wakes paho's thread,
        which may keep the GIL a while, so a whole batch at once stalled the event loop (an
        SOS included) for up to 0.3 s in the ingest benchmark; sliced, under 0.1 s."""
        for start in range(0, len(batch), ACK_SLICE):
            if start:
                await asyncio.sleep(0)
            for message in batch[start : start + ACK_SLICE]:
                if message.qos:
                    self._client.ack(message.mid, message.qos)

    @property
    def backlog(self) -> int:
        return len(self._queue)

    async def close(self) -> None:
        """Disconnect; messages received but not handled stay unacknowledged at the broker."""
        self._client.disconnect()
        await asyncio.to_thread(self._client.loop_stop)
        self.connected = False
