"""Helpers for the simulator tests: run the generator once, read its stream back."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from devices.simulator import ScenarioSpec, Timeline, demo_registry
from monitor.timeutil import parse_ts

START = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)  # 08:00 in Yaohai


class Stream:
    """A generated run, readings split by device and kind, in event time."""

    def __init__(self, households: int = 20, days: float = 2, scenarios: list[ScenarioSpec]
                 | None = None, seed: int = 3, faults: bool = False) -> None:
        self.registry = demo_registry(households, seed)
        self.timeline = Timeline(self.registry, START, timedelta(days=days), scenarios or [],
                                 seed, faults)
        self.messages = list(self.timeline.messages_ms())
        self.by_device: dict[str, dict[str, list[tuple[datetime, dict[str, Any]]]]] = \
            defaultdict(lambda: defaultdict(list))
        for _, topic, payload in self.messages:
            _, _, device, kind = topic.split("/")
            body = json.loads(payload)
            for item in body if isinstance(body, list) else [body]:
                self.by_device[device][kind].append((parse_ts(item["ts"]), item))
        for kinds in self.by_device.values():
            for items in kinds.values():
                items.sort(key=lambda x: x[0])

    def household(self, *types: str) -> dict[str, Any]:
        """The first elder that has all these device types."""
        for elder in self.registry["elders"]:
            have = {d["type"] for d in elder.get("devices", [])}
            if set(types) <= have:
                return elder
        raise AssertionError(f"no elder with {types}")

    def readings(self, device: str, kind: str = "telemetry") -> list[tuple[datetime, dict]]:
        return self.by_device[device][kind]


def device_of(elder: dict[str, Any], device_type: str) -> str:
    return next(d["id"] for d in elder["devices"] if d["type"] == device_type)


def water_between(stream: Stream, device: str, a: datetime, b: datetime) -> float:
    """Litres drawn between two instants, from the register readings."""
    rows = [(t, r["total_m3"]) for t, r in stream.readings(device) if a <= t <= b]
    return (rows[-1][1] - rows[0][1]) * 1000 if len(rows) > 1 else 0.0
