"""A household: the elder's profile, the devices at home, and one day's routine minute by minute.

A day plan is four arrays of 1440 minutes (local time, Asia/Shanghai): what the elder is
doing (`state`), whether she is at home (`home`), litres of water drawn (`water`) and the
watts of appliances switched on by people (`load`; the base load and the fridge come on top).
Devices turn a plan into readings; scenarios edit plans before that.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import date
from typing import Any

ASLEEP, RESTING, ACTIVE, OUT, LYING = 0, 1, 2, 3, 4
MINUTES = 1440

# Status period, a little shorter than the monitor's default heartbeat_s of the type.
HEARTBEAT_S = {
    "call_button": 900, "wearable": 900, "water_meter": 3600, "power_meter": 3600,
    "motion_sensor": 900, "smoke_detector": 3600, "gas_detector": 3600,
}
BATTERY_TYPES = frozenset({"call_button", "wearable", "motion_sensor", "smoke_detector",
                           "water_meter"})


@dataclass(frozen=True, slots=True)
class Device:
    """One device at home and the fixed traits that shape what it sends."""

    id: str
    type: str
    nbiot: bool  # an NB-IoT meter batches readings and uploads them every few hours
    phase_s: int  # offset of its status clock, so devices do not all speak at once
    battery0: float | None  # percent at the start of the simulation; None: mains powered
    drain_per_day: float
    signal_dbm: int
    register0: float  # meter register at the start of the simulation

    @property
    def status_period_s(self) -> int:
        return int(HEARTBEAT_S.get(self.type, 900) * 0.8)


@dataclass(frozen=True, slots=True)
class Profile:
    """The elder's habits: what stays the same from one day to the next."""

    wake_min: int
    bed_min: int
    nap_min: int  # 0: no afternoon nap
    outing_prob: float
    occupants: int
    mobility: float  # 1.0 walks to the market; 0.3 barely leaves the chair
    shower_every: int
    hr_rest: int
    base_w: float
    fridge_w: float
    cooks: bool
    electric_water_heater: bool
    test_day: int  # day of the month of the call button's test press


@dataclass(slots=True)
class DayPlan:
    """One local day of one household, minute by minute."""

    day: date
    start_s: int  # epoch seconds of local midnight
    state: list[int]
    home: list[int]
    water: list[float]
    load: list[float]
    rng: random.Random


def stable_int(*parts: object) -> int:
    """A number that depends only on `parts`, not on the process (unlike hash())."""
    digest = hashlib.blake2b(":".join(str(p) for p in parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


@dataclass(slots=True)
class Household:
    """An elder with devices, as the simulator sees her."""

    index: int
    elder_id: str
    categories: tuple[str, ...]
    devices: list[Device]
    profile: Profile
    seed: int

    @classmethod
    def from_elder(cls, index: int, elder: dict[str, Any], seed: int) -> Household:
        """Draw the profile and device traits of a registry elder from the seed."""
        elder_id = str(elder["id"])
        rng = random.Random(f"profile:{seed}:{elder_id}")
        cats = tuple(elder.get("categories") or ())
        frail = bool({"失能", "重残"} & set(cats))
        chronotype = rng.choices(["early", "normal", "late"], weights=[3, 5, 2])[0]
        wake = {"early": rng.randint(290, 345), "normal": rng.randint(360, 420),
                "late": rng.randint(420, 480)}[chronotype]
        profile = Profile(
            wake_min=wake,
            bed_min=rng.randint(1230, 1350) - (30 if chronotype == "early" else 0),
            nap_min=rng.choice([0, 0, 45, 60, 90]) if not frail else 120,
            outing_prob=0.05 if frail else rng.uniform(0.4, 0.9),
            occupants=2 if "空巢" in cats else 1,
            mobility=0.3 if frail else rng.uniform(0.7, 1.0),
            shower_every=rng.choice([1, 2, 2, 3]),
            hr_rest=rng.randint(62, 78),
            base_w=rng.uniform(35, 80),
            fridge_w=rng.uniform(70, 110),
            cooks=rng.random() < 0.85,
            electric_water_heater=rng.random() < 0.6,
            test_day=rng.randint(1, 28),
        )
        devices = []
        for spec in elder.get("devices") or ():
            dev_id, dev_type = str(spec["id"]), str(spec["type"])
            drng = random.Random(f"device:{seed}:{dev_id}")
            battery: float | None = None
            drain = 0.0
            if dev_type in BATTERY_TYPES and not (dev_type == "water_meter"
                                                  and drng.random() < 0.5):
                battery = drng.uniform(45, 100)
                drain = {"wearable": 0.0, "water_meter": 0.01}.get(dev_type, 0.06)
                if dev_type == "call_button" and drng.random() < 0.04:
                    battery, drain = drng.uniform(16, 19), 1.5  # old cells running down
            devices.append(Device(
                id=dev_id, type=dev_type,
                nbiot=dev_type in ("water_meter", "power_meter") and drng.random() < 0.4,
                phase_s=drng.randrange(0, HEARTBEAT_S.get(dev_type, 900)),
                battery0=battery, drain_per_day=drain,
                signal_dbm=drng.randint(-101, -62),
                register0=round(drng.uniform(40, 900), 3) if dev_type == "water_meter"
                else round(drng.uniform(800, 9000), 2),
            ))
        return cls(index, elder_id, cats, devices, profile, seed)

    def device(self, device_type: str) -> Device | None:
        """The first device of a type, if the household has one."""
        return next((d for d in self.devices if d.type == device_type), None)

    def plan_day(self, day: date, start_s: int, heat: bool = False) -> DayPlan:
        """The routine of one local day, varied from day to day by the seed."""
        p = self.profile
        rng = random.Random(f"day:{self.seed}:{self.elder_id}:{day.isoformat()}")
        state = [ASLEEP] * MINUTES
        home = [1] * MINUTES
        water = [0.0] * MINUTES
        load = [0.0] * MINUTES
        plan = DayPlan(day, start_s, state, home, water, load, rng)
        scale = 1.0 if p.occupants == 1 else 1.7
        wake = p.wake_min + rng.randint(-20, 20)
        bed = p.bed_min + rng.randint(-25, 25)
        _span(state, wake, bed, RESTING)

        # Night: one or two trips to the toilet.
        for _ in range(rng.choice([0, 1, 1, 2])):
            m = rng.randint(60, max(61, wake - 30))
            _activity(plan, m, 4, water_l=6 * scale)
        # Waking: toilet, washing, kettle; then breakfast.
        _activity(plan, wake, 30, water_l=11 * scale, watts=1800, watt_min=3)
        _activity(plan, wake + 40, 20, water_l=3 * scale,
                  watts=500 if rng.random() < 0.5 else 0, watt_min=30)
        # A morning outing: the market, the park, the clinic.
        if rng.random() < p.outing_prob:
            leave = rng.randint(max(wake + 70, 480), 600)
            _outing(plan, leave, int(rng.randint(50, 130) * p.mobility) + 15)
        # Chores, now and then laundry.
        for _ in range(int(rng.randint(1, 3) * p.mobility) + 1):
            _activity(plan, rng.randint(wake + 60, 1080), rng.randint(10, 35))
        if rng.random() < 0.33:
            _activity(plan, rng.randint(wake + 90, 900), 20, water_l=45 * scale,
                      watts=400, watt_min=50)
        # Meals: cooking and the dishes.
        for meal, cook_w in ((rng.randint(660, 720), 1500), (rng.randint(1040, 1100), 1500)):
            _activity(plan, meal, 40, water_l=9 * scale,
                      watts=cook_w if p.cooks else 800, watt_min=rng.randint(12, 25))
            _activity(plan, meal + 55, 12, water_l=9 * scale)
        # Afternoon nap.
        if p.nap_min:
            start = rng.randint(750, 800)
            _span(state, start, start + p.nap_min + rng.randint(-15, 15), ASLEEP)
        if rng.random() < p.outing_prob * 0.4:
            _outing(plan, rng.randint(900, 960), rng.randint(30, 70))
        # Toilet through the day.
        for m in range(wake + 120, bed - 30, rng.randint(110, 170)):
            _activity(plan, m + rng.randint(-20, 20), 4, water_l=7 * scale)
        # Evening: lights and television until bed, a shower every few days.
        for m in range(1110, bed):
            load[m % MINUTES] += 40
            if m >= 1140 and state[m % MINUTES] == RESTING:
                load[m % MINUTES] += 110
        if heat or rng.randrange(p.shower_every) == 0:
            shower = rng.randint(1170, max(1171, bed - 40))
            _activity(plan, shower, 20, water_l=40 * scale,
                      watts=2000 if p.electric_water_heater else 0, watt_min=30)
        if heat:
            for m in list(range(780, 1020)) + list(range(bed, MINUTES)) + list(range(0, wake)):
                if (m // 20) % 3 != 2:  # the compressor cycles
                    load[m] += 900
        return plan


def _span(arr: list[int], start: int, end: int, value: int) -> None:
    start, end = max(0, start), min(MINUTES, end)
    if end > start:
        arr[start:end] = [value] * (end - start)


def _activity(plan: DayPlan, start: int, minutes: int, water_l: float = 0.0,
              watts: float = 0.0, watt_min: int = 0) -> None:
    """The elder busy at home from `start`: moving about, perhaps drawing water, using power."""
    if not 0 <= start < MINUTES:
        return
    end = min(MINUTES, start + minutes)
    _span(plan.state, start, end, ACTIVE)
    _span(plan.home, start, end, 1)
    if water_l:
        # Water is drawn over the first few minutes of the activity.
        draw = max(1, min(end - start, int(water_l // 6) + 1))
        for m in range(start, start + draw):
            plan.water[m] += water_l / draw
    for m in range(start, min(MINUTES, start + watt_min)):
        plan.load[m] += watts


def _outing(plan: DayPlan, start: int, minutes: int) -> None:
    _span(plan.state, start, start + minutes, OUT)
    _span(plan.home, start, start + minutes, 0)
