"""Each scenario leaves its signature in the stream, and in the ground truth."""

from __future__ import annotations

from datetime import timedelta

import pytest

from devices.simulator import ScenarioSpec, incidents, parse_scenario
from devices.simulator.scenarios import parse_duration
from tests.simulator.common import START, Stream, device_of, water_between

AT = timedelta(hours=26)  # 10:00 local on the second day


def _elder(types: tuple[str, ...]) -> str:
    return str(Stream(households=20, days=0.01).household(*types)["id"])


@pytest.mark.parametrize(("text", "spec"), [
    ("sos", ScenarioSpec("sos")),
    ("sos@2m", ScenarioSpec("sos", None, timedelta(minutes=2))),
    ("fall:E0003@1h", ScenarioSpec("fall", "E0003", timedelta(hours=1))),
    ("away:4@1d+5d", ScenarioSpec("away", 4, timedelta(days=1), timedelta(days=5))),
    ("device_offline:wm-0007@1h30m+6h",
     ScenarioSpec("device_offline", "wm-0007", timedelta(minutes=90), timedelta(hours=6))),
])
def test_parse_scenario(text: str, spec: ScenarioSpec) -> None:
    assert parse_scenario(text) == spec


@pytest.mark.parametrize("text", ["nope@1h", "sos@", "sos@1x", "fall:E 1@1h", ""])
def test_bad_scenarios_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_scenario(text)


def test_durations() -> None:
    assert parse_duration("90") == timedelta(seconds=90)
    assert parse_duration("1d2h") == timedelta(days=1, hours=2)


def test_fall_then_stillness() -> None:
    elder = _elder(("wearable", "water_meter", "motion_sensor"))
    s = Stream(days=3, scenarios=[ScenarioSpec("fall", elder, AT)])
    at = START + AT
    e = next(x for x in s.registry["elders"] if x["id"] == elder)
    wb, wm, ms = (device_of(e, t) for t in ("wearable", "water_meter", "motion_sensor"))
    falls = [(t, e) for t, e in s.readings(wb, "event") if e["type"] == "fall"]
    assert [t for t, _ in falls] == [at]
    assert "msg_id" in falls[0][1]
    assert water_between(s, wm, at + timedelta(minutes=15), at + timedelta(hours=24)) == 0
    assert not [t for t, _ in s.readings(ms) if t > at + timedelta(minutes=1)]
    assert water_between(s, wm, at - timedelta(hours=24), at) > 20
    # The wearable still reports a pulse, and no more steps.
    after = [r for t, r in s.readings(wb)
             if at + timedelta(minutes=10) < t < at + timedelta(hours=10)]
    assert after and len({r["steps"] for r in after}) <= 2
    truth = [i for i in s.timeline.incidents() if i.kind == "fall"]
    assert [(i.elder_id, i.device_id, i.at) for i in truth] == [(elder, wb, at)]


def test_incapacitated_stops_without_an_event() -> None:
    elder = _elder(("water_meter", "motion_sensor"))
    s = Stream(days=3, scenarios=[ScenarioSpec("incapacitated", elder, AT)])
    e = next(x for x in s.registry["elders"] if x["id"] == elder)
    at = START + AT
    assert water_between(s, device_of(e, "water_meter"), at + timedelta(minutes=15),
                         at + timedelta(hours=30)) == 0
    assert not [t for t, _ in s.readings(device_of(e, "motion_sensor")) if t > at]
    for dev in e["devices"]:
        assert not [ev for t, ev in s.readings(dev["id"], "event")
                    if t >= at and ev["type"] != "test"]


def test_tap_left_running_draws_water_every_half_hour() -> None:
    elder = _elder(("water_meter",))
    s = Stream(days=3, scenarios=[ScenarioSpec("tap_left_running", elder, AT)])
    wm = device_of(next(x for x in s.registry["elders"] if x["id"] == elder), "water_meter")
    at = START + AT
    for k in range(48):
        a = at + timedelta(minutes=30 * k)
        assert water_between(s, wm, a, a + timedelta(minutes=30)) > 30, k
    assert water_between(s, wm, at, at + timedelta(hours=24)) > 2000  # more than 2 m3


def test_sos_and_sos_by_mistake() -> None:
    s = Stream(days=1, scenarios=[ScenarioSpec("sos", 0, timedelta(hours=2)),
                                  ScenarioSpec("sos_by_mistake", 1, timedelta(hours=3))])
    h0, h1 = s.timeline.households[0], s.timeline.households[1]
    first = [e["type"] for _, e in s.readings(h0.device("call_button").id, "event")]  # type: ignore[union-attr]
    assert "sos" in first
    pressed = [(t, e["type"]) for t, e in
               s.readings(h1.device("call_button").id, "event")]  # type: ignore[union-attr]
    assert [k for _, k in pressed if k != "test"] == ["sos", "cancel"]
    sos_t, cancel_t = (t for t, k in pressed if k != "test")
    assert timedelta(0) < cancel_t - sos_t < timedelta(seconds=30)
    ids = [e["msg_id"] for _, e in s.readings(h1.device("call_button").id, "event")]  # type: ignore[union-attr]
    assert len(set(ids)) == len(ids)


def test_smoke() -> None:
    elder = _elder(("smoke_detector",))
    s = Stream(days=1, scenarios=[ScenarioSpec("smoke", elder, timedelta(hours=5))])
    sd = device_of(next(x for x in s.registry["elders"] if x["id"] == elder), "smoke_detector")
    assert [t for t, e in s.readings(sd, "event") if e["type"] == "smoke"] == \
        [START + timedelta(hours=5)]


def test_device_offline_is_silence_then_a_comeback() -> None:
    elder = _elder(("call_button",))
    at, span = timedelta(hours=3), timedelta(hours=6)
    s = Stream(days=1, scenarios=[ScenarioSpec("device_offline", elder, at, span)])
    btn = device_of(next(x for x in s.registry["elders"] if x["id"] == elder), "call_button")
    a, b = (START + at).timestamp() * 1000, (START + at + span).timestamp() * 1000
    mine = [ms for ms, topic, _ in s.messages if f"/{btn}/" in topic]
    assert not [ms for ms in mine if a <= ms < b]
    assert [ms for ms in mine if ms < a] and [ms for ms in mine if ms == b]


def test_battery_low() -> None:
    elder = _elder(("call_button",))
    s = Stream(days=1, scenarios=[ScenarioSpec("battery_low", elder, timedelta(hours=2))])
    btn = device_of(next(x for x in s.registry["elders"] if x["id"] == elder), "call_button")
    levels = [(t, r["battery_pct"]) for t, r in s.readings(btn, "status")]
    assert all(p <= 10 for t, p in levels if t >= START + timedelta(hours=2))
    assert any(p > 15 for t, p in levels if t < START + timedelta(hours=2))


def test_away_empties_the_home() -> None:
    elder = _elder(("water_meter", "motion_sensor"))
    s = Stream(days=4, scenarios=[ScenarioSpec("away", elder, timedelta(hours=26),
                                               timedelta(days=2))])
    e = next(x for x in s.registry["elders"] if x["id"] == elder)
    a, b = START + timedelta(hours=26), START + timedelta(hours=74)
    assert water_between(s, device_of(e, "water_meter"), a + timedelta(minutes=15), b) == 0
    assert not [t for t, _ in s.readings(device_of(e, "motion_sensor")) if a < t < b]
    assert water_between(s, device_of(e, "water_meter"), b, b + timedelta(hours=20)) > 20
    away = [i for i in s.timeline.incidents() if i.kind == "away"]
    assert [(i.elder_id, i.at, i.until) for i in away] == [(elder, a, b)]


def test_heatwave_raises_consumption() -> None:
    base = Stream(households=10, days=3)
    hot = Stream(households=10, days=3, scenarios=[ScenarioSpec("heatwave", None, timedelta(0))])
    def kwh(s: Stream) -> float:
        total = 0.0
        for h in s.timeline.households:
            pm = h.device("power_meter")
            if pm:
                rows = s.readings(pm.id)
                total += rows[-1][1]["total_kwh"] - rows[0][1]["total_kwh"]
        return total
    assert kwh(hot) > 1.5 * kwh(base)


def test_meter_replacement_resets_the_register_once() -> None:
    elder = _elder(("water_meter",))
    s = Stream(days=2, scenarios=[ScenarioSpec("meter_replaced", elder, timedelta(hours=30))])
    wm = device_of(next(x for x in s.registry["elders"] if x["id"] == elder), "water_meter")
    values = [r["total_m3"] for _, r in s.readings(wm)]
    drops = [i for i in range(1, len(values)) if values[i] < values[i - 1]]
    assert len(drops) == 1 and values[drops[0]] < 1


def test_unknown_target_and_missing_device_are_one_line_errors() -> None:
    registry = Stream(households=3, days=0.01).registry
    with pytest.raises(ValueError, match="no elder or device 'E9999'"):
        incidents(registry, START, timedelta(hours=1), [ScenarioSpec("sos", "E9999")])
    with pytest.raises(ValueError, match="no household 99"):
        incidents(registry, START, timedelta(hours=1), [ScenarioSpec("sos", 99)])


def test_demo_defaults_happen_in_the_first_minutes() -> None:
    registry = Stream(households=40, days=0.01).registry
    specs = ScenarioSpec.demo_defaults(registry)
    assert {"sos", "fall", "sos_by_mistake"} <= {s.name for s in specs}
    assert all(s.at <= timedelta(minutes=5) for s in specs)
    assert min(s.at for s in specs if s.name == "sos") <= timedelta(seconds=15)
    truth = incidents(registry, START, timedelta(hours=1), specs, faults=False)
    assert len(truth) == len(specs)


def test_ground_truth_lists_every_injected_scenario() -> None:
    specs = [parse_scenario(t) for t in ("fall@1h", "sos@2h", "tap_left_running@3h",
                                          "device_offline@4h", "heatwave@0+1d")]
    registry = Stream(households=30, days=0.01).registry
    truth = incidents(registry, START, timedelta(days=1), specs, faults=False)
    assert sorted(i.kind for i in truth) == sorted(s.name for s in specs)
    assert len({i.elder_id for i in truth if i.elder_id}) == 4  # spread over households
