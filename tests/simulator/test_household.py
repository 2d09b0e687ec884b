"""Households behave like homes: plausible totals, real meters, heartbeats, variety."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import pytest

from devices.simulator import Timeline, generate
from devices.simulator.household import HEARTBEAT_S
from tests.simulator.common import START, Stream


@pytest.fixture(scope="module")
def week() -> Stream:
    return Stream(households=30, days=7)


def _daily(readings: list, field: str) -> list[float]:
    """Per local day (from the first reading at midnight), the increase of a register."""
    by_day: dict[object, list[float]] = defaultdict(list)
    for t, r in readings:
        by_day[(t + timedelta(hours=8)).date()].append(r[field])
    days = sorted(by_day)[1:-1]  # whole days only
    return [by_day[d][-1] - by_day[d][0] for d in days]


def test_water_per_elder_per_day_is_plausible(week: Stream) -> None:
    for house in week.timeline.households:
        meter = house.device("water_meter")
        assert meter is not None
        per_elder = [d / house.profile.occupants for d in
                     _daily(week.readings(meter.id), "total_m3")]
        assert per_elder and all(0.05 <= d <= 0.3 for d in per_elder), (house.elder_id, per_elder)


def test_electricity_per_day_is_plausible(week: Stream) -> None:
    for house in week.timeline.households:
        meter = house.device("power_meter")
        if meter is not None:
            days = _daily(week.readings(meter.id), "total_kwh")
            assert all(1.0 <= d <= 12.0 for d in days), (house.elder_id, days)


def test_registers_only_go_up(week: Stream) -> None:
    for house in week.timeline.households:
        for dev in house.devices:
            field = {"water_meter": "total_m3", "power_meter": "total_kwh"}.get(dev.type)
            if field:
                values = [r[field] for _, r in week.readings(dev.id)]
                assert values == sorted(values), dev.id


def test_wearable_follows_the_day(week: Stream) -> None:
    house = next(h for h in week.timeline.households if h.device("wearable"))
    rows = week.readings(house.device("wearable").id)  # type: ignore[union-attr]
    assert all(40 <= r["heart_rate"] <= 150 and 90 <= r["spo2"] <= 100 for _, r in rows)
    night = [r["heart_rate"] for t, r in rows if 2 <= (t + timedelta(hours=8)).hour < 4]
    noon = [r["heart_rate"] for t, r in rows if 9 <= (t + timedelta(hours=8)).hour < 11]
    assert sum(night) / len(night) < sum(noon) / len(noon)
    steps_by_day = defaultdict(list)
    for t, r in rows:
        steps_by_day[(t + timedelta(hours=8)).date()].append(r["steps"])
    for steps in steps_by_day.values():
        assert steps == sorted(steps)  # cumulative within the local day, reset at midnight
    assert max(max(s) for s in steps_by_day.values()) > 1000


def test_every_device_speaks_within_its_heartbeat(week: Stream) -> None:
    for house in week.timeline.households:
        for dev in house.devices:
            times = sorted(t for kind in ("status", "telemetry", "event")
                           for t, _ in week.by_device[dev.id][kind])
            gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
            assert max(gaps) <= HEARTBEAT_S[dev.type], dev.id
            statuses = week.readings(dev.id, "status")
            assert all(s["online"] is True for _, s in statuses)


def test_nbiot_meters_upload_backlogs_later_than_the_readings(week: Stream) -> None:
    arrays = [(sent, payload) for sent, topic, payload in week.messages
              if topic.endswith("/telemetry") and payload.startswith(b"[")]
    assert arrays, "some meters are NB-IoT"
    assert all(len(p) < 16 * 1024 for _, p in arrays)


def test_days_differ_and_households_differ(week: Stream) -> None:
    wakes = {h.profile.wake_min for h in week.timeline.households}
    assert len(wakes) > 10
    meter = week.timeline.households[0].device("water_meter")
    days = _daily(week.readings(meter.id), "total_m3")  # type: ignore[union-attr]
    assert len({round(d, 3) for d in days}) > 1


def test_call_button_sends_its_monthly_test() -> None:
    stream = Stream(households=4, days=31)
    for house in stream.timeline.households:
        btn = house.device("call_button")
        if btn:
            tests = [e for _, e in stream.readings(btn.id, "event") if e["type"] == "test"]
            assert len(tests) == 1, btn.id


def test_same_seed_same_stream_other_seed_other_stream() -> None:
    registry = Stream(households=5, days=0.1).registry
    one = list(generate(registry, START, timedelta(hours=6), seed=7))
    two = list(generate(registry, START, timedelta(hours=6), seed=7))
    three = list(generate(registry, START, timedelta(hours=6), seed=8))
    assert one == two
    assert one != three


def test_sorted_by_send_time_and_inside_the_window() -> None:
    timeline = Timeline(Stream(households=8, days=0.1).registry, START, timedelta(days=2))
    sent = [ms for ms, _, _ in timeline.messages_ms()]
    assert sent == sorted(sent)
    assert sent[0] >= START.timestamp() * 1000
    assert sent[-1] < (START + timedelta(days=2)).timestamp() * 1000


def test_routine_faults_are_in_the_ground_truth() -> None:
    stream = Stream(households=60, days=7, faults=True)
    truth = stream.timeline.incidents()
    kinds = {i.kind for i in truth}
    assert {"device_offline"} <= kinds
    for incident in truth:
        assert incident.source == "routine"
        if incident.kind == "device_offline":
            assert incident.device_id is not None and incident.until is not None
            heard = [t for k in ("status", "telemetry", "event")
                     for t, _ in stream.by_device[incident.device_id][k]]
            # Meters may upload readings of that time later; nothing is *sent* meanwhile.
            sent = [ms for ms, topic, _ in stream.messages
                    if f"/{incident.device_id}/" in topic
                    and incident.at.timestamp() * 1000 <= ms < incident.until.timestamp() * 1000]
            assert not sent and heard
