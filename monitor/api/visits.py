"""Visits over HTTP: record one made outside the system, list an elder's or a week's."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field
from sqlalchemy import select

from monitor.access import log_access
from monitor.api.coverage import parse_week
from monitor.api.deps import CallerDep, SessionDep
from monitor.store.models import Elder, Visit
from monitor.timeutil import LOCAL_TZ, utcnow
from monitor.visits.findings import Findings
from monitor.visits.visits import NewVisit, VisitError, record_visit, visit_out

router = APIRouter(prefix="/api/visits", tags=["visits"])

ManualMethod = Literal["home_visit", "phone", "video", "other"]


class VisitIn(BaseModel):
    elder_id: str = Field(max_length=64)
    method: ManualMethod = Field(description="remote_monitoring is logged by the remote check.")
    at: datetime | None = Field(None, description="When; default now; no offset: local time.")
    by: str | None = Field(None, max_length=64, description="Who visited; default the caller.")
    ref: str | None = Field(None, max_length=120,
                            description="Your id for the visit: sending it again updates it.")
    note: str | None = Field(None, max_length=2000)
    findings: Findings | None = None


class VisitOut(BaseModel):
    id: int
    elder_id: str
    method: str
    method_name: str
    at: datetime
    by: str | None
    source: str
    source_ref: str | None
    findings: dict[str, Any]
    evidence: dict[str, Any]
    note: str | None
    created_at: datetime


@router.post("", status_code=status.HTTP_201_CREATED, response_model=VisitOut)
async def create_visit(body: VisitIn, session: SessionDep, caller: CallerDep) -> dict[str, Any]:
    """Record a visit made by phone, video, in person or otherwise."""
    elder = await session.get(Elder, body.elder_id)
    if elder is None or not caller.may_see(elder.community_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            f"老人 {body.elder_id} 不存在 (no such elder)")
    at = body.at or utcnow()
    at = at if at.tzinfo else at.replace(tzinfo=LOCAL_TZ)
    try:
        visit, _ = await record_visit(session, NewVisit(
            elder_id=elder.id, method=body.method, at=at, by=body.by or caller.username,
            source="staff", source_ref=f"{caller.username}:{body.ref}" if body.ref else None,
            findings=body.findings.stored() if body.findings else {}, note=body.note,
        ))
    except VisitError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(exc)) from None
    log_access(session, caller.username, "visit.create", elder.id, f"visit={visit.id}")
    return visit_out(visit)


@router.get("", response_model=list[VisitOut])
async def list_visits(
    session: SessionDep, caller: CallerDep, elder_id: str | None = None,
    week: str | None = None, limit: int = Query(500, ge=1, le=5000),
) -> list[dict[str, Any]]:
    """Visits the caller may see, newest first: of one elder, of one week, or both."""
    query = select(Visit).join(Elder, Elder.id == Visit.elder_id)
    if not caller.sees_all:
        query = query.where(Elder.community_id == caller.community_id)
    if elder_id:
        query = query.where(Visit.elder_id == elder_id)
    if week:
        chosen = parse_week(week)
        query = query.where(Visit.at >= chosen.start, Visit.at < chosen.end)
    visits = (await session.execute(
        query.order_by(Visit.at.desc(), Visit.id.desc()).limit(limit))).scalars().all()
    log_access(session, caller.username, "visit.list", elder_id,
               f"week={week or 'any'} visits={len(visits)}")
    return [visit_out(v) for v in visits]
