"""The pure, deterministic core: a registry, a start, a duration, scenarios and a seed in;
device messages in event time out, sorted by the time they are sent.

    from devices.simulator import generate, incidents, demo_registry, ScenarioSpec
    registry = demo_registry(50, seed=1)
    for sent_at, topic, payload in generate(registry, start, timedelta(days=7),
                                            [ScenarioSpec("fall", "E0003", timedelta(hours=30))]):
        ...
    truth = incidents(registry, start, timedelta(days=7), [...])   # what should be noticed

The send time of a message equals the `ts` in its payload, except for meter backlogs: an
NB-IoT meter records a reading every 15 minutes and uploads them as a JSON array every
4 hours, and any meter that was off the network uploads what it missed when it is back.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from devices.simulator.household import (
    ACTIVE,
    ASLEEP,
    LYING,
    MINUTES,
    OUT,
    RESTING,
    DayPlan,
    Device,
    Household,
    stable_int,
)
from devices.simulator.scenarios import Effects, Incident, ScenarioSpec, resolve

LOCAL_OFFSET_S = 8 * 3600  # Asia/Shanghai keeps no daylight saving time
DAY_S = 86400
NBIOT_UPLOAD_S = 4 * 3600
BACKLOG_MAX = 96  # readings per message, well under the 16 KiB payload limit
DROPOUT_PER_DAY = 0.005  # chance that a device drops off the network on a given day
BATTERY_LOW_PCT = 15
HOME_LAT, HOME_LON = 31.87, 117.33  # 瑶海区

Message = tuple[int, str, bytes]  # (send time in epoch ms, topic, payload)


def households_from_registry(registry: dict, seed: int = 0) -> list[Household]:
    """The elders of a registry that have at least one device, in registry order."""
    elders = [e for e in registry.get("elders") or () if e.get("devices")]
    return [Household.from_elder(i, e, seed) for i, e in enumerate(elders)]


def _local_midnight(t_s: int) -> int:
    return (t_s + LOCAL_OFFSET_S) // DAY_S * DAY_S - LOCAL_OFFSET_S


def _local_date(midnight_s: int) -> date:
    return datetime.fromtimestamp(midnight_s + LOCAL_OFFSET_S, UTC).date()


def _rfc3339(ms: int) -> str:
    local = datetime.fromtimestamp(ms / 1000 + LOCAL_OFFSET_S, UTC)
    return local.strftime("%Y-%m-%dT%H:%M:%S+08:00")


def dropouts(house: Household, midnight_s: int, seed: int) -> list[tuple[str, int, int]]:
    """Natural network dropouts of a household's devices that start on one local day."""
    out = []
    for dev in house.devices:
        rng = random.Random(f"dropout:{seed}:{dev.id}:{midnight_s}")
        if rng.random() < DROPOUT_PER_DAY:
            start = midnight_s + rng.randrange(DAY_S)
            out.append((dev.id, start, start + rng.randint(10, 180) * 60))
    return out


def routine_away(house: Household, t0_s: int, seed: int) -> tuple[int, int] | None:
    """About one elder in thirty spends a week at her daughter's, leaving in the first days."""
    n = stable_int("away", seed, house.elder_id)
    if n % 30 != 7:
        return None
    leave = _local_midnight(t0_s) + (1 + n % 3) * DAY_S + 9 * 3600 + (n % 120) * 60
    return leave, leave + 7 * DAY_S


@dataclass
class Timeline:
    """One simulated run: households, injected effects and the ground truth, ready to play."""

    registry: dict
    start: datetime
    duration: timedelta | None
    scenarios: list[ScenarioSpec] = field(default_factory=list)
    seed: int = 0
    faults: bool = True  # natural dropouts, batteries running down, a week away
    topic_prefix: str = "tanfang/v1"

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("start must be an aware datetime")
        self.households = households_from_registry(self.registry, self.seed)
        self.t0_s = int(self.start.timestamp())
        self.end_s = (None if self.duration is None
                      else self.t0_s + int(self.duration.total_seconds()))
        self.effects, self.heat, self._incidents = resolve(
            self.scenarios, self.households, self.start, self.seed)
        if self.faults:
            for house in self.households:
                away = routine_away(house, self.t0_s, self.seed)
                if away is not None:
                    self.effects.setdefault(house.elder_id, Effects()).away.append(away)
                    self._incidents.append(Incident(
                        "away", house.elder_id, None, _dt(away[0]), _dt(away[1]), "routine"))

    def incidents(self) -> list[Incident]:
        """Ground truth inside the window: injected scenarios, then routine ones, by time."""
        found = list(self._incidents)
        if self.faults and self.end_s is not None:
            for house in self.households:
                for midnight in range(_local_midnight(self.t0_s), self.end_s, DAY_S):
                    for dev_id, s, e in dropouts(house, midnight, self.seed):
                        if self.t0_s <= s < self.end_s:
                            found.append(Incident("device_offline", house.elder_id, dev_id,
                                                  _dt(s), _dt(e), "routine"))
                for dev in house.devices:
                    if dev.battery0 and dev.drain_per_day and dev.battery0 > BATTERY_LOW_PCT:
                        cross = self.t0_s + int((dev.battery0 - BATTERY_LOW_PCT)
                                                / dev.drain_per_day * DAY_S)
                        if cross < self.end_s:
                            found.append(Incident("battery_low", house.elder_id, dev.id,
                                                  _dt(cross), None, "routine"))
        inside = [i for i in found
                  if self.end_s is None or i.kind == "heatwave"
                  or int(i.at.timestamp()) < self.end_s]
        return sorted(inside, key=lambda i: (i.at, i.elder_id or "", i.kind))

    def messages_ms(self) -> Iterator[Message]:
        """Every message of the run, sorted by send time (epoch ms)."""
        streams = [_HouseStream(self, h).messages() for h in self.households]
        return heapq.merge(*streams, key=lambda m: m[0])

    def messages(self) -> Iterator[tuple[datetime, str, bytes]]:
        """Every message of the run as (send time, topic, payload), sorted by send time."""
        for ms, topic, payload in self.messages_ms():
            yield _dt_ms(ms), topic, payload


def generate(
    registry: dict, start: datetime, duration: timedelta | None,
    scenarios: Iterable[ScenarioSpec] = (), seed: int = 0, *, faults: bool = True,
) -> Iterator[tuple[datetime, str, bytes]]:
    """Messages of the district from `start` for `duration` (None: forever), by send time."""
    return Timeline(registry, start, duration, list(scenarios), seed, faults).messages()


def incidents(
    registry: dict, start: datetime, duration: timedelta | None,
    scenarios: Iterable[ScenarioSpec] = (), seed: int = 0, *, faults: bool = True,
) -> list[Incident]:
    """Ground truth of the same run as `generate` with the same arguments."""
    return Timeline(registry, start, duration, list(scenarios), seed, faults).incidents()


def _dt(s: int) -> datetime:
    return datetime.fromtimestamp(s, UTC)


def _dt_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _in(intervals: list[tuple[int, int]], t: int) -> bool:
    return any(s <= t < e for s, e in intervals)


class _HouseStream:
    """Turns a household's day plans into messages, carrying meter registers between days."""

    def __init__(self, timeline: Timeline, house: Household) -> None:
        self.tl = timeline
        self.house = house
        self.fx = timeline.effects.get(house.elder_id, Effects())
        self.seed = timeline.seed
        self.offline: dict[str, list[tuple[int, int]]] = {
            d.id: list(self.fx.offline.get(d.id, ())) for d in house.devices}
        self.register = {d.id: d.register0 for d in house.devices}
        self.pending: dict[str, list[tuple[int, str]]] = {d.id: [] for d in house.devices}
        self.replaced_done: set[str] = set()
        prefix = timeline.topic_prefix
        self.topics = {d.id: (f"{prefix}/{d.id}/telemetry", f"{prefix}/{d.id}/status",
                              f"{prefix}/{d.id}/event") for d in house.devices}
        hrng = random.Random(f"home:{self.seed}:{house.elder_id}")
        self.lat = HOME_LAT + hrng.uniform(-0.03, 0.03)
        self.lon = HOME_LON + hrng.uniform(-0.04, 0.04)
        self.fridge_phase = hrng.randrange(40)

    def messages(self) -> Iterator[Message]:
        tl = self.tl
        t0_ms = tl.t0_s * 1000
        end_ms = None if tl.end_s is None else tl.end_s * 1000
        carry: list[Message] = []
        midnight = _local_midnight(tl.t0_s)
        while tl.end_s is None or midnight < tl.end_s:
            for msg in self._day(midnight):
                heapq.heappush(carry, msg)
            day_end_ms = (midnight + DAY_S) * 1000
            while carry and carry[0][0] < day_end_ms:
                msg = heapq.heappop(carry)
                if msg[0] >= t0_ms and (end_ms is None or msg[0] < end_ms):
                    yield msg
            midnight += DAY_S
        while carry:
            msg = heapq.heappop(carry)
            if msg[0] >= t0_ms and (end_ms is None or msg[0] < end_ms):
                yield msg

    # -- one day ----------------------------------------------------------------------

    def _day(self, midnight: int) -> list[Message]:
        day_end = midnight + DAY_S
        heat = any(s < day_end and e > midnight for s, e in self.tl.heat)
        plan = self.house.plan_day(_local_date(midnight), midnight, heat)
        self._apply(plan, midnight)
        if self.tl.faults:
            for dev_id, s, e in dropouts(self.house, midnight, self.seed):
                self.offline[dev_id].append((s, e))
        out: list[Message] = []
        for dev in self.house.devices:
            off = [(s, e) for s, e in self.offline[dev.id] if s < day_end and e > midnight]
            kind = dev.type
            if kind in ("water_meter", "power_meter"):
                self._meter(dev, plan, off, out)
            elif kind == "wearable":
                self._wearable(dev, plan, off, out)
            elif kind == "motion_sensor":
                self._motion(dev, plan, off, out)
            self._status(dev, plan, off, out)
            if kind in ("call_button", "smoke_detector") and plan.day.day == \
                    self.house.profile.test_day:
                ms = (midnight + 36000 + plan.rng.randrange(1800)) * 1000
                out.append(self._event(dev, ms, "test"))
        for ms, dev_id, kind in self.fx.events:
            if midnight * 1000 <= ms < day_end * 1000:
                dev = next(d for d in self.house.devices if d.id == dev_id)
                out.append(self._event(dev, ms, kind))
        return out

    def _apply(self, plan: DayPlan, midnight: int) -> None:
        """Edit the day plan by the household's scenarios and its planned absence."""
        fx = self.fx

        def minutes(s: int, e: int | None) -> range:
            lo = max(0, (s - midnight + 59) // 60)
            hi = MINUTES if e is None else min(MINUTES, max(0, (e - midnight + 59) // 60))
            return range(lo, hi)

        for s, e in fx.away:
            for m in minutes(s, e):
                plan.home[m], plan.water[m], plan.load[m] = 0, 0.0, 0.0
        for s, maybe_e in fx.stopped:
            for m in minutes(s, maybe_e):
                plan.state[m], plan.home[m], plan.water[m], plan.load[m] = LYING, 1, 0.0, 0.0
        for s, e, flow in fx.tap:
            for m in minutes(s, e):
                plan.water[m] += flow

    def _alive(self, dev: Device, t: int, off: list[tuple[int, int]]) -> bool:
        return not _in(off, t) and (dev.battery0 is None or self._battery(dev, t) > 0)

    def _battery(self, dev: Device, t: int, plan: DayPlan | None = None) -> float:
        assert dev.battery0 is not None
        days = (t - self.tl.t0_s) / DAY_S
        level = dev.battery0 - dev.drain_per_day * days
        if dev.type == "wearable" and plan is not None:
            charged = plan.start_s + (self.house.profile.wake_min + 105) * 60
            since = (t - charged) % DAY_S
            level = 100 - since / 60 * 0.045
        low = self.fx.battery_low.get(dev.id)
        if low is not None and t >= low:
            level = min(level, 9 - 1.5 * (t - low) / DAY_S)
        return max(0.0, level)

    def _status(self, dev: Device, plan: DayPlan, off: list[tuple[int, int]],
                out: list[Message]) -> None:
        period = dev.status_period_s
        midnight = plan.start_s
        first = midnight + (dev.phase_s - midnight) % period
        times = list(range(first, midnight + DAY_S, period))
        # Back on the network: say so at once.
        times += [e for _, e in off if midnight <= e < midnight + DAY_S]
        topic = self.topics[dev.id][1]
        rng = plan.rng
        for t in times:
            if not self._alive(dev, t, off):
                continue
            sig = dev.signal_dbm + rng.randint(-4, 4)
            if dev.battery0 is None:
                body = f'{{"online":true,"ts":{t * 1000},"signal_dbm":{sig}}}'
            else:
                bat = round(self._battery(dev, t, plan))
                body = f'{{"online":true,"ts":{t * 1000},"battery_pct":{bat},"signal_dbm":{sig}}}'
            out.append((t * 1000, topic, body.encode()))

    def _event(self, dev: Device, ms: int, kind: str) -> Message:
        body = f'{{"msg_id":"{dev.id}-{ms:x}","ts":{ms},"type":"{kind}"'
        if dev.type == "wearable":
            body += f',"location":{{"lat":{self.lat:.5f},"lon":{self.lon:.5f},"source":"beidou"}}'
        return ms, self.topics[dev.id][2], (body + "}").encode()

    def _meter(self, dev: Device, plan: DayPlan, off: list[tuple[int, int]],
               out: list[Message]) -> None:
        midnight = plan.start_s
        water = dev.type == "water_meter"
        if water:
            per_min = plan.water
        else:
            fp = self.fridge_phase
            p = self.house.profile
            per_min = [p.base_w + (p.fridge_w if (m + fp) % 40 < 15 else 0.0) + plan.load[m]
                       for m in range(MINUTES)]
        pending = self.pending[dev.id]
        reg = self.register[dev.id]
        replaced_at = self.tl.effects.get(self.house.elder_id, Effects()).replaced.get(dev.id)
        for m in range(15, MINUTES + 1, 15):
            t = midnight + m * 60
            if replaced_at is not None and dev.id not in self.replaced_done and t >= replaced_at:
                reg = 0.0  # a new meter: the register starts again
                self.replaced_done.add(dev.id)
            ms = t * 1000
            if water:
                reg += sum(per_min[m - 15:m]) / 1000
                ts = f'"{_rfc3339(ms)}"' if dev.nbiot else str(ms)
                flow = "" if dev.nbiot else f',"flow_lpm":{per_min[m - 1]:.1f}'
                pending.append((ms, f'{{"ts":{ts},"total_m3":{reg:.3f}{flow}}}'))
            else:
                reg += sum(per_min[m - 15:m]) / 60000
                ts = f'"{_rfc3339(ms)}"' if dev.nbiot else str(ms)
                pending.append((ms, f'{{"ts":{ts},"total_kwh":{reg:.3f},'
                                    f'"power_w":{per_min[m - 1]:.0f}}}'))
        self.register[dev.id] = reg
        if dev.nbiot:
            first = midnight + (dev.phase_s * 4 - midnight) % NBIOT_UPLOAD_S
            uploads = list(range(first, midnight + DAY_S, NBIOT_UPLOAD_S))
        else:
            uploads = [midnight + m * 60 for m in range(15, MINUTES + 1, 15)]
        uploads += [e for _, e in off if midnight <= e < midnight + DAY_S]
        topic = self.topics[dev.id][0]
        for u in sorted(uploads):
            if not pending or not self._alive(dev, u, off):
                continue
            due = [r for r in pending if r[0] <= u * 1000]
            if not due:
                continue
            del pending[:len(due)]
            for i in range(0, len(due), BACKLOG_MAX):
                chunk = due[i:i + BACKLOG_MAX]
                if len(chunk) == 1 and not dev.nbiot:
                    body = chunk[0][1]
                else:
                    body = "[" + ",".join(r[1] for r in chunk) + "]"
                out.append((u * 1000, topic, body.encode()))

    def _wearable(self, dev: Device, plan: DayPlan, off: list[tuple[int, int]],
                  out: list[Message]) -> None:
        p = self.house.profile
        rng = plan.rng
        midnight = plan.start_s
        charge = range(p.wake_min + 45, p.wake_min + 105)
        heat = 6 if any(s < midnight + DAY_S and e > midnight for s, e in self.tl.heat) else 0
        stopped = [s for s, _ in self.fx.stopped]
        topic = self.topics[dev.id][0]
        steps = 0
        per_state = {ASLEEP: 0, RESTING: 1, ACTIVE: 12, OUT: 70, LYING: 0}
        hr_state = {ASLEEP: -8, RESTING: 0, ACTIVE: 14, OUT: 24, LYING: 12}
        offset = dev.phase_s % 10
        for m in range(MINUTES):
            st = plan.state[m]
            steps += int(per_state[st] * p.mobility)
            if (m - offset) % 10 or m in charge:
                continue
            t = midnight + m * 60
            if not self._alive(dev, t, off):
                continue
            hr = p.hr_rest + hr_state[st] + heat + rng.randint(-4, 4)
            if st == LYING and any(0 <= t - s < 1800 for s in stopped):
                hr += 20  # the fright of a fall
            spo2 = rng.randint(94, 99)
            body = f'{{"ts":{t * 1000},"heart_rate":{hr},"spo2":{spo2},"steps":{steps}'
            if st == OUT:
                body += (f',"location":{{"lat":{self.lat + rng.uniform(-.004, .004):.5f},'
                         f'"lon":{self.lon + rng.uniform(-.004, .004):.5f},"source":"lbs"}}')
            out.append((t * 1000, topic, (body + "}").encode()))

    def _motion(self, dev: Device, plan: DayPlan, off: list[tuple[int, int]],
                out: list[Message]) -> None:
        rng = plan.rng
        topic = self.topics[dev.id][0]
        state, home = plan.state, plan.home
        for w in range(0, MINUTES, 5):
            seen = None
            for m in range(w, w + 5):
                if home[m] and state[m] == ACTIVE:
                    seen = m
                    break
            if seen is None and home[w] and state[w] == RESTING and rng.random() < 0.3:
                seen = w
            if seen is None:
                continue
            t = plan.start_s + seen * 60 + rng.randrange(60)
            if self._alive(dev, t, off):
                out.append((t * 1000, topic, f'{{"ts":{t * 1000},"motion":true}}'.encode()))
