"""Episodes of stateful rules: open once, clear after the hysteresis, no re-opening within it.

One `rule_state` row per (alarm kind, subject) while an episode lives, seen by every daemon:
- a condition found and no episode: the alarm is raised, the row keeps its id;
- the condition gone: `ok_since` is noted; once it has been gone for the hysteresis, the
  alarm clears (device kinds are resolved by the rules, the others are marked cleared and
  left for a person to close) and the row keeps `cleared_at`;
- the condition back within the hysteresis after a clear: nothing is raised (no flapping);
- a person resolving the alarm while the condition lasts does not make it open again: the
  episode only ends once the condition has been gone for the hysteresis.
Times are event times (`now` of the caller).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from monitor.alarms.service import AlarmDecision, log_event, raise_alarm, resolve
from monitor.store.models import Alarm, RuleState
from monitor.store.upsert import upsert
from monitor.timeutil import utcnow

logger = logging.getLogger(__name__)

# Kinds a device's own return clears (resolved as device_fault); others wait for a person.
DEVICE_KINDS = frozenset({"device_offline", "battery_low", "button_untested"})


@dataclass
class Outcome:
    """What settling one subject did."""

    alarm: Alarm | None = None
    created: bool = False
    cleared: bool = False


def _ts(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


async def load_states(
    session: AsyncSession, kind: str, subjects: list[str] | None = None, lock: bool = False
) -> dict[str, dict[str, Any]]:
    """The live episodes of a kind (all, or of these subjects), optionally row-locked."""
    return (await load_kinds(session, [kind], subjects, lock))[kind]


async def load_kinds(
    session: AsyncSession, kinds: list[str], subjects: list[str] | None = None,
    lock: bool = False,
) -> dict[str, dict[str, dict[str, Any]]]:
    """`load_states` of several kinds in one query: kind -> subject -> state."""
    query = select(RuleState.rule, RuleState.subject, RuleState.state).where(
        RuleState.rule.in_(sorted(kinds)))
    if subjects is not None:
        query = query.where(RuleState.subject.in_(sorted(subjects)))
    if lock and session.get_bind().dialect.name == "postgresql":
        query = query.order_by(RuleState.rule, RuleState.subject).with_for_update()
    states: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in kinds}
    for kind, subject, state in (await session.execute(query)).all():
        states[kind][subject] = dict(state)
    return states


async def _save(session: AsyncSession, kind: str, subject: str, state: dict[str, Any]) -> None:
    await upsert(session, RuleState, [{"rule": kind, "subject": subject, "state": state,
                                      "updated_at": utcnow()}],
                 keys=("rule", "subject"), update=("state", "updated_at"))


async def settle(
    session: AsyncSession, kind: str, subject: str, decision: AlarmDecision | None,
    now: datetime, hysteresis: timedelta, states: dict[str, dict[str, Any]],
) -> Outcome:
    """Apply one observation (condition found: `decision`; gone: None) to the subject's episode."""
    state = states.get(subject)
    if decision is not None:
        if state and state.get("alarm_id") is not None:
            if state.get("ok_since"):
                state.pop("ok_since")
                await _save(session, kind, subject, state)
            return Outcome()
        cleared = _ts(state.get("cleared_at")) if state else None
        if cleared is not None and now - cleared < hysteresis:
            return Outcome()  # back too soon after clearing: the same trouble, not a new one
        alarm, created = await raise_alarm(session, decision)
        states[subject] = {"alarm_id": alarm.id, "since": decision.at.isoformat()}
        await _save(session, kind, subject, states[subject])
        return Outcome(alarm, created)
    if not state:
        return Outcome()
    if state.get("alarm_id") is not None:
        ok_since = _ts(state.get("ok_since"))
        if ok_since is None:
            state["ok_since"] = now.isoformat()
            await _save(session, kind, subject, state)
            return Outcome()
        if now - ok_since < hysteresis:
            return Outcome()
        found = await session.get(Alarm, int(state["alarm_id"]))
        if found is not None:
            await _clear(session, found, kind, ok_since, now)
        states[subject] = {"cleared_at": now.isoformat()}
        await _save(session, kind, subject, states[subject])
        return Outcome(found, cleared=True)
    cleared = _ts(state.get("cleared_at"))
    if cleared is None or now - cleared >= hysteresis:
        await session.execute(delete(RuleState).where(RuleState.rule == kind,
                                                      RuleState.subject == subject))
        states.pop(subject, None)
    return Outcome()


async def _clear(
    session: AsyncSession, alarm: Alarm, kind: str, ok_since: datetime, now: datetime
) -> None:
    if alarm.state == "resolved":
        return
    if kind in DEVICE_KINDS:
        await resolve(session, alarm, "rules", "device_fault",
                      note=f"自动恢复：{ok_since.isoformat()} 起已正常")
        log_event(session, alarm, "condition_cleared", actor="rules",
                  ok_since=ok_since.isoformat(), at=now.isoformat())
        logger.info("alarm %s (%s) resolved: the device is back", alarm.id, kind)
        return
    alarm.details = {**alarm.details, "cleared_at": now.isoformat()}
    alarm.updated_at = utcnow()
    log_event(session, alarm, "condition_cleared", actor="rules",
              ok_since=ok_since.isoformat(), at=now.isoformat())
    logger.info("alarm %s (%s): condition gone since %s", alarm.id, kind, ok_since.isoformat())
