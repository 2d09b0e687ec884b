"""Sustained vital signs: heart rate or SpO2 out of range for minutes, judged on event time.

The recent readings of each wearable live in `rule_state` (rule `vitals`, subject the
device); the usage transaction locks the wearable's device row before they are read
(`RuleEngine.on_readings`), so that two daemons splitting the readings of one wearable see
them all. Readings are merged by their
`ts`, so late and out-of-order readings count where they belong; a run is a series of
out-of-range readings no further apart than `max_gap_min`, and it is sustained once it
spans `sustain_min`.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from monitor.alarms.service import AlarmDecision
from monitor.rules.episodes import load_states
from monitor.rules.settings import VitalsRules
from monitor.store.models import RuleState
from monitor.store.upsert import upsert
from monitor.telemetry.reading import Reading
from monitor.timeutil import utcnow

RULE = "vitals"
KEEP = timedelta(hours=1)
# kind -> (reading field, the range of normal values (None: no upper bound))
CHECKS: dict[str, tuple[str, Callable[[VitalsRules], tuple[float, float | None]]]] = {
    "heart_rate": ("heart_rate", lambda r: (r.heart_rate_low, r.heart_rate_high)),
    "spo2_low": ("spo2", lambda r: (r.spo2_low, None)),
}


def out_of_range(low: float, high: float | None) -> Callable[[float], bool]:
    return lambda value: value < low or (high is not None and value > high)


@dataclass(frozen=True)
class Finding:
    """One kind on one wearable after a batch: a sustained run (decision) or back in range."""

    kind: str
    decision: AlarmDecision | None
    at: datetime  # event time of the newest reading of that kind
    subject: str  # the elder (or device:ID): episodes are per elder, as open alarms are


def _epoch(moment: datetime) -> float:
    return moment.timestamp()


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def sustained_runs(
    points: Sequence[Sequence[float]], bad: Callable[[float], bool], sustain: timedelta,
    max_gap: timedelta,
) -> list[tuple[float, float, float, float]]:
    """(start, moment it became sustained, lowest, highest) of each sustained run among
    (time, value) points in time order."""
    runs: list[tuple[float, float, float, float]] = []
    start: float | None = None
    last = lo = hi = 0.0
    done = False
    for ts, value in points:
        if not bad(value) or (start is not None and ts - last > max_gap.total_seconds()):
            start = None
            done = False
            if not bad(value):
                continue
        if start is None:
            start, lo, hi, done = ts, value, value, False
        lo, hi, last = min(lo, value), max(hi, value), ts
        if not done and ts - start >= sustain.total_seconds():
            runs.append((start, ts, lo, hi))
            done = True
    return runs


def merged(kept: list[list[float]], fresh: dict[float, float],
           floor: float) -> list[list[float]]:
    """A wearable's window after a batch: its [time, value] points from `floor` on, in time
    order, a fresh value replacing a kept one of the same time. Fresh points all later than
    the kept ones (readings in order, the usual case) are appended to what is kept."""
    if not kept or not fresh or min(fresh) > kept[-1][0]:
        start = bisect_left(kept, floor, key=itemgetter(0))
        return kept[start:] + [[t, v] for t, v in sorted(fresh.items()) if t >= floor]
    known = {t: v for t, v in kept} | fresh
    return [[t, v] for t, v in sorted(known.items()) if t >= floor]


async def check_vitals(
    session: AsyncSession, readings: Sequence[Reading],
    settings_for: Callable[[str | None], VitalsRules], community: dict[str, str | None],
) -> list[Finding]:
    """Merge the batch into each wearable's recent readings and report what they show."""
    per_device: dict[str, list[Reading]] = {}
    for reading in readings:
        if reading.device_type == "wearable" and any(
                reading.fields.get(f) is not None for f, _ in CHECKS.values()):
            per_device.setdefault(reading.device_id, []).append(reading)
    if not per_device:
        return []
    subjects = sorted(per_device)
    states = await load_states(session, RULE, subjects)
    findings: list[Finding] = []
    rows: list[dict[str, Any]] = []
    for device_id in subjects:
        batch = per_device[device_id]
        elder_id = batch[0].elder_id
        subject = elder_id or f"device:{device_id}"
        rules = settings_for(elder_id)
        state = states.get(device_id) or {}
        newest = max(r.ts for r in batch)
        horizon = max(newest, _dt(state.get("newest", 0.0)))
        for kind, (name, range_of) in CHECKS.items():
            fresh = {_epoch(r.ts): float(r.fields[name]) for r in batch
                     if r.fields.get(name) is not None}
            points = state[name] = merged(state.get(name, []), fresh,
                                          _epoch(horizon - KEEP))
            if not fresh:
                continue
            raised_upto = float(state.get(f"{name}_raised", 0.0))
            low, high = range_of(rules)
            bad = out_of_range(low, high)
            values = [v for _, v in points]
            normal = not values or (min(values) >= low and (high is None or max(values) <= high))
            runs = [] if normal else sustained_runs(
                points, bad, timedelta(minutes=rules.sustain_min),
                timedelta(minutes=rules.max_gap_min))
            new = [run for run in runs if run[0] > raised_upto]
            latest_t = max(fresh)
            if new:
                start, became, lo, hi = new[-1]
                state[f"{name}_raised"] = start
                findings.append(Finding(kind, AlarmDecision(
                    elder_id=elder_id, community_id=community.get(device_id),
                    device_id=device_id, kind=kind, severity=rules.severity, at=_dt(became),
                    details={"rule": "vitals", "metric": name, "lowest": lo, "highest": hi,
                             "since": _dt(start).isoformat(),
                             "low": rules.heart_rate_low if name == "heart_rate"
                             else rules.spo2_low,
                             "high": rules.heart_rate_high if name == "heart_rate" else None,
                             "sustain_min": rules.sustain_min}), _dt(latest_t), subject))
            else:
                newest_point = points[-1] if points else None
                in_range = newest_point is not None and not bad(newest_point[1])
                findings.append(Finding(kind, None if in_range else _PENDING, _dt(latest_t),
                                        subject))
        state["newest"] = _epoch(horizon)
        rows.append({"rule": RULE, "subject": device_id, "state": state,
                     "updated_at": utcnow()})
    await upsert(session, RuleState, rows, keys=("rule", "subject"),
                 update=("state", "updated_at"))
    return [f for f in findings if f.decision is not _PENDING]


# Out of range, but not for long enough yet: neither a new alarm nor a recovery.
_PENDING = AlarmDecision(None, None, None, "pending", "info", datetime(1970, 1, 1, tzinfo=UTC))
