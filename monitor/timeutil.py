"""Event-time helpers: every instant inside the monitor is an aware UTC datetime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    """The current wall-clock instant in UTC."""
    return datetime.now(UTC)


def parse_ts(value: object) -> datetime:
    """Parse a protocol `ts`: RFC 3339 with an offset, or integer Unix epoch milliseconds."""
    if isinstance(value, bool):
        raise ValueError("ts must be an RFC 3339 string or epoch milliseconds, not a boolean")
    if isinstance(value, int):
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=value)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            raise ValueError("ts needs an offset, such as +08:00")
        return parsed.astimezone(UTC)
    raise ValueError("ts must be an RFC 3339 string or epoch milliseconds")


def to_local(moment: datetime) -> datetime:
    """The same instant in Asia/Shanghai, for people to read."""
    return moment.astimezone(LOCAL_TZ)


def hour_floor(moment: datetime) -> datetime:
    """The start of the UTC hour that holds `moment`."""
    return moment.replace(minute=0, second=0, microsecond=0)
