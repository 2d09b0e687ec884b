"""Alarms over HTTP: list what the caller may see, acknowledge, resolve."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field
from sqlalchemy import case, select

from monitor.accounts import Caller
from monitor.alarms.service import AlarmStateError, acknowledge, resolve
from monitor.api.deps import CallerDep, SessionDep
from monitor.privacy import mask_name, mask_phone
from monitor.store.models import Alarm, AlarmEvent, Elder, Notification

router = APIRouter(prefix="/api/alarms", tags=["alarms"])

Outcome = Literal["elder_fine", "assisted_by_family", "assisted_by_staff", "emergency_services",
                  "false_alarm", "device_fault"]
ContactMethod = Literal["phone", "video", "home_visit", "none"]


class AlarmOut(BaseModel):
    id: int
    elder_id: str | None
    elder_name: str | None = Field(None, description="Masked (张*兰).")
    community_id: str | None
    device_id: str | None
    kind: str
    severity: str
    state: str
    opened_at: datetime
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    ack_method: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    outcome: str | None
    contact_method: str | None
    note: str | None
    details: dict[str, Any]


class AlarmEventOut(BaseModel):
    at: datetime
    kind: str
    actor: str | None
    details: dict[str, Any]


class NotificationOut(BaseModel):
    id: int
    step: int
    recipient_kind: str = Field(description="elder, contact or duty.")
    recipient_name: str | None = Field(None, description="Masked (李*).")
    address: str = Field(description="Masked phone number.")
    channel: str
    state: str = Field(description="pending, sending, sent, delivered, retry, failed, "
                       "cancelled, unknown or suppressed.")
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    error: str | None


class EscalationOut(BaseModel):
    policy: str | None
    round: int = Field(description="Passes through the policy's repeat, from 0.")
    done: str | None = Field(None, description="finished, exhausted or no_policy once it ended.")
    next_step_at: datetime | None


class AlarmDetail(AlarmOut):
    events: list[AlarmEventOut]
    escalation: EscalationOut | None = Field(None, description="Empty until the first step.")
    notifications: list[NotificationOut] = Field(default_factory=list,
                                                 description="Everyone told, oldest first.")


class AckIn(BaseModel):
    note: str | None = Field(None, max_length=2000)


class ResolveIn(BaseModel):
    outcome: Outcome
    contact_method: ContactMethod = "none"
    note: str | None = Field(None, max_length=2000)


def alarm_out(alarm: Alarm, elder_name: str | None) -> dict[str, Any]:
    data = {name: getattr(alarm, name) for name in AlarmOut.model_fields if name != "elder_name"}
    data["elder_name"] = mask_name(elder_name) if elder_name else None
    return data


SEVERITY_ORDER = case({"critical": 0, "warning": 1}, value=Alarm.severity, else_=2)


def visible(caller: Caller) -> Any:
    """The SQL condition for the alarms a caller may see."""
    return True if caller.sees_all else Alarm.community_id == caller.community_id


@router.get("", response_model=list[AlarmOut])
async def list_alarms(
    session: SessionDep,
    caller: CallerDep,
    state: Literal["open", "acknowledged", "resolved"] | None = None,
    elder_id: str | None = None,
    limit: int = Query(200, ge=1, le=1000),
) -> list[dict[str, Any]]:
    """Alarms visible to the caller, most urgent first (open, critical, oldest)."""
    query = select(Alarm, Elder.name).outerjoin(Elder, Elder.id == Alarm.elder_id).where(
        visible(caller)
    )
    if state:
        query = query.where(Alarm.state == state)
    if elder_id:
        query = query.where(Alarm.elder_id == elder_id)
    state_order = case({"open": 0, "acknowledged": 1}, value=Alarm.state, else_=2)
    query = query.order_by(state_order, SEVERITY_ORDER, Alarm.opened_at.desc()).limit(limit)
    rows = (await session.execute(query)).all()
    return [alarm_out(alarm, name) for alarm, name in rows]


async def _visible_alarm(session: SessionDep, caller: Caller, alarm_id: int) -> Alarm:
    alarm = await session.get(Alarm, alarm_id, with_for_update=True)
    if alarm is None or not caller.may_see(alarm.community_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"告警 {alarm_id} 不存在 (no such alarm)")
    return alarm


async def _detail(session: SessionDep, alarm: Alarm) -> dict[str, Any]:
    elder = await session.get(Elder, alarm.elder_id) if alarm.elder_id else None
    events = (
        await session.execute(
            select(AlarmEvent).where(AlarmEvent.alarm_id == alarm.id).order_by(AlarmEvent.id)
        )
    ).scalars()
    data = alarm_out(alarm, elder.name if elder else None)
    data["events"] = [
        {"at": e.at, "kind": e.kind, "actor": e.actor, "details": e.details} for e in events
    ]
    plan = alarm.escalation or None
    data["escalation"] = plan and {
        "policy": plan.get("policy"), "round": int(plan.get("round", 0)),
        "done": plan.get("done"), "next_step_at": alarm.next_step_at}
    told = (await session.execute(
        select(Notification).where(Notification.alarm_id == alarm.id).order_by(Notification.id)
    )).scalars()
    data["notifications"] = [
        {"id": n.id, "step": n.step, "recipient_kind": n.recipient_kind,
         "recipient_name": mask_name(n.recipient_name) or None, "address": mask_phone(n.address),
         "channel": n.channel, "state": n.state, "attempts": n.attempts,
         "created_at": n.created_at, "sent_at": n.sent_at, "delivered_at": n.delivered_at,
         "error": n.error} for n in told]
    return data


@router.get("/{alarm_id}", response_model=AlarmDetail)
async def get_alarm(alarm_id: int, session: SessionDep, caller: CallerDep) -> dict[str, Any]:
    """One alarm with its audit trail."""
    return await _detail(session, await _visible_alarm(session, caller, alarm_id))


@router.post("/{alarm_id}/ack", response_model=AlarmDetail)
async def ack_alarm(
    alarm_id: int, session: SessionDep, caller: CallerDep, body: AckIn | None = None
) -> dict[str, Any]:
    """The caller takes the alarm; escalation stops."""
    alarm = await _visible_alarm(session, caller, alarm_id)
    if alarm.state == "resolved":
        raise HTTPException(status.HTTP_409_CONFLICT, "告警已处理完毕 (already resolved)")
    await acknowledge(session, alarm, caller.username, "api", body.note if body else None)
    await session.flush()
    return await _detail(session, alarm)


@router.post("/{alarm_id}/resolve", response_model=AlarmDetail)
async def resolve_alarm(
    alarm_id: int, body: ResolveIn, session: SessionDep, caller: CallerDep
) -> dict[str, Any]:
    """Close the alarm with its outcome; reaching the elder logs a visit, once per alarm."""
    alarm = await _visible_alarm(session, caller, alarm_id)
    try:
        await resolve(session, alarm, caller.username, body.outcome, body.contact_method,
                      body.note)
    except AlarmStateError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(exc)) from None
    await session.flush()
    return await _detail(session, alarm)
