"""The monitor's MQTT connection: paho driven by the asyncio event loop, batches handed on.

The session is persistent (fixed client id, clean start off, a session expiry), so the
broker keeps QoS 1 messages published while the daemon is away. Acknowledgements are
manual: a message is acknowledged only after its batch was durably handled.

paho runs without a thread of its own (its external event loop interface): the loop reads
the socket when it is readable, writes when paho has packets queued, and runs paho's
keep-alive once a second. Parsing, handling and acknowledging then share one thread: no
hand-over between threads per message, no fight for the GIL, and acknowledgements are
written together when the loop next polls. A lost connection is made again with back-off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from monitor.config import MqttConfig
from monitor.errors import TanfangError
from monitor.ingest.message import ReceivedMessage
from monitor.ingest.topics import KINDS, TopicKind, TopicParser

logger = logging.getLogger(__name__)

BatchHandler = Callable[[Sequence[ReceivedMessage]], Awaitable[None]]
# Packets read in one turn of the event loop before other tasks (an SOS batch) get theirs.
READS_PER_TURN = 50


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
        self._received = 0
        self._wakeup = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._v5 = config.protocol == "5"
        self._client = self._make_client()
        self._topics = TopicParser(config.topic_prefix).subscriptions(config.shared_group,
                                                                      kinds)
        self._tasks: list[asyncio.Task[None]] = []
        self._lost = asyncio.Event()
        self._closing = False

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
        client.max_inflight_messages_set(1000)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_socket_register_write
        client.on_socket_unregister_write = self._on_socket_unregister_write
        return client

    # -- paho's callbacks -------------------------------------------------------------------

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
        if not self._closing:
            logger.warning("disconnected from the broker (%s); reconnecting", reason)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        payload = bytes(msg.payload)  # already bytes: no copy; the type says bytearray too
        self._queue.append(ReceivedMessage(msg.topic, payload, msg.qos, msg.mid, msg.retain))
        self._received += 1
        self._wakeup.set()

    # The socket callbacks run in the loop's thread, except while `connect` / `reconnect`
    # (run in a worker thread, as they block) open the socket and queue CONNECT.

    def _soon(self, callback: Callable[..., None], *args: Any) -> None:
        assert self._loop is not None
        if threading.get_ident() == self._loop_thread:
            callback(*args)
        else:
            self._loop.call_soon_threadsafe(callback, *args)

    def _on_socket_open(self, _c: mqtt.Client, _u: Any, sock: Any) -> None:
        self._soon(self._watch, sock)

    def _current(self, sock: Any) -> bool:
        current: Any = self._client.socket()
        return self._loop is not None and current is sock  # not closed meanwhile

    def _watch(self, sock: Any) -> None:
        if self._current(sock):
            assert self._loop is not None
            self._loop.add_reader(sock, self._readable)

    def _on_socket_close(self, _c: mqtt.Client, _u: Any, sock: Any) -> None:
        self._soon(self._unwatch, sock)

    def _unwatch(self, sock: Any) -> None:
        if self._loop is not None:
            self._loop.remove_reader(sock)
            self._loop.remove_writer(sock)
        self._lost.set()

    def _on_socket_register_write(self, _c: mqtt.Client, _u: Any, sock: Any) -> None:
        self._soon(self._want_write, sock)

    def _want_write(self, sock: Any) -> None:
        if self._current(sock):
            assert self._loop is not None
            self._loop.add_writer(sock, self._client.loop_write)

    def _on_socket_unregister_write(self, _c: mqtt.Client, _u: Any, sock: Any) -> None:
        self._soon(self._no_write, sock)

    def _no_write(self, sock: Any) -> None:
        if self._loop is not None:
            self._loop.remove_writer(sock)

    def _readable(self) -> None:
        # paho reads one packet a call; keep on while packets are messages, up to a bound.
        for _ in range(READS_PER_TURN):
            before = self._received
            if self._client.loop_read() != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return
            if self._received == before:
                return  # not a message (an acknowledgement, a ping), or nothing more yet

    # -- the event loop ---------------------------------------------------------------------

    async def connect(self, timeout: float = 10.0) -> None:
        """Connect once (failing clearly if the broker is unreachable), then keep connected."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        where = f"{self.config.host}:{self.config.port}"
        try:
            await asyncio.wait_for(asyncio.to_thread(self._connect), timeout)
        except (OSError, socket.gaierror, TimeoutError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise BrokerUnreachable(f"cannot reach the MQTT broker at {where}: {reason}") from None
        self._tasks = [asyncio.create_task(self._keepalive(), name="mqtt keep-alive"),
                       asyncio.create_task(self._reconnect(), name="mqtt reconnect")]

    def _connect(self) -> None:
        properties = None
        if self._v5:
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = self.config.session_expiry_s
        self._client.connect(
            self.config.host, self.config.port, self.config.keepalive_s,
            clean_start=False if self._v5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
            properties=properties)

    async def _keepalive(self) -> None:
        """paho's timers: pings, and noticing a broker that stopped answering."""
        while True:
            await asyncio.sleep(1.0)
            if self._client.socket() is not None:
                self._client.loop_misc()

    async def _reconnect(self) -> None:
        """Connect again whenever the connection is lost, waiting longer after each failure."""
        while True:
            await self._lost.wait()
            self._lost.clear()
            delay = 1.0
            while not self._closing and self._client.socket() is None:
                await asyncio.sleep(delay)
                try:
                    await asyncio.to_thread(self._client.reconnect)
                except Exception as exc:  # refused, unreachable, a bad answer: try again
                    logger.warning("cannot reach the MQTT broker at %s:%s (%s); next try in "
                                   "%.0fs", self.config.host, self.config.port, exc, delay)
                    delay = min(delay * 2, max(1.0, self.config.reconnect_max_s))

    async def run(self, handle: BatchHandler) -> None:
        """Hand batches to `handle` forever; acknowledge each batch after it returns."""
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                batch = [self._queue.popleft() for _ in range(min(self.batch_max,
                                                                  len(self._queue)))]
                await handle(batch)
                for message in batch:
                    if message.qos:
                        self._client.ack(message.mid, message.qos)

    @property
    def backlog(self) -> int:
        return len(self._queue)

    async def close(self) -> None:
        """Disconnect; messages received but not handled stay unacknowledged at the broker."""
        self._closing = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._client.disconnect()  # queues DISCONNECT ...
        self._client.loop_write()  # ... sends it and closes the socket
        self.connected = False
