"""The alarm lifecycle: open (or attach to the open one), acknowledge, resolve; audited."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from monitor.errors import TanfangError
from monitor.store.models import (
    CONTACT_METHODS,
    OUTCOMES,
    Alarm,
    AlarmEvent,
    Notification,
    Visit,
)
from monitor.store.upsert import dialect_insert
from monitor.timeutil import utcnow

logger = logging.getLogger(__name__)

SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}


class AlarmStateError(TanfangError):
    """The alarm cannot take this step (already resolved, unknown outcome...)."""


@dataclass(frozen=True)
class AlarmDecision:
    """What a rule decided: raise an alarm of `kind` for an elder at event time `at`."""

    elder_id: str | None
    community_id: str | None
    device_id: str | None
    kind: str
    severity: str
    at: datetime
    details: dict[str, Any] = field(default_factory=dict)


def open_key(elder_id: str | None, device_id: str | None, kind: str) -> str:
    return f"{elder_id or 'device:' + (device_id or '?')}:{kind}"


def log_event(
    session: AsyncSession, alarm: Alarm, kind: str, actor: str | None = None, **details: Any
) -> None:
    """Append one line to the alarm's audit trail."""
    session.add(AlarmEvent(alarm_id=alarm.id, at=utcnow(), kind=kind, actor=actor, details=details))


async def raise_alarm(session: AsyncSession, decision: AlarmDecision) -> tuple[Alarm, bool]:
    """Open an alarm, or attach the occurrence to the open one of the same elder and kind.

    Returns the alarm and whether it was newly opened. Safe against a second daemon doing
    the same at the same time: the unique `open_key` decides (INSERT ... ON CONFLICT).
    """
    key = open_key(decision.elder_id, decision.device_id, decision.kind)
    for _ in range(3):
        now = utcnow()
        # One statement when the alarm is new (an SOS): inserted, or nothing if it is open.
        alarm = (await session.scalars(
            dialect_insert(session, Alarm).values(
                elder_id=decision.elder_id, community_id=decision.community_id,
                device_id=decision.device_id, kind=decision.kind, severity=decision.severity,
                state="open", open_key=key, opened_at=decision.at, created_at=now,
                updated_at=now, details={**decision.details, "occurrences": 1},
                escalation_step=0, next_step_at=now,
            ).on_conflict_do_nothing(index_elements=["open_key"]).returning(Alarm)
        )).one_or_none()
        if alarm is not None:
            log_event(session, alarm, "opened", device_id=decision.device_id,
                      at=decision.at.isoformat(), **decision.details)
            logger.info("alarm %s opened: %s for elder %s", alarm.id, alarm.kind,
                        alarm.elder_id)
            return alarm, True
        existing = (
            await session.execute(select(Alarm).where(Alarm.open_key == key))
        ).scalar_one_or_none()
        if existing is None:
            continue  # resolved a moment ago by someone else: open a new one
        existing.updated_at = now
        count = int(existing.details.get("occurrences", 1)) + 1
        existing.details = {**existing.details, "occurrences": count}
        log_event(
            session, existing, "occurred_again", device_id=decision.device_id,
            at=decision.at.isoformat(), **decision.details,
        )
        return existing, False
    raise RuntimeError(f"could not open or find the alarm {key}")


async def acknowledge(
    session: AsyncSession, alarm: Alarm, actor: str, method: str, note: str | None = None
) -> bool:
    """The caller takes the alarm: escalation stops. False if it was already taken."""
    if alarm.state != "open":
        if alarm.state == "acknowledged" and note:
            log_event(session, alarm, "note", actor=actor, note=note)
        return False
    now = utcnow()
    alarm.state = "acknowledged"
    alarm.acknowledged_at = now
    alarm.acknowledged_by = actor
    alarm.ack_method = method
    alarm.next_step_at = None
    alarm.updated_at = now
    log_event(session, alarm, "acknowledged", actor=actor, method=method, note=note)
    # Escalation stops here: what the outbox has not yet sent is not sent.
    await session.execute(
        update(Notification)
        .where(Notification.alarm_id == alarm.id, Notification.state.in_(("pending", "retry")))
        .values(state="cancelled", claimed_until=None)
        .execution_options(synchronize_session=False)
    )
    return True


async def resolve(
    session: AsyncSession,
    alarm: Alarm,
    actor: str,
    outcome: str,
    contact_method: str = "none",
    note: str | None = None,
) -> None:
    """Close the alarm with what happened; reaching the elder logs one visit per alarm."""
    if outcome not in OUTCOMES:
        raise AlarmStateError(f"unknown outcome {outcome!r}; one of {', '.join(OUTCOMES)}")
    if contact_method not in CONTACT_METHODS:
        raise AlarmStateError(
            f"unknown contact_method {contact_method!r}; one of {', '.join(CONTACT_METHODS)}"
        )
    now = utcnow()
    if alarm.state == "open":
        await acknowledge(session, alarm, actor, "resolve")
    alarm.state = "resolved"
    alarm.open_key = None
    alarm.resolved_at = now
    alarm.resolved_by = actor
    alarm.outcome = outcome
    alarm.contact_method = contact_method
    alarm.note = note
    alarm.next_step_at = None
    alarm.updated_at = now
    log_event(session, alarm, "resolved", actor=actor, outcome=outcome,
              contact_method=contact_method, note=note)
    if contact_method != "none" and alarm.elder_id:
        await _visit_from_alarm(session, alarm, actor, contact_method, now)


async def _visit_from_alarm(
    session: AsyncSession, alarm: Alarm, actor: str, method: str, at: datetime
) -> None:
    ref = f"alarm:{alarm.id}"
    visit = (
        await session.execute(select(Visit).where(Visit.source == "alarm", Visit.source_ref == ref))
    ).scalar_one_or_none()
    if visit is None:
        session.add(Visit(elder_id=alarm.elder_id, method=method, at=at, by=actor, source="alarm",
                          source_ref=ref, findings={}, evidence={"alarm_id": alarm.id,
                          "kind": alarm.kind, "outcome": alarm.outcome}, created_at=at))
    else:  # resolved again: still one visit, of the method now recorded
        visit.method = method
        visit.by = actor
