"""InfluxDB line protocol: one Reading becomes one line, every escaping rule applied.

Decisions (see docs/telemetry.md): names and tag values may not hold a control character
(a newline ends the line, InfluxDB 1.x reads a tab as a separator and mangles NUL) or a
backslash (InfluxDB 1.x cannot read one before a separator back), so they are refused;
numbers are written as floats so that a field never changes type; string field values
escape `"` and `\\` and keep newlines verbatim.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from monitor.telemetry.reading import FieldValue, Reading

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_STRING_BYTES = 64 * 1024
_MEASUREMENT_ESCAPES = str.maketrans({",": "\\,", " ": "\\ "})
_KEY_ESCAPES = str.maketrans({",": "\\,", "=": "\\=", " ": "\\ "})
_STRING_ESCAPES = str.maketrans({'"': '\\"', "\\": "\\\\"})


class LineProtocolError(ValueError):
    """A reading that cannot be written as line protocol."""


def _check_name(kind: str, text: str) -> None:
    if not text:
        raise LineProtocolError(f"empty {kind}")
    for char in text:
        if char == "\\" or char < " " or char == "\x7f":
            raise LineProtocolError(f"{kind} {text!r} holds {char!r}, which is not allowed")


def escape_measurement(name: str) -> str:
    """Escape a measurement name (commas and spaces)."""
    _check_name("measurement", name)
    if name.startswith("#"):
        raise LineProtocolError("a measurement may not start with '#' (a comment line)")
    return name.translate(_MEASUREMENT_ESCAPES)


def escape_key(kind: str, text: str) -> str:
    """Escape a tag key, tag value or field key (commas, equals signs and spaces)."""
    _check_name(kind, text)
    if kind != "tag value" and text == "time":
        raise LineProtocolError(f"'time' cannot be a {kind}")
    return text.translate(_KEY_ESCAPES)


def format_field_value(value: FieldValue) -> str:
    """A field value: bool as true/false, every number as a float, strings quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        number = float(value)
        if not math.isfinite(number):
            raise LineProtocolError(f"{value!r} is not a finite number")
        return repr(number)
    if isinstance(value, str):
        if len(value.encode("utf-8")) > MAX_STRING_BYTES:
            raise LineProtocolError("string field longer than 64 KiB")
        return '"' + value.translate(_STRING_ESCAPES) + '"'
    raise LineProtocolError(f"unsupported field type {type(value).__name__}")


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the Unix epoch, exactly (sub-millisecond parts are cut)."""
    return (moment - EPOCH) // timedelta(milliseconds=1)


def encode_point(
    measurement: str, tags: Mapping[str, str | None], fields: Mapping[str, FieldValue],
    ts: datetime,
) -> str:
    """One line; tags with no value are left out, as InfluxDB has no empty tag values."""
    parts = [escape_measurement(measurement)]
    for key in sorted(tags):
        value = tags[key]
        if value:
            parts.append(f"{escape_key('tag key', key)}={escape_key('tag value', value)}")
    if not fields:
        raise LineProtocolError("a point needs at least one field")
    field_text = ",".join(
        f"{escape_key('field key', key)}={format_field_value(value)}"
        for key, value in fields.items()
    )
    return f"{','.join(parts)} {field_text} {epoch_ms(ts)}"


def encode_reading(reading: Reading) -> str:
    """The line of one reading: measurement = device type, tags device_id and elder_id."""
    return encode_point(
        reading.device_type,
        {"device_id": reading.device_id, "elder_id": reading.elder_id},
        reading.fields,
        reading.ts,
    )
