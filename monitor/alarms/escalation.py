"""The escalation engine: runs the due steps of open alarms' frozen policies, once each.

The policy is chosen by the alarm's kind and severity and copied into `Alarm.escalation`
when the engine first takes the alarm, so a later change of the configuration leaves running
alarms alone. An alarm from a device's event (SOS, fall, smoke, gas) takes its first step as
soon as it is committed (`begin`); any other alarm the tick after it opens (`next_step_at`
being the opening instant), as does an event's alarm whose first step could not be written.
Each run of an alarm's steps is claimed by a conditional update on (id, escalation_step):
of two daemons that read the same due alarm, one wins, the other's transaction is undone,
notifications included, because they are written in the same transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from monitor.alarms.roster import on_duty
from monitor.alarms.service import log_event
from monitor.config import EscalationConfig, EscalationPolicy, EscalationStep
from monitor.notify.templates import render_message
from monitor.privacy import mask_name, mask_phone
from monitor.store.db import Database
from monitor.store.models import Alarm, Community, Elder, Notification
from monitor.timeutil import to_local, utcnow

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Lease = Callable[[list[Notification], datetime], Any]
BATCH = 50
MAX_BATCHES = 20
RETRY_BROKEN = timedelta(minutes=1)
FALLBACK_CHANNELS = ("webhook", "log")


class ClaimLost(Exception):
    """Another daemon ran this step first (or someone acknowledged): undo ours."""


@dataclass(frozen=True)
class Recipient:
    """A person a step notifies."""

    kind: str  # elder | contact | duty
    name: str | None
    phone: str
    relation: str | None = None

    def masked(self) -> str:
        """For the audit trail and logs: 李* +86138****0001."""
        return f"{mask_name(self.name)} {mask_phone(self.phone)}".strip()


def select_policy(config: EscalationConfig, kind: str, severity: str) -> EscalationPolicy | None:
    """The first policy that matches, or None (the alarm is shown, nobody is called)."""
    return next((p for p in config.policies if p.matches(kind, severity)), None)


def snapshot(policy: EscalationPolicy) -> dict[str, Any]:
    """The frozen policy and the escalation's position in it, as stored on the alarm."""
    return {
        "policy": policy.name,
        "max_rounds": policy.max_rounds,
        "steps": [s.model_dump(exclude_defaults=True) for s in policy.steps],
        "position": 0,
        "round": 0,
        "cursor": -1,  # index of the last contact notified, for next_contact
        "done": None,
    }


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def quiet_until(config: EscalationConfig, now: datetime) -> datetime | None:
    """The end of the quiet hours `now` falls in, or None outside them."""
    local = to_local(now)
    start, end = _minutes(config.quiet_start), _minutes(config.quiet_end)
    minute = local.hour * 60 + local.minute
    inside = (start <= minute < end) if start < end else (minute >= start or minute < end)
    if not inside or start == end:
        return None
    wake = local.replace(hour=end // 60, minute=end % 60, second=0, microsecond=0)
    if wake <= local:
        wake += timedelta(days=1)
    return wake.astimezone(now.tzinfo)


class EscalationEngine:
    """Runs due escalation steps; `tick(now)` is the scheduler's job and the tests' handle."""

    def __init__(self, db: Database, config: EscalationConfig, channels: set[str],
                 clock: Clock = utcnow) -> None:
        self.db = db
        self.config = config
        self.channels = channels
        self.clock = clock

    async def tick(self, now: datetime | None = None) -> int:
        """Run every due step; returns how many alarms this daemon advanced."""
        now = now or self.clock()
        ran = 0
        tried: set[int] = set()
        for _ in range(MAX_BATCHES):  # many alarms at once (a power cut): all in this tick
            query = (select(Alarm.id, Alarm.escalation_step)
                     .where(Alarm.state == "open", Alarm.next_step_at <= now)
                     .order_by(Alarm.next_step_at, Alarm.id).limit(BATCH))
            if tried:  # taken by another daemon or failed: not again in this tick
                query = query.where(Alarm.id.notin_(tried))
            async with self.db.sessions() as session:
                due = [(int(a), int(s)) for a, s in (await session.execute(query)).all()]
            tried.update(alarm_id for alarm_id, _ in due)
            ran += await self._run_due(due, now)
            if len(due) < BATCH:
                break
        return ran

    async def _run_due(self, due: list[tuple[int, int]], now: datetime) -> int:
        ran = 0
        for alarm_id, step in due:
            try:
                async with self.db.transaction() as session:
                    await self._advance(session, alarm_id, step, now)
                ran += 1
            except ClaimLost:
                logger.debug("alarm %s step %s was taken by another daemon", alarm_id, step)
            except Exception:
                # One broken alarm must not hold up the others, nor fill the log every tick.
                logger.exception("alarm %s: escalation step %s failed; again in a minute",
                                 alarm_id, step)
                await self._postpone(alarm_id, step, now + RETRY_BROKEN)
        return ran

    async def _postpone(self, alarm_id: int, step: int, until: datetime) -> None:
        try:
            async with self.db.transaction() as session:
                await session.execute(
                    update(Alarm).where(Alarm.id == alarm_id, Alarm.escalation_step == step,
                                        Alarm.state == "open")
                    .values(next_step_at=until).execution_options(synchronize_session=False))
        except Exception:  # the store itself is failing: the next tick tries again anyway
            logger.warning("alarm %s: could not postpone its failed step", alarm_id)

    async def _advance(self, session: AsyncSession, alarm_id: int, step: int,
                       now: datetime) -> None:
        # PostgreSQL: an alarm another daemon is working on is skipped, not waited for.
        alarm = await session.get(Alarm, alarm_id, populate_existing=True,
                                  with_for_update={"skip_locked": True})
        if alarm is None or alarm.state != "open" or alarm.escalation_step != step:
            raise ClaimLost
        await self._take_step(session, alarm, step, now)

    async def begin(self, alarms: list[Alarm], lease: Lease | None = None) -> list[Notification]:
        """Run the first step of alarms just opened (from devices' events), at once.

        The notifications written are returned; `lease` claims those due now for this
        daemon's outbox in the same transaction, so they go out at once, with no turn of
        their own at the store. If anything fails (or another daemon's tick was first), the
        transaction is undone and the tick runs the steps.
        """
        now = self.clock()
        rows: list[Notification] = []
        try:
            async with self.db.transaction() as session:
                for alarm in alarms:
                    rows += await self._take_step(session, alarm, alarm.escalation_step, now,
                                                  lease)
        except ClaimLost:
            logger.debug("first steps of alarms %s taken by another daemon",
                         [a.id for a in alarms])
            return []
        except Exception:
            logger.exception("first escalation steps of alarms %s failed; the tick will run "
                             "them", [a.id for a in alarms])
            return []
        return rows

    async def _take_step(self, session: AsyncSession, alarm: Alarm, step: int, now: datetime,
                         lease: Lease | None = None) -> list[Notification]:
        plan = dict(alarm.escalation) if alarm.escalation else None
        started = plan is None
        if plan is None:
            policy = select_policy(self.config, alarm.kind, alarm.severity)
            if policy is None:
                plan = {"policy": None, "steps": [], "position": 0, "round": 0, "cursor": -1,
                        "max_rounds": 1, "done": "no_policy"}
            else:
                plan = snapshot(policy)
        elder = await session.get(Elder, alarm.elder_id, options=[joinedload(Elder.contacts)]
                                  ) if alarm.elder_id else None
        rows: list[Notification] = []
        events: list[tuple[str, dict[str, Any]]] = []
        due = await self._run_steps(session, alarm, plan, elder, now, step + 1, rows, events)
        # The claim: only the daemon that still sees this step may write its outcome.
        claimed = await session.execute(
            update(Alarm)
            .where(Alarm.id == alarm.id, Alarm.escalation_step == step, Alarm.state == "open")
            .values(escalation_step=step + 1, escalation=plan, next_step_at=due,
                    updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            raise ClaimLost
        if started:
            log_event(session, alarm, "escalation_started", policy=plan["policy"])
        if lease is not None:
            lease(rows, now)
        session.add_all(rows)
        for kind, details in events:
            log_event(session, alarm, kind, **details)
        logger.info("alarm %s: escalation step %s, %s notifications, next at %s", alarm.id,
                    step + 1, len(rows), due.isoformat() if due else "never")
        return rows

    async def _run_steps(
        self, session: AsyncSession, alarm: Alarm, plan: dict[str, Any], elder: Elder | None,
        now: datetime, run: int, rows: list[Notification],
        events: list[tuple[str, dict[str, Any]]],
    ) -> datetime | None:
        """Follow the policy from its position to the next wait; the wait's end is returned."""
        steps = [EscalationStep.model_validate(s) for s in plan["steps"]]
        for _ in range(2 * len(steps) + 2):  # a repeat always meets a wait (validated)
            position = int(plan["position"])
            if plan.get("done") or position >= len(steps):
                if not plan.get("done"):
                    plan["done"] = "finished"
                    events.append(("escalation_finished", {"rounds": plan["round"] + 1}))
                return None
            current = steps[position]
            plan["position"] = position + 1
            if current.action == "notify":
                await self._notify(session, alarm, plan, elder, current, now, run, rows, events)
            elif current.action == "wait":
                return now + timedelta(minutes=current.wait_min or 0)
            elif plan["round"] + 1 >= int(plan["max_rounds"]):
                plan["done"] = "exhausted"
                events.append(("escalation_exhausted", {"rounds": plan["round"] + 1}))
                return None
            else:
                plan["round"] += 1
                plan["position"] = current.repeat_from
                plan["cursor"] = -1
        raise RuntimeError(f"policy {plan['policy']} loops without waiting")

    def recipients(self, who: str, plan: dict[str, Any], elder: Elder | None) -> list[Recipient]:
        """The elder or the contacts a `notify` entry names (duty is looked up apart)."""
        if elder is None:
            return []
        if who == "elder":
            return [Recipient("elder", elder.name, elder.phone)] if elder.phone else []
        contacts = list(elder.contacts)
        if not contacts:
            return []
        if who == "all_contacts":
            chosen = list(range(len(contacts)))
        elif who == "next_contact":  # wraps round: the list is called again until someone answers
            chosen = [(int(plan["cursor"]) + 1) % len(contacts)]
        else:
            index = int(who.partition(":")[2]) - 1
            chosen = [index] if index < len(contacts) else []
        if chosen:
            plan["cursor"] = chosen[-1]
        return [Recipient("contact", contacts[i].name, contacts[i].phone, contacts[i].relation)
                for i in chosen]

    async def _notify(
        self, session: AsyncSession, alarm: Alarm, plan: dict[str, Any], elder: Elder | None,
        step: EscalationStep, now: datetime, run: int, rows: list[Notification],
        events: list[tuple[str, dict[str, Any]]],
    ) -> None:
        people: list[Recipient] = []
        for who in step.notify:
            if who == "duty":
                shifts = await on_duty(session, alarm.community_id, now)
                if not shifts:
                    events.append(("nobody_on_duty", {"community": alarm.community_id}))
                people += [Recipient("duty", s.name, s.phone) for s in shifts]
            else:
                found = self.recipients(who, plan, elder)
                if not found:
                    events.append(("no_recipient", {"who": who}))
                people += found
        channels = [c for c in step.channels if c in self.channels]
        if not channels:
            # No SMS or voice here: a gateway behind the webhook, or the demo's log, still
            # gets every step, so nobody is silently left out.
            channels = [c for c in FALLBACK_CHANNELS if c in self.channels][:1]
        hold = quiet_until(self.config, now) if step.quiet else None
        if hold is not None:
            channels = [c for c in channels if c != "voice"]  # no calls at night
        community = await session.get(Community, alarm.community_id) if alarm.community_id else None
        seen: set[str] = set()
        told: list[dict[str, Any]] = []
        for person in people:
            if person.phone in seen:
                continue
            seen.add(person.phone)
            limited = await self._over_limit(session, alarm, person.phone, now)
            for channel in channels:
                body = render_message(
                    alarm.kind, person.kind, elder_name=elder.name if elder else "",
                    community=community.name if community else "", opened_at=alarm.opened_at,
                    alarm_id=alarm.id, relation=person.relation,
                    channel="voice" if channel == "voice" else "sms")
                rows.append(Notification(
                    alarm_id=alarm.id, step=run, recipient_kind=person.kind,
                    recipient_name=person.name, address=person.phone, channel=channel, body=body,
                    state="suppressed" if limited else "pending", attempts=0,
                    next_attempt_at=hold or now, created_at=now,
                    error="每小时通知次数已达上限 (hourly limit)" if limited else None))
            told.append({"who": person.kind, "name": person.masked(), "channels": channels,
                         "held_until": hold.isoformat() if hold else None, "limited": limited})
        events.append(("escalation_step", {"position": int(plan["position"]) - 1,
                                           "round": plan["round"], "notified": told}))

    async def _over_limit(self, session: AsyncSession, alarm: Alarm, phone: str,
                          now: datetime) -> bool:
        """Per-person limit for non-critical alarms: a few messages an hour at most."""
        if alarm.severity == "critical" or self.config.max_per_hour <= 0:
            return False
        count = (await session.execute(
            select(func.count()).select_from(Notification).where(
                Notification.address == phone, Notification.state != "suppressed",
                Notification.created_at > now - timedelta(hours=1))
        )).scalar_one()
        return int(count) >= self.config.max_per_hour
