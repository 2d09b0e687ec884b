"""Weekly visit coverage over HTTP: the report as JSON, and as an XLSX or CSV file."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from monitor.access import log_access
from monitor.accounts import Caller
from monitor.api.deps import CallerDep, MonitorDep, SessionDep
from monitor.errors import TanfangError
from monitor.visits.coverage import CoverageReport, weekly_coverage
from monitor.visits.report import MEDIA_TYPES, filename, render
from monitor.visits.weeks import IsoWeek

router = APIRouter(prefix="/api/coverage", tags=["coverage"])


def parse_week(week: str | None) -> IsoWeek:
    """The week asked for (current by default); a bad one is a 422."""
    if not week:
        return IsoWeek.current()
    try:
        return IsoWeek.parse(week)
    except TanfangError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(exc)) from None


def scope(caller: Caller, community: str | None) -> str | None:
    """The community the report covers: the caller's own, or what a district admin asks."""
    if caller.sees_all:
        return community
    if community and community != caller.community_id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "无权查看该社区 (not your community)")
    return caller.community_id


async def report_for(
    session: AsyncSession, monitor: Any, caller: Caller, week: str | None,
    community: str | None, action: str,
) -> CoverageReport:
    """The coverage the caller may see, with the access logged."""
    chosen = parse_week(week)
    report = await weekly_coverage(session, chosen, monitor.config.coverage,
                                   monitor.calendar, scope(caller, community))
    log_access(session, caller.username, action, None,
               f"week={chosen} community={scope(caller, community) or 'all'} "
               f"elders={len(report.rows)}")
    return report


@router.get("")
async def get_coverage(
    session: SessionDep, caller: CallerDep, monitor: MonitorDep, week: str | None = None,
    community: str | None = None,
) -> dict[str, Any]:
    """Per elder: required contacts, contacts by method, covered or not; totals per community."""
    report = await report_for(session, monitor, caller, week, community, "coverage.view")
    return report.as_api()


@router.get("/export")
async def export_coverage(
    session: SessionDep, caller: CallerDep, monitor: MonitorDep, week: str | None = None,
    format: Literal["xlsx", "csv"] = "xlsx", community: str | None = None,
) -> Response:
    """The same report as a file (the CLI's `tanfang report coverage`)."""
    report = await report_for(session, monitor, caller, week, community, "coverage.export")
    return Response(render(report, format), media_type=MEDIA_TYPES[format], headers={
        "Content-Disposition": f'attachment; filename="{filename(report, format)}"'})
