"""The elder's record: profile, contacts, devices, usage, alarms and visits; views are logged."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from monitor.access import log_access
from monitor.accounts import Caller
from monitor.api.deps import CallerDep, MonitorDep, SessionDep
from monitor.console import labels
from monitor.console.devices import device_health, reading_text
from monitor.console.session import PageCaller
from monitor.console.templating import templates
from monitor.console.thresholds import inactivity_thresholds
from monitor.privacy import mask_name, mask_phone
from monitor.store.models import Alarm, Community, Device, Elder, Visit
from monitor.telemetry.usage import METRICS, usage_series
from monitor.timeutil import hour_floor, to_local, utcnow

router = APIRouter(tags=["console"])
HISTORY = 30


async def visible_elder(session: AsyncSession, caller: Caller, elder_id: str) -> Elder:
    """The elder if the caller may see them; 404 otherwise (existence is not revealed)."""
    elder = await session.get(Elder, elder_id)
    if elder is None or not caller.may_see(elder.community_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"老人 {elder_id} 不存在或无权查看")
    return elder


def age(birth_year: int | None) -> int | None:
    return to_local(utcnow()).year - birth_year if birth_year else None


@router.get("/elders/{elder_id}", response_class=HTMLResponse, include_in_schema=False)
async def elder_page(
    elder_id: str, request: Request, monitor: MonitorDep, caller: PageCaller
) -> Response:
    """The elder's page; the view is written to the access log."""
    async with monitor.db.transaction() as session:
        try:
            elder = await visible_elder(session, caller, elder_id)
        except HTTPException:
            return templates.TemplateResponse(
                request, "not_found.html", {"caller": caller, "active": "", "what": elder_id},
                status_code=404)
        log_access(session, caller.username, "view_elder", elder.id, "console")
        community = await session.get(Community, elder.community_id)
        devices = (await session.execute(
            select(Device).where(Device.elder_id == elder.id).order_by(Device.type, Device.id)
        )).scalars().all()
        alarms = (await session.execute(
            select(Alarm).where(Alarm.elder_id == elder.id).order_by(Alarm.opened_at.desc())
            .limit(HISTORY))).scalars().all()
        visits = (await session.execute(
            select(Visit).where(Visit.elder_id == elder.id).order_by(Visit.at.desc())
            .limit(HISTORY))).scalars().all()
    now = utcnow()
    device_rows = [
        {"device": d, "health": device_health(d, monitor.config.ingest.heartbeat_s, now),
         "type_label": labels.DEVICE_TYPE.get(d.type, d.type),
         "reading": reading_text(d.last_reading)}
        for d in devices
    ]
    return templates.TemplateResponse(request, "elder.html", {
        "caller": caller, "active": "", "elder": elder, "community": community,
        "age": age(elder.birth_year), "devices": device_rows, "alarms": alarms,
        "visits": visits, "now": now, "summary": labels.summary,
    })


class ElderOut(BaseModel):
    id: str
    name: str = Field(description="Masked (张*兰).")
    community_id: str
    birth_year: int | None
    categories: list[str]
    key_object: bool
    visit_contact: str | None = Field(description="Masked.")
    contacts: list[dict[str, Any]] = Field(description="In calling order; names and phones masked.")


@router.get("/api/elders/{elder_id}", response_model=ElderOut)
async def get_elder(elder_id: str, session: SessionDep, caller: CallerDep) -> dict[str, Any]:
    """One elder, masked; the view is written to the access log."""
    elder = await visible_elder(session, caller, elder_id)
    log_access(session, caller.username, "view_elder", elder.id, "api")
    return {
        "id": elder.id, "name": mask_name(elder.name), "community_id": elder.community_id,
        "birth_year": elder.birth_year, "categories": list(elder.categories or []),
        "key_object": elder.key_object, "visit_contact": mask_name(elder.visit_contact) or None,
        "contacts": [{"position": c.position, "name": mask_name(c.name), "relation": c.relation,
                      "phone": mask_phone(c.phone)} for c in elder.contacts],
    }


@router.post("/api/elders/{elder_id}/phones")
async def reveal_phones(
    elder_id: str, session: SessionDep, caller: CallerDep,
    alarm_id: int | None = Query(None, description="The alarm being handled, for the log."),
) -> dict[str, Any]:
    """The real names and phone numbers of the elder and contacts, to call back; logged."""
    elder = await visible_elder(session, caller, elder_id)
    log_access(session, caller.username, "reveal_phones", elder.id,
                  f"alarm {alarm_id}" if alarm_id else None)
    people = [{"role": "老人本人", "name": elder.name, "phone": elder.phone}]
    people += [{"role": c.relation or "联系人", "name": c.name, "phone": c.phone}
               for c in elder.contacts]
    if elder.visit_contact:
        people.append({"role": "探访联系人", "name": elder.visit_contact,
                       "phone": elder.visit_contact_phone})
    return {"elder_id": elder.id, "people": [p for p in people if p["phone"]]}


@router.get("/api/elders/{elder_id}/usage")
async def elder_usage(
    elder_id: str, session: SessionDep, caller: CallerDep, days: int = Query(7, ge=1, le=31)
) -> dict[str, Any]:
    """Hourly water, electricity and activity of the last `days` days, with thresholds."""
    await visible_elder(session, caller, elder_id)
    end = hour_floor(utcnow()) + timedelta(hours=1)
    start = end - timedelta(days=days)
    series = {}
    for metric in METRICS:
        points = await usage_series(session, elder_id, metric, start, end, days * 24)
        series[metric] = [[hour.isoformat(), round(value, 4)] for hour, value in points]
    return {"elder_id": elder_id, "start": start.isoformat(), "end": end.isoformat(),
            "series": series, "thresholds": inactivity_thresholds()}
