"""The remote check: a week of normal daily activity at home counts as one remote visit.

A local day is evidence for an elder when, on that day,
- no alarm of the elder was open at any moment (any kind, unless configured otherwise);
- every activity device of the elder (water and power meters, motion sensors, wearables)
  sent readings in at least `min_reporting_hours` hours of the day: a device offline, or
  silent, spoils the day;
- every activity device showed normal use: the day's total is more than zero, at least
  `low_fraction` of the device's median daily total over the `history_days` days before
  (only days on which it reported), and at most `high_factor` times that median. A device
  with fewer than `min_history_days` reporting days of history has no usual range yet:
  any use counts as normal.
When `min_days` days of an ISO week are evidence, one `remote_monitoring` visit is logged
for the week (source `remote_check`, source_ref `remote:ELDER:YYYY-Www`) with the evidence:
which devices, which days, the figures, and the days that did not count and why. An elder
without activity devices is never covered remotely. Usage comes from HourlyUsage.
"""

from __future__ import annotations

import logging
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, case, cast, func, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from monitor.config import RemoteCheckConfig
from monitor.store.db import Database
from monitor.store.models import Alarm, Device, Elder, HourlyUsage, Visit
from monitor.store.upsert import insert_ignore_many
from monitor.timeutil import LOCAL_TZ, utcnow
from monitor.visits.weeks import IsoWeek, day_start

logger = logging.getLogger(__name__)

# Device type -> the usage metric that shows daily life (see monitor/telemetry/usage.py).
ACTIVITY_METRIC = {
    "water_meter": "water_m3", "power_meter": "power_kwh", "wearable": "steps",
    "motion_sensor": "motion",
}
SOURCE = "remote_check"
CHUNK = 200
# The last week is checked again for a day: NB-IoT meters upload a day's readings at once.
LATE_UPLOADS = timedelta(days=1)


def source_ref(elder_id: str, week: IsoWeek) -> str:
    """The idempotency key of an elder's remote visit in a week."""
    return f"remote:{elder_id}:{week}"


@dataclass(frozen=True)
class DayUse:
    total: float
    reported_hours: int


@dataclass
class DayVerdict:
    day: date
    evidence: bool
    reason: str | None = None
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"date": self.day.isoformat(), "devices": self.devices}
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass
class WeekVerdict:
    elder_id: str
    week: IsoWeek
    days: list[DayVerdict]

    @property
    def evidence_days(self) -> list[DayVerdict]:
        return [d for d in self.days if d.evidence]


@dataclass(frozen=True)
class AlarmSpan:
    id: int
    kind: str
    opened_at: datetime
    resolved_at: datetime | None

    def overlaps(self, start: datetime, end: datetime) -> bool:
        return self.opened_at < end and (self.resolved_at is None or self.resolved_at > start)


def _local_day(session: AsyncSession) -> Any:
    """SQL for the local date of HourlyUsage.hour (stored as naive UTC)."""
    offset_h = int(datetime(2026, 1, 1, tzinfo=LOCAL_TZ).utcoffset().total_seconds() // 3600)  # type: ignore[union-attr]
    if session.get_bind().dialect.name == "postgresql":
        return cast(HourlyUsage.hour + literal_column(f"interval '{offset_h} hours'"), Date)
    return func.date(HourlyUsage.hour, f"+{offset_h} hours")


async def daily_use(
    session: AsyncSession, device_ids: Sequence[str], first: date, last: date
) -> dict[tuple[str, date], DayUse]:
    """Each device's activity total and reporting hours per local day, `first` to `last`."""
    if not device_ids:
        return {}
    metrics = list(ACTIVITY_METRIC.values())
    local = _local_day(session)
    rows = await session.execute(
        select(HourlyUsage.device_id, local, func.sum(HourlyUsage.value),
               func.sum(case((HourlyUsage.readings > 0, 1), else_=0)))
        .where(HourlyUsage.device_id.in_(list(device_ids)), HourlyUsage.metric.in_(metrics),
               HourlyUsage.hour >= day_start(first),
               HourlyUsage.hour < day_start(last + timedelta(days=1)))
        .group_by(HourlyUsage.device_id, local)
    )
    return {
        (device_id, date.fromisoformat(str(day))): DayUse(float(total or 0.0), int(hours or 0))
        for device_id, day, total, hours in rows.all()
    }


def judge_day(
    day: date, devices: Sequence[Device], use: dict[tuple[str, date], DayUse],
    alarms: Sequence[AlarmSpan], settings: RemoteCheckConfig,
) -> DayVerdict:
    """Whether one local day is evidence of normal life at home, with the figures."""
    start, end = day_start(day), day_start(day + timedelta(days=1))
    present = [d for d in devices if d.installed_at is None or d.installed_at <= start]
    verdict = DayVerdict(day, evidence=False)
    if not present:
        verdict.reason = "无活动监测设备"
        return verdict
    blocking = [a for a in alarms if a.overlaps(start, end)
                and a.kind not in settings.ignore_alarm_kinds]
    offline: list[str] = []
    unusual: list[str] = []
    for device in present:
        today = use.get((device.id, day), DayUse(0.0, 0))
        figures: dict[str, Any] = {
            "type": device.type, "metric": ACTIVITY_METRIC[device.type],
            "total": round(today.total, 4), "reported_hours": today.reported_hours,
        }
        verdict.devices[device.id] = figures
        if today.reported_hours < settings.min_reporting_hours.get(device.type, 1):
            offline.append(device.id)
            figures["online"] = False
            continue
        figures["online"] = True
        history = [
            past.total for k in range(1, settings.history_days + 1)
            if (past := use.get((device.id, day - timedelta(days=k)))) is not None
            and past.reported_hours >= settings.min_reporting_hours.get(device.type, 1)
        ]
        normal = today.total > 0
        if len(history) >= settings.min_history_days:
            median = statistics.median(history)
            figures["median"] = round(median, 4)
            figures["history_days"] = len(history)
            normal = normal and today.total >= settings.low_fraction * median and (
                median <= 0 or today.total <= settings.high_factor * median)
        else:
            figures["history_days"] = len(history)  # too little: any use is normal
        figures["normal"] = normal
        if not normal:
            unusual.append(device.id)
    reasons = []
    if blocking:
        reasons.append("告警未关闭: " + ", ".join(f"#{a.id} {a.kind}" for a in blocking))
    if offline:
        reasons.append("设备离线或未上报: " + ", ".join(offline))
    if unusual:
        reasons.append("用量不在平常范围: " + ", ".join(unusual))
    verdict.evidence = not reasons
    verdict.reason = "；".join(reasons) or None
    return verdict


def evidence_of(verdict: WeekVerdict, settings: RemoteCheckConfig) -> dict[str, Any]:
    """What is kept in Visit.evidence: the rule, the days that counted and those that did not."""
    return {
        "week": str(verdict.week),
        "rule": {
            "min_days": settings.min_days, "history_days": settings.history_days,
            "min_history_days": settings.min_history_days,
            "low_fraction": settings.low_fraction, "high_factor": settings.high_factor,
            "min_reporting_hours": settings.min_reporting_hours,
        },
        "devices": sorted({d for day in verdict.days for d in day.devices}),
        "days": [d.as_dict() for d in verdict.evidence_days],
        "rejected": [d.as_dict() for d in verdict.days if not d.evidence],
    }


class RemoteCheck:
    """The scheduled job: log the remote visits the devices have earned."""

    def __init__(self, db: Database, settings: RemoteCheckConfig) -> None:
        self.db = db
        self.settings = settings

    async def run(self, now: datetime | None = None) -> int:
        """Check this week, and the last one for a day (late meter uploads); visits logged."""
        if not self.settings.enabled:
            return 0
        now = now or utcnow()
        week = IsoWeek.current(now)
        weeks = [week]
        if now < week.start + LATE_UPLOADS:
            weeks.insert(0, week.previous())
        logged = 0
        for each in weeks:
            logged += await self.check_week(each, now)
        if logged:
            logger.info("remote check logged %d remote_monitoring visits", logged)
        return logged

    async def check_week(self, week: IsoWeek, now: datetime) -> int:
        """Judge the week's complete days for every elder not yet covered remotely in it."""
        days = [d for d in week.days() if day_start(d + timedelta(days=1)) <= now]
        if len(days) < self.settings.min_days:
            return 0  # not enough of the week has passed for anyone to be covered yet
        async with self.db.sessions() as session:
            done = set((await session.execute(
                select(Visit.elder_id).where(Visit.source == SOURCE,
                                             Visit.source_ref.like(f"remote:%:{week}"))
            )).scalars())
            rows = (await session.execute(
                select(Device).join(Elder, Elder.id == Device.elder_id)
                .where(Elder.active.is_(True), Device.type.in_(list(ACTIVITY_METRIC)))
                .order_by(Device.elder_id, Device.id)
            )).scalars().all()
        devices: dict[str, list[Device]] = defaultdict(list)
        for device in rows:
            if device.elder_id and device.elder_id not in done:
                devices[device.elder_id].append(device)
        elders = sorted(devices)
        logged = 0
        for i in range(0, len(elders), CHUNK):
            chunk = elders[i : i + CHUNK]
            async with self.db.transaction(background=True) as session:
                verdicts = await self.judge(session, week, days, {e: devices[e] for e in chunk})
                logged += await self._log_all(session, [
                    self._visit(v, now) for v in verdicts
                    if len(v.evidence_days) >= self.settings.min_days])
        return logged

    async def judge(
        self, session: AsyncSession, week: IsoWeek, days: Sequence[date],
        devices: dict[str, list[Device]],
    ) -> list[WeekVerdict]:
        """The verdict on each day for each elder (elder id -> their activity devices)."""
        if not devices or not days:
            return []
        first = min(days) - timedelta(days=self.settings.history_days)
        use = await daily_use(session, [d.id for ds in devices.values() for d in ds],
                              first, max(days))
        alarms = await _alarm_spans(session, list(devices), day_start(min(days)),
                                    day_start(max(days) + timedelta(days=1)))
        return [
            WeekVerdict(elder_id, week, [
                judge_day(day, own, use, alarms.get(elder_id, []), self.settings)
                for day in days
            ])
            for elder_id, own in devices.items()
        ]

    def _visit(self, verdict: WeekVerdict, now: datetime) -> dict[str, Any]:
        last = max(d.day for d in verdict.evidence_days)
        at = min(now, day_start(last + timedelta(days=1)) - timedelta(seconds=1))
        return {
            "elder_id": verdict.elder_id, "method": "remote_monitoring", "at": at,
            "by": "system", "source": SOURCE,
            "source_ref": source_ref(verdict.elder_id, verdict.week), "findings": {},
            "evidence": evidence_of(verdict, self.settings),
            "note": f"远程监测：本周 {len(verdict.evidence_days)} 天设备数据显示生活正常",
            "created_at": utcnow(),
        }

    async def _log_all(self, session: AsyncSession, rows: list[dict[str, Any]]) -> int:
        """Insert the visits in one statement; a visit another daemon logged a moment ago
        stays as it is. Returns how many were inserted."""
        return await insert_ignore_many(session, Visit, rows)


async def _alarm_spans(
    session: AsyncSession, elder_ids: list[str], start: datetime, end: datetime
) -> dict[str, list[AlarmSpan]]:
    rows = await session.execute(
        select(Alarm.elder_id, Alarm.id, Alarm.kind, Alarm.opened_at, Alarm.resolved_at)
        .where(Alarm.elder_id.in_(elder_ids), Alarm.opened_at < end,
               or_(Alarm.resolved_at.is_(None), Alarm.resolved_at > start))
    )
    spans: dict[str, list[AlarmSpan]] = defaultdict(list)
    for elder_id, alarm_id, kind, opened, resolved in rows.all():
        if elder_id is not None:
            spans[elder_id].append(AlarmSpan(alarm_id, kind, opened, resolved))
    return spans
