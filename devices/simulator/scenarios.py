"""Scenarios injected by name and time, and the ground truth of what was injected.

CLI syntax of one scenario: `NAME[:TARGET][@AT][+FOR]`, for example `sos@2m`,
`fall:E0003@1h`, `device_offline:wm-0007@30m+6h`, `away:2@1d+5d`, `heatwave@0+3d`.
TARGET is an elder id, a device id, or a household index (0-based, in registry order);
without it the scenario picks a household that has the devices it needs. AT and FOR are
durations from the start of the simulation: `90s`, `2m`, `1h30m`, `2d`, or plain seconds.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from devices.simulator.household import Household

# name -> (device types that can carry it, in order of preference; default duration)
SCENARIOS: dict[str, tuple[tuple[str, ...], timedelta | None]] = {
    "fall": (("wearable",), None),
    "incapacitated": (("water_meter", "motion_sensor", "power_meter", "wearable"), None),
    "tap_left_running": (("water_meter",), timedelta(hours=24)),
    "sos": (("call_button", "wearable"), None),
    "sos_by_mistake": (("call_button",), None),
    "smoke": (("smoke_detector",), None),
    "gas": (("gas_detector",), None),
    "device_offline": (("call_button", "water_meter", "motion_sensor", "wearable",
                        "power_meter", "smoke_detector", "gas_detector"), timedelta(hours=6)),
    "battery_low": (("call_button", "motion_sensor", "smoke_detector", "wearable"), None),
    "away": ((), timedelta(days=3)),
    "heatwave": ((), timedelta(days=3)),
    "meter_replaced": (("water_meter",), None),
}
DISTRICT_WIDE = frozenset({"heatwave"})

_SPEC = re.compile(r"^(?P<name>[a-z_]+)(?::(?P<target>[A-Za-z0-9_-]+))?"
                   r"(?:@(?P<at>[0-9dhms]+))?(?:\+(?P<for>[0-9dhms]+))?$")
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


@dataclass(frozen=True)
class ScenarioSpec:
    """A scenario to inject: its name, whom (elder id, device id or household index), when."""

    name: str
    target: str | int | None = None
    at: timedelta = timedelta(0)
    duration: timedelta | None = None

    def __post_init__(self) -> None:
        if self.name not in SCENARIOS:
            raise ValueError(f"unknown scenario '{self.name}' (one of: {', '.join(SCENARIOS)})")

    @classmethod
    def demo_defaults(cls, registry: dict[str, Any]) -> list[ScenarioSpec]:
        """Incidents for the first minutes of a demo, each where the registry has a device."""
        have = {d.get("type") for e in registry.get("elders") or ()
                for d in e.get("devices") or ()}
        # (name, seconds from the start): the first SOS early, so a visitor sees it at once.
        wanted = [("sos", 10), ("sos_by_mistake", 35), ("smoke", 60), ("fall", 90),
                  ("battery_low", 120), ("tap_left_running", 180), ("device_offline", 240)]
        return [cls(name, None, timedelta(seconds=s)) for name, s in wanted
                if set(SCENARIOS[name][0]) & have]


@dataclass(frozen=True)
class Incident:
    """Ground truth: something that happened in the simulated district and when."""

    kind: str
    elder_id: str | None
    device_id: str | None
    at: datetime
    until: datetime | None = None
    source: str = "scenario"  # or "routine": a dropout, a planned absence, a battery running down


@dataclass
class Effects:
    """What scenarios do to one household, in epoch seconds."""

    stopped: list[tuple[int, int | None]] = field(default_factory=list)
    away: list[tuple[int, int]] = field(default_factory=list)
    tap: list[tuple[int, int, float]] = field(default_factory=list)
    offline: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    battery_low: dict[str, int] = field(default_factory=dict)
    events: list[tuple[int, str, str]] = field(default_factory=list)  # (epoch ms, device, type)
    replaced: dict[str, int] = field(default_factory=dict)


def parse_duration(text: str) -> timedelta:
    """`90s`, `2m`, `1h30m`, `2d` or plain seconds; raises ValueError."""
    if text.isdigit():
        return timedelta(seconds=int(text))
    match = _DURATION.match(text)
    if not text or not match:
        raise ValueError(f"not a duration: '{text}' (use e.g. 90s, 2m, 1h30m, 2d)")
    d, h, m, s = (int(g) if g else 0 for g in match.groups())
    return timedelta(days=d, hours=h, minutes=m, seconds=s)


def parse_scenario(text: str) -> ScenarioSpec:
    """Parse `NAME[:TARGET][@AT][+FOR]`; raises ValueError with a one-line reason."""
    match = _SPEC.match(text.strip())
    if not match:
        raise ValueError(f"bad scenario '{text}': use NAME[:TARGET][@AT][+FOR], e.g. fall:E0003@1h")
    target: str | int | None = match["target"]
    if isinstance(target, str) and target.isdigit():
        target = int(target)
    return ScenarioSpec(
        name=match["name"], target=target,
        at=parse_duration(match["at"]) if match["at"] else timedelta(0),
        duration=parse_duration(match["for"]) if match["for"] else None,
    )


def resolve(
    specs: list[ScenarioSpec], households: list[Household], start: datetime, seed: int
) -> tuple[dict[str, Effects], list[tuple[int, int]], list[Incident]]:
    """Turn specs into per-household effects, heatwave intervals and the incidents they make."""
    rng = random.Random(f"scenarios:{seed}")
    effects: dict[str, Effects] = {}
    heat: list[tuple[int, int]] = []
    incidents: list[Incident] = []
    used: set[str] = set()
    t0 = int(start.timestamp())
    start = start.astimezone(UTC)  # the ground truth speaks UTC, as the monitor does
    for spec in specs:
        types, default_for = SCENARIOS[spec.name]
        at = t0 + int(spec.at.total_seconds())
        span = spec.duration or default_for
        until = at + int(span.total_seconds()) if span else None
        when = start + spec.at
        end = start + spec.at + span if span else None
        if spec.name in DISTRICT_WIDE:
            heat.append((at, until or at))
            incidents.append(Incident(spec.name, None, None, when, end))
            continue
        house, device_id = _target(spec, types, households, used, rng)
        used.add(house.elder_id)
        fx = effects.setdefault(house.elder_id, Effects())
        ms = at * 1000
        if spec.name in ("fall", "incapacitated"):
            fx.stopped.append((at, until))
            if spec.name == "fall":
                fx.events.append((ms, str(device_id), "fall"))
        elif spec.name == "tap_left_running":
            fx.tap.append((at, until or at, rng.uniform(2.0, 6.0)))
        elif spec.name == "sos":
            fx.events.append((ms, str(device_id), "sos"))
        elif spec.name == "sos_by_mistake":
            fx.events.append((ms, str(device_id), "sos"))
            fx.events.append((ms + rng.randint(8000, 25000), str(device_id), "cancel"))
        elif spec.name in ("smoke", "gas"):
            fx.events.append((ms, str(device_id), spec.name))
        elif spec.name == "device_offline":
            fx.offline.setdefault(str(device_id), []).append((at, until or at))
        elif spec.name == "battery_low":
            fx.battery_low[str(device_id)] = at
        elif spec.name == "away":
            fx.away.append((at, until or at))
        elif spec.name == "meter_replaced":
            fx.replaced[str(device_id)] = at
        incidents.append(Incident(spec.name, house.elder_id, device_id, when, end))
    return effects, heat, incidents


def _target(
    spec: ScenarioSpec, types: tuple[str, ...], households: list[Household],
    used: set[str], rng: random.Random,
) -> tuple[Household, str | None]:
    """The household (and device) a scenario lands on; raises ValueError if none fits."""

    def carrier(house: Household) -> str | None:
        for t in types:
            dev = house.device(t)
            if dev is not None:
                return dev.id
        return None

    if spec.target is None:
        fits = [h for h in households if h.devices and (not types or carrier(h))]
        fresh = [h for h in fits if h.elder_id not in used] or fits
        if not fresh:
            raise ValueError(f"no household has a device for scenario '{spec.name}'")
        house = rng.choice(fresh)
        return house, carrier(house)
    if isinstance(spec.target, int):
        if not 0 <= spec.target < len(households):
            raise ValueError(f"scenario '{spec.name}': no household {spec.target} "
                             f"(there are {len(households)})")
        house = households[spec.target]
    else:
        by_device = {d.id: (h, d.type) for h in households for d in h.devices}
        if spec.target in by_device:
            house, dev_type = by_device[spec.target]
            if types and dev_type not in types:
                raise ValueError(f"scenario '{spec.name}' cannot happen on {spec.target} "
                                 f"({dev_type}); it needs one of: {', '.join(types)}")
            return house, spec.target
        found = [h for h in households if h.elder_id == spec.target]
        if not found:
            raise ValueError(f"scenario '{spec.name}': no elder or device '{spec.target}' "
                             "with devices in the registry")
        house = found[0]
    dev_id = carrier(house)
    if types and dev_id is None:
        raise ValueError(f"scenario '{spec.name}': {house.elder_id} has none of: "
                         f"{', '.join(types)}")
    return house, dev_id
