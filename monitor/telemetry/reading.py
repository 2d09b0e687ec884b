"""The one shape a validated telemetry reading takes inside the monitor."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

FieldValue = float | int | bool | str


@dataclass(frozen=True, slots=True)
class Reading:
    """One reading of one device at one event time; `fields` holds the metric values."""

    device_id: str
    device_type: str
    elder_id: str | None
    ts: datetime  # aware, UTC
    fields: dict[str, FieldValue] = field(default_factory=dict)
