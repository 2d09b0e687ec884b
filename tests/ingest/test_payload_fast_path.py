"""The JSON fast path for telemetry accepts exactly what the general path accepts."""

from __future__ import annotations

import json

import pytest

from monitor.ingest.payloads import Rejected, telemetry_from_json, validate_telemetry

PAYLOADS = [
    ("water_meter", b'{"ts": 1764720000000, "total_m3": 12.5, "flow_lpm": 0}'),
    ("water_meter", b'{"ts": "2026-12-03T08:00:00+08:00", "msg_id": "m1", "total_m3": 1}'),
    ("water_meter", b'{"ts": "2026-12-03T08:00:00", "total_m3": 1}'),  # no offset
    ("water_meter", b'{"ts": 1764720000000}'),  # no metric
    ("water_meter", b'{"ts": 1764720000000, "total_m3": -1}'),
    ("water_meter", b'{"ts": 1764720000000, "total_m3": "1.5"}'),  # strict: no strings
    ("water_meter", b'{"ts": true, "total_m3": 1}'),
    ("power_meter", b'{"ts": 1764720000000, "total_kwh": 900.25, "power_w": 120, "x": 1}'),
    ("wearable", b'{"ts": 1764720000000, "heart_rate": 72, "spo2": 97, "steps": 10}'),
    ("wearable", b'{"ts": 1764720000000, "steps": 1.5}'),
    ("wearable", b'{"ts": 1764720000000, "heart_rate": 72, "steps": true}'),
    ("wearable", b'{"ts": 1764720000000, "heart_rate": 72, '
                 b'"location": {"lat": 31.8, "lon": 117.3, "source": "beidou"}}'),
    ("motion_sensor", b'{"ts": 1764720000000, "motion": true}'),
    ("motion_sensor", b'{"ts": 1764720000000, "motion": 1}'),
    ("motion_sensor", b'{"ts": 1764720000000, "door_open": null}'),
    ("water_meter", b'{"ts": 1764720000000, "total_m3": NaN}'),
    ("water_meter", b'{"ts": 1764720000000, "msg_id": "", "total_m3": 1}'),
    ("water_meter", b'[{"ts": 1764720000000, "total_m3": 1}]'),  # arrays: general path
    ("call_button", b'{"ts": 1764720000000, "total_m3": 1}'),
]


@pytest.mark.parametrize(("device_type", "payload"), PAYLOADS)
def test_fast_path_agrees_with_the_general_path(device_type: str, payload: bytes) -> None:
    fast = telemetry_from_json(device_type, payload)
    try:
        general, errors = validate_telemetry(device_type, json.loads(payload))
    except (Rejected, ValueError):
        general, errors = [], ["rejected"]
    if fast is None:
        # Not taken: an array, or something the general path rejects (and explains).
        assert payload.startswith(b"[") or errors or not general
    else:
        assert not errors and general == [fast]
