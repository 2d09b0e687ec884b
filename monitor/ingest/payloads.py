"""Payload schemas of device protocol v1, one per topic kind and device type."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from monitor.telemetry.reading import FieldValue
from monitor.timeutil import parse_ts

EVENT_TYPES = ("sos", "cancel", "fall", "smoke", "gas", "test", "tamper")

Timestamp = Annotated[datetime, BeforeValidator(parse_ts)]
Number = Annotated[float, Field(allow_inf_nan=False)]


class Payload(BaseModel):
    """Every object carries `ts`; unknown fields are ignored, types are strict."""

    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)

    ts: Timestamp
    msg_id: str | None = Field(None, min_length=1, max_length=64)


class Location(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)

    lat: Number = Field(ge=-90, le=90)
    lon: Number = Field(ge=-180, le=180)
    source: Literal["beidou", "gps", "lbs", "wifi"] | None = None


class EventPayload(Payload):
    msg_id: str = Field(min_length=1, max_length=64)
    type: Literal["sos", "cancel", "fall", "smoke", "gas", "test", "tamper"]
    location: Location | None = None


class StatusPayload(Payload):
    online: bool
    battery_pct: Number | None = Field(None, ge=0, le=100)
    signal_dbm: Number | None = Field(None, ge=-200, le=0)


class Telemetry(Payload):
    """A reading; subclasses name their metric fields, at least one of which is required."""

    metric_fields: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="after")
    def _one_metric(self) -> Telemetry:
        for name in self.metric_fields:  # a plain loop: this runs for every reading
            if getattr(self, name) is not None:
                return self
        raise ValueError("at least one of " + ", ".join(self.metric_fields) + " is required")

    def fields(self) -> dict[str, FieldValue]:
        """The metric values present, by protocol name."""
        return {n: v for n in self.metric_fields if (v := getattr(self, n)) is not None}


class WaterReading(Telemetry):
    metric_fields: ClassVar[tuple[str, ...]] = ("total_m3", "flow_lpm")
    total_m3: Number | None = Field(None, ge=0)
    flow_lpm: Number | None = Field(None, ge=0)


class PowerReading(Telemetry):
    metric_fields: ClassVar[tuple[str, ...]] = ("total_kwh", "power_w")
    total_kwh: Number | None = Field(None, ge=0)
    power_w: Number | None = Field(None, ge=0)


class WearableReading(Telemetry):
    metric_fields: ClassVar[tuple[str, ...]] = ("heart_rate", "spo2", "steps")
    heart_rate: Number | None = Field(None, ge=0, le=300)
    spo2: Number | None = Field(None, ge=0, le=100)
    steps: int | None = Field(None, ge=0)
    location: Location | None = None


class MotionReading(Telemetry):
    metric_fields: ClassVar[tuple[str, ...]] = ("motion", "door_open")
    motion: bool | None = None
    door_open: bool | None = None


TELEMETRY_BY_TYPE: dict[str, type[Telemetry]] = {
    "water_meter": WaterReading,
    "power_meter": PowerReading,
    "wearable": WearableReading,
    "motion_sensor": MotionReading,
}

_event = TypeAdapter(EventPayload)
_status = TypeAdapter(StatusPayload)
_telemetry = {t: TypeAdapter(m) for t, m in TELEMETRY_BY_TYPE.items()}


class Rejected(Exception):
    """A message that fails validation, with the counter's reason and a clear error."""

    def __init__(self, reason: str, error: str) -> None:
        super().__init__(error)
        self.reason = reason
        self.error = error


def _explain(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        loc = err["loc"]
        where = ".".join(str(p) for p in loc if not str(p).startswith(("function-", "list[")))
        parts.append(f"{where or 'payload'}: {err['msg']}")
    return "; ".join(parts)


def validate_event(data: Any) -> EventPayload:
    try:
        return _event.validate_python(data)
    except ValidationError as exc:
        raise Rejected("invalid", _explain(exc)) from None


def validate_status(data: Any) -> StatusPayload:
    try:
        return _status.validate_python(data)
    except ValidationError as exc:
        raise Rejected("invalid", _explain(exc)) from None


def telemetry_from_json(device_type: str, payload: bytes) -> Telemetry | None:
    """The fast path for the common message, one valid JSON object: parsed and validated in
    one step by pydantic-core. None for anything else (an array, an error, an unknown type):
    the caller then takes the general path, which explains what is wrong."""
    adapter = _telemetry.get(device_type)
    if adapter is None or not payload.lstrip().startswith(b"{"):
        return None
    try:
        return adapter.validate_json(payload)
    except ValidationError:
        return None


def validate_telemetry(device_type: str, data: Any) -> tuple[list[Telemetry], list[str]]:
    """Readings of one message (one object or a backlog array) and the errors of bad elements.

    A bad element of a backlog is reported on its own; the good readings beside it are kept.
    """
    adapter = _telemetry.get(device_type)
    if adapter is None:
        raise Rejected("type_mismatch", f"a {device_type} sends no telemetry")
    items = data if isinstance(data, list) else [data]
    if not items:
        raise Rejected("invalid", "empty array of readings")
    readings: list[Telemetry] = []
    errors: list[str] = []
    for index, item in enumerate(items):
        try:
            readings.append(adapter.validate_python(item))
        except ValidationError as exc:
            prefix = f"[{index}] " if isinstance(data, list) else ""
            errors.append(prefix + _explain(exc))
    if not readings:
        raise Rejected("invalid", "; ".join(errors[:3]))
    return readings, errors
