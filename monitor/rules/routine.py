"""The elder's own routine: a baseline learned from the last weeks, sharp departures, drift.

Baseline: per activity device, the median of its daily totals over `history_days` local
days, counting only days on which it reported for most of the day (remote_check's
`daily_use` and `min_reporting_hours`): a median shrugs off a holiday, a big clean-up
or a week away, and days without data are not days without use. Fewer than
`min_history_days` such days: no baseline yet, no judgement.

- Sharp departure (`routine_departure`): a whole local day on which every reporting
  activity device of the elder used less than `low_fraction` of its usual day (one
  quiet meter beside a busy one is not a departure; a planned absence is not either).
- Night power (`night_power`): power over last night's quiet hours above
  `night_power_factor` times the elder's usual night (median of the same hours over the
  history) and above `night_power_min_kwh`: a heater or a cooker left on. Not judged on
  the extreme-weather days of the calendar, when the whole district runs its air
  conditioners or heaters all night.
- Drift (weekly, `drift_report`): devices whose last 7 days average differs from the
  baseline by more than `drift_fraction`; a report for the community, not an alarm.

Both alarms are judged once a day (the sweep calls `find_departures` when the local date
changes), for all elders in chunks; they are daily questions, not minute ones.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from monitor.alarms.service import AlarmDecision
from monitor.config import RemoteCheckConfig
from monitor.rules.lookup import ElderInfo, absences_of, chunks, elders_of
from monitor.rules.settings import Rules
from monitor.store.models import Device, Elder, HourlyUsage
from monitor.timeutil import LOCAL_TZ
from monitor.visits.remote_check import ACTIVITY_METRIC, DayUse, daily_use
from monitor.visits.weeks import day_start

KINDS = ("routine_departure", "night_power")


@dataclass(frozen=True)
class Drift:
    """One device whose last week moved away from its baseline."""

    elder_id: str
    device_id: str
    metric: str
    baseline: float
    last_week: float

    @property
    def ratio(self) -> float:
        return self.last_week / self.baseline if self.baseline else float("inf")


def _usual(use: dict[tuple[str, date], DayUse], device: str, day: date, days: int,
           min_hours: int) -> list[float]:
    return [u.total for k in range(1, days + 1)
            if (u := use.get((device, day - timedelta(days=k)))) is not None
            and u.reported_hours >= min_hours]


async def _activity_devices(session: AsyncSession, elder_ids: list[str]
                            ) -> dict[str, list[tuple[str, str]]]:
    rows = await session.execute(select(Device.elder_id, Device.id, Device.type).where(
        Device.elder_id.in_(elder_ids), Device.type.in_(list(ACTIVITY_METRIC))))
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for elder_id, device_id, kind in rows.all():
        out[str(elder_id)].append((device_id, kind))
    return out


async def find_departures(
    session: AsyncSession, day: date, rules: Rules, reporting: RemoteCheckConfig
) -> list[AlarmDecision]:
    """Sharp departures and nights of high power on local `day` (a finished day)."""
    ids = list((await session.execute(select(Elder.id).where(Elder.active.is_(True))
                                      .order_by(Elder.id))).scalars())
    decisions: list[AlarmDecision] = []
    for chunk in chunks(ids):
        decisions += await _judge_chunk(session, chunk, day, rules, reporting)
    return decisions


async def _judge_chunk(session: AsyncSession, chunk: list[str], day: date, rules: Rules,
                       reporting: RemoteCheckConfig) -> list[AlarmDecision]:
    devices = await _activity_devices(session, chunk)
    if not devices:
        return []
    elders = await elders_of(session, devices)
    longest = max(rules.for_elder(e.id, e.categories).routine.history_days
                  for e in elders.values())
    use = await daily_use(session, [d for ds in devices.values() for d, _ in ds],
                          day - timedelta(days=longest), day)
    start, end = day_start(day), day_start(day + timedelta(days=1))
    away = await absences_of(session, devices, start, end)
    nights = await _night_power(session, devices, day, longest, rules)
    hot = any((care := rules.calendar.on(d)) is not None and care.kind == "extreme_weather"
              for d in (day - timedelta(days=1), day))
    out: list[AlarmDecision] = []
    for elder_id, own in sorted(devices.items()):
        elder = elders.get(elder_id)
        if elder is None or away.get(elder_id):
            continue
        settings = rules.for_elder(elder_id, elder.categories)
        figures = {}
        for device_id, kind in own:
            today = use.get((device_id, day))
            hours = reporting.min_reporting_hours.get(kind, 1)
            if today is None or today.reported_hours < hours:
                continue  # offline or silent that day: the device rules speak for it
            usual = _usual(use, device_id, day, settings.routine.history_days, hours)
            if len(usual) < settings.routine.min_history_days:
                continue
            median = statistics.median(usual)
            if median > 0:
                figures[device_id] = (today.total, median)
        if figures and all(t < settings.routine.low_fraction * m for t, m in figures.values()):
            out.append(_decision(elder, "routine_departure", settings.routine.severity, end, {
                "day": day.isoformat(), "low_fraction": settings.routine.low_fraction,
                "devices": {d: {"total": round(t, 4), "usual": round(m, 4)}
                            for d, (t, m) in figures.items()}}))
        night = nights.get(elder_id)
        cont = settings.continuous
        if hot:
            night = None  # air conditioning or heating all night is what such nights are for
        if night is not None and night[1] > 0 and night[0] > cont.night_power_min_kwh \
                and night[0] > cont.night_power_factor * night[1]:
            out.append(_decision(elder, "night_power", cont.severity, night[2], {
                "night_kwh": round(night[0], 3), "usual_kwh": round(night[1], 3),
                "factor": cont.night_power_factor}))
    return out


def _decision(elder: ElderInfo, kind: str, severity: str, at: datetime,
              details: dict[str, object]) -> AlarmDecision:
    return AlarmDecision(elder_id=elder.id, community_id=elder.community_id, device_id=None,
                         kind=kind, severity=severity, at=at,
                         details={"rule": "routine", **details})


async def _night_power(session: AsyncSession, devices: dict[str, list[tuple[str, str]]],
                       day: date, history: int, rules: Rules
                       ) -> dict[str, tuple[float, float, datetime]]:
    """(the night that ended on `day`, the usual such night, its end) per elder, in kWh."""
    quiet = rules.spec.quiet_hours
    meters = {d: e for e, ds in devices.items() for d, kind in ds if kind == "power_meter"}
    if not meters:
        return {}

    def night(of: date) -> tuple[datetime, datetime]:
        end = datetime.combine(of, quiet.end, LOCAL_TZ)
        begin = datetime.combine(of - timedelta(days=1) if quiet.start > quiet.end else of,
                                 quiet.start, LOCAL_TZ)
        return begin, end

    first, _ = night(day - timedelta(days=history))
    rows = await session.execute(
        select(HourlyUsage.device_id, HourlyUsage.hour, func.sum(HourlyUsage.value))
        .where(HourlyUsage.device_id.in_(sorted(meters)), HourlyUsage.metric == "power_kwh",
               HourlyUsage.hour >= first, HourlyUsage.hour < night(day)[1])
        .group_by(HourlyUsage.device_id, HourlyUsage.hour))
    per_night: dict[tuple[str, date], float] = defaultdict(float)
    for device_id, hour, value in rows.all():
        local = hour.astimezone(LOCAL_TZ)
        if not quiet.contains(hour):
            continue
        of = local.date() if local.time() < quiet.end else local.date() + timedelta(days=1)
        per_night[(meters[device_id], of)] += float(value or 0.0)
    out: dict[str, tuple[float, float, datetime]] = {}
    for elder_id in {e for e in meters.values()}:
        last = per_night.get((elder_id, day))
        usual = [v for k in range(1, history + 1)
                 if (v := per_night.get((elder_id, day - timedelta(days=k)))) is not None]
        if last is not None and len(usual) >= 3:
            out[elder_id] = (last, statistics.median(usual), night(day)[1])
    return out


async def drift_report(
    session: AsyncSession, last_day: date, rules: Rules, reporting: RemoteCheckConfig
) -> list[Drift]:
    """Devices whose average over the 7 days to `last_day` left their baseline before that."""
    ids = list((await session.execute(select(Elder.id).where(Elder.active.is_(True))
                                      .order_by(Elder.id))).scalars())
    out: list[Drift] = []
    week = [last_day - timedelta(days=k) for k in range(7)]
    for chunk in chunks(ids):
        devices = await _activity_devices(session, chunk)
        if not devices:
            continue
        elders = await elders_of(session, devices)
        for elder_id, own in sorted(devices.items()):
            elder = elders[elder_id]
            settings = rules.for_elder(elder_id, elder.categories).routine
            use = await daily_use(session, [d for d, _ in own],
                                  last_day - timedelta(days=7 + settings.history_days), last_day)
            for device_id, kind in own:
                hours = reporting.min_reporting_hours.get(kind, 1)
                recent = [u.total for d in week
                          if (u := use.get((device_id, d))) and u.reported_hours >= hours]
                usual = _usual(use, device_id, week[-1], settings.history_days, hours)
                if len(recent) < 4 or len(usual) < settings.min_history_days:
                    continue
                base, now = statistics.median(usual), statistics.mean(recent)
                if base > 0 and abs(now / base - 1) >= settings.drift_fraction:
                    out.append(Drift(elder_id, device_id, ACTIVITY_METRIC[kind], base, now))
    return out


def local_day_before(moment: datetime) -> date:
    """The last finished local day at `moment`."""
    return moment.astimezone(LOCAL_TZ).date() - timedelta(days=1)


def day_end(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), LOCAL_TZ)
