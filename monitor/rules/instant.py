"""Instant rules: an event that is itself an emergency raises its alarm at once."""

from __future__ import annotations

from monitor.alarms.service import AlarmDecision
from monitor.ingest.directory import DeviceInfo
from monitor.ingest.payloads import EventPayload

ALARM_EVENTS = frozenset({"sos", "fall", "smoke", "gas", "tamper"})
SOS_CAPABLE = frozenset({"call_button", "wearable"})


def decide_event(
    event: EventPayload, device: DeviceInfo, severity: dict[str, str]
) -> AlarmDecision | None:
    """The alarm an event raises, or None (test presses and cancels raise none)."""
    if event.type not in ALARM_EVENTS:
        return None
    details: dict[str, object] = {"msg_id": event.msg_id, "device_type": device.type}
    if event.location is not None:
        details["location"] = event.location.model_dump(exclude_none=True)
    return AlarmDecision(
        elder_id=device.elder_id,
        community_id=device.community_id,
        device_id=device.id,
        kind=event.type,
        severity=severity.get(event.type, "critical"),
        at=event.ts,
        details=details,
    )


def decide_unreadable(device: DeviceInfo, error: str, at: object) -> AlarmDecision | None:
    """An unreadable message on the event topic of an SOS-capable device is treated as an SOS."""
    from monitor.timeutil import utcnow

    if device.type not in SOS_CAPABLE:
        return None
    return AlarmDecision(
        elder_id=device.elder_id,
        community_id=device.community_id,
        device_id=device.id,
        kind="sos",
        severity="critical",
        at=utcnow(),
        details={"unreadable": True, "reason": "unreadable SOS-capable event", "error": error},
    )
