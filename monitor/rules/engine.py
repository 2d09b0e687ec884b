"""The rules engine: reading-driven rules in the readings' transaction, sweeps on a clock.

    engine = RuleEngine(db, config, RulesSource("config/rules.yaml"))
    grown = await record_usage(session, readings)           # in the usage transaction,
    opened = await engine.on_readings(session, readings, grown)   # then the reading rules
    alarms = await engine.sweep(now)                        # now: wall clock, or replay time

Each `find_*` is read-only and returns the conditions that hold at `now` as AlarmDecisions
(`await engine.find_inactivity(session, now)`, `find_offline`, ...): the benchmark calls
these. `sweep` runs them all in one transaction that only one daemon at a time holds, and
passes their findings through the episodes (episodes.py): raise once, clear after the
hysteresis, no re-opening within it. Alarms go through `raise_alarm`.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from monitor.alarms.service import AlarmDecision
from monitor.config import Config
from monitor.metrics import Metrics
from monitor.rules import continuous, device_health, inactivity, routine
from monitor.rules.activity import note_activity
from monitor.rules.episodes import load_kinds, load_states, settle
from monitor.rules.lookup import ElderInfo, elders_of
from monitor.rules.settings import ContinuousRules, Rules
from monitor.rules.source import RulesSource
from monitor.rules.vitals import check_vitals
from monitor.store.db import Database, Preempted
from monitor.store.locks import lock_devices
from monitor.store.models import Alarm, Device, HourlyUsage
from monitor.telemetry.reading import Reading
from monitor.telemetry.usage import Grown
from monitor.timeutil import hour_floor, utcnow

logger = logging.getLogger(__name__)

Finder = Callable[[AsyncSession, datetime], Awaitable[list[AlarmDecision]]]
Opened = list[tuple[Alarm, bool]]
SWEEP_LOCK = zlib.crc32(b"tanfang rule sweep")
SETTLE_CHUNK = 100  # subjects settled per transaction
DAILY_LOCK = zlib.crc32(b"tanfang daily rules")
UNTESTED_EVERY = timedelta(hours=6)


def subject_of(decision: AlarmDecision) -> str:
    """Episodes are kept per elder (as open alarms are), or per device without an elder."""
    return decision.elder_id or f"device:{decision.device_id}"


class RuleEngine:
    """Stateful rules over readings and sweeps; state in the store, shared by every daemon."""

    def __init__(self, db: Database, config: Config, source: RulesSource | None = None,
                 metrics: Metrics | None = None) -> None:
        self.db = db
        self.config = config
        self.source = source or RulesSource(config.rules.file)
        self.metrics = metrics
        self.listeners: list[Callable[[Alarm, bool], None]] = []
        self._untested_at: datetime | None = None
        self._routine_day: date | None = None

    @property
    def rules(self) -> Rules:
        return self.source.current()

    @property
    def heartbeat_s(self) -> dict[str, int]:
        return self.config.ingest.heartbeat_s

    # -- reading-driven ---------------------------------------------------------------------

    async def on_readings(self, session: AsyncSession, readings: Sequence[Reading],
                          grown: Grown) -> Opened:
        """Signs of life, vital signs and too much water, in the caller's transaction, after
        `record_usage` of the same readings (which returned `grown`)."""
        rules = self.rules
        opened: Opened = []
        try:
            async with session.begin_nested():
                # The batch's device rows, once for every rule below: their clocks, and the
                # wearables' vital-sign windows, are then this transaction's alone.
                await lock_devices(session, {r.device_id for r in readings})
                base = rules.for_elder(None, ())
                await note_activity(session, readings, base.inactivity.life_per_hour, grown)
                await self._vitals(session, readings, rules, opened)
                await self._too_much_water(session, readings, rules, opened)
        except Preempted:
            raise  # the whole transaction gives way to an alarm and is done again
        except Exception:
            # The readings and their usage stay; a rule's fault must not stop ingest.
            logger.exception("reading rules failed on a batch of %d readings", len(readings))
            return []
        return opened

    async def _vitals(self, session: AsyncSession, readings: Sequence[Reading], rules: Rules,
                      opened: Opened) -> None:
        wearables = [r for r in readings if r.device_type == "wearable"]
        if not wearables:
            return
        elders = await elders_of(session, {r.elder_id for r in wearables if r.elder_id})
        community = {r.device_id: elders[r.elder_id].community_id
                     for r in wearables if r.elder_id in elders}

        def settings_for(elder_id: str | None) -> Any:
            info = elders.get(elder_id or "")
            return rules.for_elder(elder_id, info.categories if info else ()).vitals

        findings = await check_vitals(session, wearables, settings_for, community)
        if not findings:
            return
        # The episodes of every kind found, in one query (not one per kind or finding).
        states = await load_kinds(session, sorted({f.kind for f in findings}),
                                  sorted({f.subject for f in findings}), lock=True)
        for finding in findings:
            outcome = await settle(session, finding.kind, finding.subject, finding.decision,
                                   finding.at, rules.hysteresis, states[finding.kind])
            if outcome.alarm is not None and not outcome.cleared:
                opened.append((outcome.alarm, outcome.created))

    async def _too_much_water(self, session: AsyncSession, readings: Sequence[Reading],
                              rules: Rules, opened: Opened) -> None:
        newest = continuous.heavy_meters(readings)
        if not newest:
            return
        base = rules.for_elder(None, ()).continuous
        per_hour = base.water_max_m3 / base.water_hours * 0.5  # overrides may be tighter
        lo = hour_floor(min(newest.values()) - timedelta(hours=base.water_hours))
        heavy = sorted(set((await session.execute(
            select(HourlyUsage.device_id).where(
                HourlyUsage.device_id.in_(sorted(newest)), HourlyUsage.metric == "water_m3",
                HourlyUsage.hour >= lo, HourlyUsage.value >= per_hour))).scalars()))
        if heavy:
            opened += await self._judge_too_much(session, heavy, newest, rules)

    async def _judge_too_much(self, session: AsyncSession, device_ids: list[str],
                              ends: dict[str, datetime], rules: Rules) -> Opened:
        """Each meter's water over its elder's window against the limit, all in a few
        queries; then the elders' episodes, in order."""
        rows = (await session.execute(select(Device.id, Device.elder_id).where(
            Device.id.in_(device_ids)).order_by(Device.id))).all()
        elders = await elders_of(session, {e for _, e in rows if e})
        judged: list[tuple[str, ElderInfo, ContinuousRules, float]] = []
        for device_id, elder_id in rows:
            elder = elders.get(elder_id or "")
            if elder is not None:
                settings = rules.for_elder(elder.id, elder.categories).continuous
                judged.append((device_id, elder, settings,
                               settings.water_hours * rules.factor(ends[device_id])))
        if not judged:
            return []
        totals = await continuous.water_totals(
            session, {d: ends[d] for d, *_ in judged}, {d: hours for d, *_, hours in judged})
        states = await load_states(session, continuous.TOO_MUCH,
                                   sorted({elder.id for _, elder, *_ in judged}), lock=True)
        opened: Opened = []
        for device_id, elder, settings, hours in judged:
            total = totals[device_id]
            decision = None
            if total > settings.water_max_m3:
                decision = AlarmDecision(
                    elder_id=elder.id, community_id=elder.community_id, device_id=device_id,
                    kind=continuous.TOO_MUCH, severity=settings.severity, at=ends[device_id],
                    details={"rule": "continuous", "water_m3": round(total, 3),
                             "water_max_m3": settings.water_max_m3, "hours": hours})
            outcome = await settle(session, continuous.TOO_MUCH, elder.id, decision,
                                   ends[device_id], rules.hysteresis, states)
            if outcome.alarm is not None and not outcome.cleared:
                opened.append((outcome.alarm, outcome.created))
        return opened

    def announce(self, opened: Opened) -> None:
        """Tell the listeners (console board, escalation) and the metrics, after the commit."""
        for alarm, created in opened:
            if created and self.metrics is not None:
                self.metrics.alarms_raised.labels(alarm.kind).inc()
            for listener in self.listeners:
                listener(alarm, created)

    # -- sweeps -----------------------------------------------------------------------------

    async def find_inactivity(self, session: AsyncSession, now: datetime) -> list[AlarmDecision]:
        """No water, power, motion, steps; no sign of life at all (inactivity.py)."""
        return await inactivity.find_inactivity(session, now, self.rules, self.heartbeat_s)

    async def find_offline(self, session: AsyncSession, now: datetime) -> list[AlarmDecision]:
        """Devices silent for 3 heartbeat intervals of their type (device_health.py)."""
        return await device_health.find_offline(session, now, self.rules, self.heartbeat_s)

    async def find_battery_low(self, session: AsyncSession, now: datetime) -> list[AlarmDecision]:
        return await device_health.find_battery_low(session, now, self.rules)

    async def find_untested(self, session: AsyncSession, now: datetime) -> list[AlarmDecision]:
        return await device_health.find_untested(session, now, self.rules)

    async def find_running(self, session: AsyncSession, now: datetime) -> list[AlarmDecision]:
        """Water in every half hour of a day (continuous.py)."""
        return await continuous.find_running(session, now, self.rules, self.heartbeat_s)

    async def find_departures(self, session: AsyncSession, now: datetime
                              ) -> list[AlarmDecision]:
        """Yesterday (local) against the elder's own routine, and last night's power."""
        return await routine.find_departures(session, routine.local_day_before(now), self.rules,
                                             self.config.coverage.remote_check)

    async def sweep(self, now: datetime | None = None) -> Opened:
        """Run every sweep at `now` (event time; default the wall clock) and settle episodes.

        The checks read in one short session; the episodes are settled a chunk of subjects
        per transaction, so a mass event (hundreds of new alarms) never holds SQLite's single
        write lock for long: an SOS commit waits for one chunk at most.
        """
        now = now or utcnow()
        opened: Opened = []
        async with self._exclusive(SWEEP_LOCK) as mine:
            if not mine:
                return []  # another daemon is sweeping right now; its results serve both
            rules = self.rules
            plan: list[tuple[tuple[str, ...], Finder]] = [
                (inactivity.KINDS, self.find_inactivity),
                (("device_offline",), self.find_offline),
                (("battery_low",), self.find_battery_low),
                ((continuous.EVERY_SLOT,), self.find_running),
            ]
            if self._untested_at is None or now - self._untested_at >= UNTESTED_EVERY \
                    or now < self._untested_at:
                plan.append((("button_untested",), self.find_untested))
                self._untested_at = now
            found: list[tuple[tuple[str, ...], list[AlarmDecision]]] = []
            async with self.db.sessions() as session:
                for kinds, finder in plan:
                    found.append((kinds, await finder(session, now)))
            for kinds, decisions in found:
                opened += await self._reconcile_chunked(kinds, decisions, now, rules)
            async with self.db.transaction(background=True) as session:
                opened += await self._recheck_too_much(session, now, rules)
        self.announce(opened)
        return opened

    async def _reconcile_chunked(self, kinds: Sequence[str], found: list[AlarmDecision],
                                 now: datetime, rules: Rules) -> Opened:
        opened: Opened = []
        for kind in kinds:
            wanted = {subject_of(d): d for d in found if d.kind == kind}
            async with self.db.sessions() as session:
                states = await load_states(session, kind)
            subjects = sorted(set(wanted) | set(states))
            for lo in range(0, len(subjects), SETTLE_CHUNK):
                async with self.db.transaction(background=True) as session:
                    for subject in subjects[lo : lo + SETTLE_CHUNK]:
                        outcome = await settle(session, kind, subject, wanted.get(subject),
                                               now, rules.hysteresis, states)
                        if outcome.alarm is not None and not outcome.cleared:
                            opened.append((outcome.alarm, outcome.created))
        return opened

    @asynccontextmanager
    async def _exclusive(self, key: int) -> AsyncIterator[bool]:
        """Whether this daemon holds the sweep for its whole run (PostgreSQL: a session
        advisory lock on a connection of its own; SQLite: one daemon per file)."""
        if self.db.is_sqlite:
            yield True
            return
        async with self.db.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            got = bool((await conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                           {"k": key})).scalar_one())
            try:
                yield got
            finally:
                if got:
                    await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})

    async def daily(self, now: datetime | None = None) -> Opened:
        """The daily rules (own routine, night power) for the day before, once a local day.

        They read every elder's usage per day in chunks: their own job and transaction,
        never inside the minute sweeps."""
        now = now or utcnow()
        yesterday = routine.local_day_before(now)
        if self._routine_day == yesterday:
            return []
        opened: Opened = []
        async with self.db.transaction(background=True) as session:
            if not await self._lock(session, DAILY_LOCK):
                return []
            found = await self.find_departures(session, now)
            opened = await self._reconcile(session, routine.KINDS, found, now, self.rules)
        self._routine_day = yesterday
        self.announce(opened)
        return opened

    async def _lock(self, session: AsyncSession, key: int = SWEEP_LOCK) -> bool:
        if session.get_bind().dialect.name != "postgresql":
            return True  # SQLite: BEGIN IMMEDIATE already makes writers take turns
        got = await session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key})
        return bool(got.scalar_one())

    async def _reconcile(self, session: AsyncSession, kinds: Sequence[str],
                         found: list[AlarmDecision], now: datetime, rules: Rules) -> Opened:
        opened: Opened = []
        for kind in kinds:
            wanted = {subject_of(d): d for d in found if d.kind == kind}
            states = await load_states(session, kind)
            for subject in sorted(set(wanted) | set(states)):
                outcome = await settle(session, kind, subject, wanted.get(subject), now,
                                       rules.hysteresis, states)
                if outcome.alarm is not None and not outcome.cleared:
                    opened.append((outcome.alarm, outcome.created))
        return opened

    async def _recheck_too_much(self, session: AsyncSession, now: datetime,
                                rules: Rules) -> Opened:
        """Live too-much-water episodes: is the day's total back under the limit?"""
        states = await load_states(session, continuous.TOO_MUCH)
        if not states:
            return []
        rows = (await session.execute(select(Device.id).where(
            Device.elder_id.in_(sorted(states)), Device.type == "water_meter"))).scalars().all()
        return await self._judge_too_much(session, list(rows), {d: now for d in rows}, rules)
