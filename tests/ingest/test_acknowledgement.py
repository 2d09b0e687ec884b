"""The broker forgets a message once its batch was handled, and keeps it until then."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from monitor.config import MqttConfig
from monitor.ingest.message import ReceivedMessage
from monitor.ingest.mqtt import ACK_SLICE, MqttSource
from tests.fixtures.services import Mosquitto

MESSAGES = 3 * ACK_SLICE + 50  # one batch, acknowledged in several slices


def publish(broker: Mosquitto, count: int) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="ack-test-device")
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    sent = [client.publish(f"tanfang/v1/wm-{i:04d}/telemetry", b"{}", qos=1)
            for i in range(count)]
    for info in sent:
        info.wait_for_publish(10)
    client.disconnect()
    client.loop_stop()


async def session(broker: Mosquitto, *, finish: bool, seconds: float = 1.5) -> int:
    """Connect the monitor's session for `seconds` and count what the broker delivered;
    with `finish` false the first batch never finishes being handled."""
    source = MqttSource(MqttConfig(port=broker.port, client_id="ack-test"), batch_max=1000,
                        kinds=("telemetry",))
    received: list[ReceivedMessage] = []

    async def handle(batch: Sequence[ReceivedMessage]) -> None:
        received.extend(batch)
        if not finish:
            await asyncio.Event().wait()

    await source.connect()
    runner = asyncio.create_task(source.run(handle))
    await asyncio.sleep(seconds)
    runner.cancel()
    await source.close()
    return len(received) + source.backlog


async def test_the_broker_keeps_a_batch_until_it_is_handled_and_then_forgets_all_of_it(
    mosquitto: Mosquitto,
) -> None:
    assert await session(mosquitto, finish=True, seconds=0.5) == 0  # the session exists
    await asyncio.to_thread(publish, mosquitto, MESSAGES)
    assert await session(mosquitto, finish=False) == MESSAGES  # never handled: not acked
    assert await session(mosquitto, finish=True) == MESSAGES  # delivered again, handled
    assert await session(mosquitto, finish=True) == 0  # every slice was acknowledged
