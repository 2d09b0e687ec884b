"""Who is on duty: weekly shifts in Shanghai time, shifts past midnight, the district desk."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from monitor.alarms.roster import on_duty
from monitor.store.db import Database
from monitor.store.models import Community, DutyShift
from monitor.timeutil import LOCAL_TZ


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """Monday 2026-11-30 plus `day` days, at hour:minute in Shanghai."""
    return datetime(2026, 11, 30, hour, minute, tzinfo=LOCAL_TZ) + timedelta(days=day)


@pytest.fixture
async def roster(sqlite_db: Database) -> Database:
    async with sqlite_db.transaction() as session:
        session.add_all([Community(id="mgl-01", street="明光路街道", name="东庄社区"),
                         Community(id="mgl-02", street="明光路街道", name="西庄社区")])
        await session.flush()
        session.add_all([
            DutyShift(community_id="mgl-01", name="白班", phone="+8613700000001", weekday=0,
                      starts="08:00", ends="20:00"),
            DutyShift(community_id="mgl-01", name="夜班", phone="+8613700000002", weekday=0,
                      starts="20:00", ends="08:00"),
            DutyShift(community_id=None, name="区值班", phone="+8613700000003", weekday=1,
                      starts="00:00", ends="00:00"),
        ])
    return sqlite_db


@pytest.mark.parametrize(("at", "community", "names"), [
    (local(0, 8), "mgl-01", ["白班"]),
    (local(0, 19, 59), "mgl-01", ["白班"]),
    (local(0, 20), "mgl-01", ["夜班"]),
    (local(1, 3), "mgl-01", ["夜班"]),  # Monday's night shift, early on Tuesday
    (local(1, 8), "mgl-01", ["区值班"]),  # nobody local: the district desk
    (local(0, 7, 59), "mgl-01", []),  # Sunday night has no shift
    (local(0, 12), "mgl-02", []),
    (local(1, 12), "mgl-02", ["区值班"]),
    (local(2, 0), "mgl-01", []),  # the whole-day shift ended at Tuesday's midnight
])
async def test_who_is_on_duty(roster: Database, at: datetime, community: str,
                              names: list[str]) -> None:
    async with roster.sessions() as session:
        shifts = await on_duty(session, community, at)
    assert [s.name for s in shifts] == names
