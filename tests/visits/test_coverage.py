"""The coverage policy: requirements per elder and week, and what counts towards them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from monitor.alarms.service import AlarmDecision, raise_alarm, resolve
from monitor.calendar import CareCalendar
from monitor.config import CoverageConfig
from monitor.store.db import Database
from monitor.store.models import Elder, Visit
from monitor.timeutil import utcnow
from monitor.visits.coverage import ElderWeek, weekly_coverage
from monitor.visits.visits import NewVisit, record_visit
from monitor.visits.weeks import IsoWeek
from tests.fixtures.factories import MakeElder
from tests.visits.common import WEEK

SETTINGS = CoverageConfig()


async def coverage(db: Database, week: IsoWeek, calendar: CareCalendar | None = None,
                   settings: CoverageConfig = SETTINGS) -> dict[str, ElderWeek]:
    async with db.sessions() as session:
        report = await weekly_coverage(session, week, settings, calendar)
    return {row.elder.id: row for row in report.rows}


async def test_an_alarm_resolved_by_phone_then_again_counts_one_phone_visit(
    db: Database, make_elder: MakeElder
) -> None:
    await make_elder(db, "E0001", categories=["高龄"])
    async with db.transaction() as session:
        alarm, _ = await raise_alarm(session, AlarmDecision(
            "E0001", "mgl-01", "btn-E0001", "sos", "critical", utcnow()))
        await resolve(session, alarm, "duty1", "elder_fine", "phone", "老人说按错了")
    async with db.transaction() as session:
        again = await session.get(type(alarm), alarm.id)
        assert again is not None
        await resolve(session, again, "duty2", "elder_fine", "phone", "补充备注")
    rows = await coverage(db, IsoWeek.current())
    assert rows["E0001"].contacts["phone"] == 1
    assert rows["E0001"].covered
    async with db.sessions() as session:
        visits = (await session.execute(select(Visit))).scalars().all()
    assert [(v.source, v.source_ref, v.method) for v in visits] == [
        ("alarm", f"alarm:{alarm.id}", "phone")]


async def test_a_festival_week_raises_the_requirement(
    sqlite_db: Database, make_elder: MakeElder
) -> None:
    db = sqlite_db
    await make_elder(db, "E0001", categories=["高龄"])
    await make_elder(db, "E0002", categories=["独居"])
    calendar = CareCalendar.from_entries([{"date": "2026-12-22", "kind": "festival",
                                           "name": "冬至"}])
    ordinary = await coverage(db, IsoWeek(2026, 51), calendar)
    festival = await coverage(db, IsoWeek(2026, 52), calendar)
    assert (ordinary["E0001"].need.contacts, ordinary["E0002"].need.contacts) == (1, 2)
    assert (festival["E0001"].need.contacts, festival["E0002"].need.contacts) == (2, 3)
    assert festival["E0002"].need.person_contacts == 1
    async with db.sessions() as session:
        report = await weekly_coverage(session, IsoWeek(2026, 52), SETTINGS, calendar)
    assert report.as_api()["care_days"] == [
        {"date": "2026-12-22", "kind": "festival", "name": "冬至"}]


async def test_same_day_calls_count_once_and_overrides_apply(
    sqlite_db: Database, make_elder: MakeElder
) -> None:
    db = sqlite_db
    await make_elder(db, "E0001", categories=["独居"])
    await make_elder(db, "E0002", categories=["独居"])
    tuesday = WEEK.start + timedelta(days=1, hours=9)
    async with db.transaction() as session:
        for elder in ("E0001", "E0002"):
            for minutes in (0, 10):
                await record_visit(session, NewVisit(elder, "phone",
                                                     tuesday + timedelta(minutes=minutes),
                                                     "社区王", "staff"))
        await record_visit(session, NewVisit("E0002", "home_visit",
                                             tuesday + timedelta(days=2), "社区王", "staff"))
        e1 = await session.get(Elder, "E0001")
        assert e1 is not None
        e1.overrides = {"coverage": {"contacts": 1}}  # e.g. agreed with the family
    rows = await coverage(db, WEEK)
    assert rows["E0002"].contacts["phone"] == 2 and rows["E0002"].counted == 2
    assert rows["E0002"].covered
    assert rows["E0001"].need.contacts == 1 and rows["E0001"].covered

    strict = CoverageConfig(key_object_contacts=3)
    rows = await coverage(db, WEEK, settings=strict)
    assert not rows["E0002"].covered
    assert rows["E0002"].reasons() == ["还需 1 次联系（本周需 3 次，已计 2 次）"]


async def test_remote_monitoring_may_be_kept_from_key_objects(
    sqlite_db: Database, make_elder: MakeElder
) -> None:
    db = sqlite_db
    await make_elder(db, "E0001", categories=["独居"])
    async with db.transaction() as session:
        await record_visit(session, NewVisit("E0001", "remote_monitoring", WEEK.start
                                             + timedelta(days=5), "system", "remote_check",
                                             f"remote:E0001:{WEEK}"))
        await record_visit(session, NewVisit("E0001", "video", WEEK.start
                                             + timedelta(days=1), "社区王", "staff"))
    assert (await coverage(db, WEEK))["E0001"].covered
    row = (await coverage(db, WEEK, settings=CoverageConfig(
        remote_counts_for_key_objects=False)))["E0001"]
    assert not row.covered and row.counted == 1
    assert "远程监测不计入该老人的探访次数" in row.reasons()
