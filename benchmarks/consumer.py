"""A consumer process of its own: a bare paho subscriber, or the daemon's whole pipeline.

`python -m benchmarks.consumer JSON` drains its persistent session (or runs until a stop file
appears) and prints one JSON line: when the first and last message were handled, how many,
the process's resident memory, and (pipeline) when each alarm was committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from monitor.config import Config
from monitor.ingest.message import ReceivedMessage


def rss_kb() -> tuple[int, int]:
    """(resident now, peak resident) in kB, of this process image only.

    Not ru_maxrss: Linux carries it across fork and exec, so it would report the peak of
    the benchmark process that started this one.
    """
    values = {"VmRSS:": 0, "VmHWM:": 0}
    for line in Path("/proc/self/status").read_text().splitlines():
        key = line.split(maxsplit=1)[0] if line else ""
        if key in values:
            values[key] = int(line.split()[1])
    return values["VmRSS:"], values["VmHWM:"]


def bare(spec: dict[str, Any]) -> dict[str, Any]:
    """paho alone: count messages (acknowledged by paho after on_message) until `expect`."""
    expect = spec["expect"]
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=spec["client_id"],
                         protocol=mqtt.MQTTv5)
    state = {"n": 0, "first": 0.0, "last": 0.0}

    def on_message(_c: Any, _u: Any, _m: Any) -> None:
        if not state["n"]:
            state["first"] = time.time()
        state["n"] += 1
        if state["n"] >= expect:
            state["last"] = time.time()
            client.disconnect()

    client.on_message = on_message
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    client.connect("127.0.0.1", spec["port"], 30, clean_start=False, properties=props)
    client.loop_forever()
    now, peak = rss_kb()
    return {"handled": state["n"], "first": state["first"], "last": state["last"],
            "rss_kb": now, "peak_rss_kb": peak}


async def pipeline(spec: dict[str, Any]) -> dict[str, Any]:
    """The daemon's parts (Monitor, without the HTTP API) on a prepared store."""
    from monitor.daemon import Monitor

    config = Config.model_validate(spec["config"])
    monitor = Monitor(config)
    state = {"n": 0, "first": 0.0, "last": 0.0}
    alarms: list[tuple[str | None, float, bool]] = []
    done = asyncio.Event()
    expect = spec.get("expect", 0)
    stop_file = Path(spec["stop_file"]) if spec.get("stop_file") else None
    progress_file = Path(spec["progress_file"]) if spec.get("progress_file") else None
    handle = monitor.pipeline.handle

    async def counted(batch: Sequence[ReceivedMessage]) -> None:
        if not state["n"]:
            state["first"] = time.time()
        await handle(batch)
        state["n"] += len(batch)
        if expect and state["n"] >= expect:
            done.set()

    monitor.pipeline.handle = counted  # type: ignore[method-assign]
    elder_of: dict[int, str | None] = {}

    def opened(alarm: Any, created: bool) -> None:
        alarms.append((alarm.elder_id, time.time(), created))
        elder_of[alarm.id] = alarm.elder_id

    monitor.pipeline.alarm_listeners.append(opened)
    # Every notification the outbox hands to a notifier (the demo's log channel), with when.
    notifier_handoffs: list[tuple[str | None, float]] = []
    for notifier in monitor.notifiers.values():
        send = notifier.send

        async def timed(message: Any, send: Any = send) -> Any:
            notifier_handoffs.append((elder_of.get(message.alarm_id), time.time()))
            return await send(message)

        notifier.send = timed  # type: ignore[method-assign]
    await monitor.start()
    print(json.dumps({"ready": time.time(), "devices": len(monitor.directory)}), flush=True)
    while not done.is_set():
        if stop_file is not None and stop_file.exists():
            break
        if progress_file is not None:
            progress_file.write_text(str(state["n"]))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), 0.05)
    # Everything written, not only acknowledged: raw points, usage per hour, device rows.
    await monitor.telemetry.flush()
    await monitor.usage.flush()
    await monitor.pipeline.flush_activity()
    state["last"] = time.time()
    now, peak = rss_kb()
    await monitor.stop()
    return {"handled": state["n"], "first": state["first"], "last": state["last"],
            "rss_kb": now, "peak_rss_kb": peak, "alarms": alarms,
            "notifier": notifier_handoffs, "devices": len(monitor.directory)}


def main() -> None:
    spec = json.loads(sys.argv[1])
    if spec["mode"] == "bare":
        result = bare(spec)
    else:
        import logging

        logging.basicConfig(level=logging.WARNING)
        result = asyncio.run(pipeline(spec))
    result["pid"] = os.getpid()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
