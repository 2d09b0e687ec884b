"""The MQTT library's message, converted at the door into one frozen dataclass."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    """One message as it came off the broker; `mid` is what acknowledging it needs."""

    topic: str
    payload: bytes
    qos: int = 0
    mid: int = 0
    retain: bool = False
