"""The alarm board: rows of unresolved alarms, and a server-sent event stream of changes."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterable
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from monitor.accounts import Caller, caller_for_token
from monitor.alarms.service import SEVERITY_RANK
from monitor.api.alarms import visible
from monitor.api.deps import SESSION_COOKIE, CallerDep, MonitorDep
from monitor.console import labels
from monitor.privacy import mask_name
from monitor.store.models import Alarm, Community, Elder, Notification
from monitor.timeutil import utcnow

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/api/board", tags=["console"])

POLL_S = 1.0
# Rows written by another daemon may carry an updated_at slightly behind our tick.
OVERLAP = timedelta(seconds=3)
KEEPALIVE_TICKS = 15
RECHECK_TICKS = 30


def urgency(row: dict[str, Any]) -> tuple[int, int, str]:
    """Most urgent first: severity, then open before acknowledged, then the oldest."""
    return (SEVERITY_RANK.get(row["severity"], 3), 0 if row["state"] == "open" else 1,
            row["opened_at"])


def notification_out(n: Notification) -> dict[str, Any]:
    return {
        "id": n.id, "step": n.step, "recipient_kind": n.recipient_kind,
        "recipient_name": mask_name(n.recipient_name), "channel": n.channel, "state": n.state,
        "attempts": n.attempts, "sent_at": _iso(n.sent_at), "delivered_at": _iso(n.delivered_at),
        "error": n.error,
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


async def board_rows(
    session: AsyncSession, caller: Caller, *, since: datetime | None = None,
    ids: Iterable[int] = (),
) -> list[dict[str, Any]]:
    """Alarms for the board: unresolved ones, or those changed since `since` or listed in `ids`."""
    query = (
        select(Alarm, Elder.name, Community.name, Community.street)
        .outerjoin(Elder, Elder.id == Alarm.elder_id)
        .outerjoin(Community, Community.id == Alarm.community_id)
        .where(visible(caller))
    )
    wanted = list(ids)
    if since is not None:
        changed = Alarm.updated_at >= since
        query = query.where(changed | Alarm.id.in_(wanted) if wanted else changed)
    else:
        query = query.where(Alarm.state != "resolved")
    rows = (await session.execute(query.limit(500))).all()
    notes: dict[int, list[dict[str, Any]]] = {}
    if rows:
        found = await session.execute(
            select(Notification).where(Notification.alarm_id.in_([r[0].id for r in rows]))
            .order_by(Notification.id)
        )
        for n in found.scalars():
            notes.setdefault(n.alarm_id or 0, []).append(notification_out(n))
    out = [_row(alarm, elder, community, street, notes.get(alarm.id, []))
           for alarm, elder, community, street in rows]
    return sorted(out, key=urgency)


def _row(alarm: Alarm, elder: str | None, community: str | None, street: str | None,
         notifications: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": alarm.id, "elder_id": alarm.elder_id, "elder_name": mask_name(elder) or "未登记",
        "community_id": alarm.community_id, "community_name": community or "",
        "street": street or "", "device_id": alarm.device_id, "kind": alarm.kind,
        "kind_label": labels.KIND.get(alarm.kind, alarm.kind), "severity": alarm.severity,
        "state": alarm.state, "summary": labels.summary(alarm.kind, alarm.details or {}),
        "occurrences": int((alarm.details or {}).get("occurrences", 1)),
        "opened_at": alarm.opened_at.isoformat(), "updated_at": alarm.updated_at.isoformat(),
        "acknowledged_at": _iso(alarm.acknowledged_at), "acknowledged_by": alarm.acknowledged_by,
        "resolved_at": _iso(alarm.resolved_at), "resolved_by": alarm.resolved_by,
        "outcome": alarm.outcome, "contact_method": alarm.contact_method,
        "notifications": notifications,
    }


async def resolved_today(session: AsyncSession, caller: Caller) -> int:
    """Alarms the caller's scope resolved in the last 24 hours."""
    query = select(func.count()).select_from(Alarm).where(
        visible(caller), Alarm.state == "resolved", Alarm.resolved_at >= utcnow() - timedelta(1))
    return int((await session.execute(query)).scalar_one())


def _fingerprint(row: dict[str, Any]) -> str:
    return json.dumps([row["state"], row["updated_at"], row["notifications"]], sort_keys=True)


def sse(event: str, data: Any) -> str:
    """One server-sent event."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@router.get("")
async def board(monitor: MonitorDep, caller: CallerDep) -> dict[str, Any]:
    """The unresolved alarms visible to the caller, most urgent first."""
    async with monitor.db.sessions() as session:
        return {"alarms": await board_rows(session, caller),
                "resolved_today": await resolved_today(session, caller)}


@router.get("/stream")
async def stream(request: Request, monitor: MonitorDep, caller: CallerDep) -> StreamingResponse:
    """Server-sent events: a snapshot, then every alarm that changed, polled from the store.

    Polling the store (not an in-process bus) lets the board follow alarms raised and
    acknowledged by any daemon sharing the database.
    """
    token = request.cookies.get(SESSION_COOKIE) or request.headers.get(
        "authorization", "").removeprefix("Bearer ")
    return StreamingResponse(
        _events(request, monitor, caller, token), media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _events(
    request: Request, monitor: Any, caller: Caller, token: str
) -> AsyncIterator[str]:
    yield "retry: 2000\n\n"
    tick = utcnow()
    async with monitor.db.sessions() as session:
        rows = await board_rows(session, caller)
        done = await resolved_today(session, caller)
    sent = {row["id"]: _fingerprint(row) for row in rows}
    unresolved = set(sent)
    yield sse("snapshot", {"alarms": rows, "resolved_today": done, "at": tick.isoformat()})
    ticks = 0
    while True:
        await asyncio.sleep(POLL_S)
        ticks += 1
        if await request.is_disconnected():
            return
        since, tick = tick - OVERLAP, utcnow()
        async with monitor.db.sessions() as session:
            if ticks % RECHECK_TICKS == 0 and await caller_for_token(session, token) is None:
                yield sse("expired", {})
                return
            # Unresolved alarms are read every tick: their notifications change without them.
            rows = await board_rows(session, caller, since=since, ids=unresolved)
        changed = [row for row in rows if sent.get(row["id"]) != _fingerprint(row)]
        for row in changed:
            sent[row["id"]] = _fingerprint(row)
            if row["state"] == "resolved":
                unresolved.discard(row["id"])
            else:
                unresolved.add(row["id"])
        if changed:
            yield sse("alarms", {"alarms": changed, "at": tick.isoformat()})
        elif ticks % KEEPALIVE_TICKS == 0:
            yield ": keepalive\n\n"
