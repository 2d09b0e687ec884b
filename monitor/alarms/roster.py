"""The duty roster: who is on shift for a community at a given instant (Asia/Shanghai)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from monitor.store.models import DutyShift
from monitor.timeutil import to_local


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def covers(shift: DutyShift, at: datetime) -> bool:
    """Whether a weekly shift covers the instant; ends <= starts runs past midnight."""
    local = to_local(at)
    starts, ends = _clock(shift.starts), _clock(shift.ends)
    now = local.time()
    today = local.weekday()
    yesterday = (today - 1) % 7
    if ends > starts:
        return shift.weekday == today and starts <= now < ends
    # An overnight (or whole-day, 00:00-00:00) shift: from `starts` on its weekday to `ends`
    # on the next day.
    return (shift.weekday == today and now >= starts) or (
        shift.weekday == yesterday and now < ends)


async def on_duty(session: AsyncSession, community_id: str | None, at: datetime) -> list[DutyShift]:
    """Shifts covering `at` for the community, and district-wide shifts (community empty)."""
    local = to_local(at)
    days = {local.weekday(), (local - timedelta(days=1)).weekday()}
    query = select(DutyShift).where(DutyShift.weekday.in_(days)).order_by(DutyShift.id)
    scope: ColumnElement[bool] = DutyShift.community_id.is_(None)
    if community_id is not None:
        scope = or_(scope, DutyShift.community_id == community_id)
    shifts = (await session.execute(query.where(scope))).scalars().all()
    on_shift = [s for s in shifts if covers(s, at)]
    # The community's own staff first; the district desk is told only when nobody local is.
    local_staff = [s for s in on_shift if s.community_id is not None]
    return local_staff or on_shift
