"""The remote check: a week of normal activity at home is one remote visit, with its evidence."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from monitor.alarms.service import AlarmDecision, raise_alarm
from monitor.config import CoverageConfig, RemoteCheckConfig
from monitor.store.db import Database
from monitor.store.models import Visit
from monitor.visits.coverage import weekly_coverage
from monitor.visits.remote_check import RemoteCheck
from monitor.visits.visits import NewVisit, record_visit
from tests.fixtures.factories import MakeElder
from tests.visits.common import (
    AFTER,
    WEEK,
    activity_devices,
    feed,
    history_and_week,
    installed_long_ago,
    meter_readings,
)


async def remote_visits(db: Database) -> list[Visit]:
    async with db.sessions() as session:
        return list((await session.execute(
            select(Visit).where(Visit.source == "remote_check").order_by(Visit.elder_id)
        )).scalars())


async def test_a_week_of_evidence_covers_an_ordinary_elder_not_a_key_object(
    db: Database, make_elder: MakeElder
) -> None:
    await make_elder(db, "E0001", categories=["高龄"], devices={"wm-1": "water_meter"})
    await make_elder(db, "E0002", categories=["独居"], devices={"wm-2": "water_meter"})
    await installed_long_ago(db)
    days = history_and_week()
    await feed(db, meter_readings("wm-1", "water_meter", "E0001", days)
               + meter_readings("wm-2", "water_meter", "E0002", days))

    check = RemoteCheck(db, RemoteCheckConfig())
    assert await check.run(AFTER) == 2
    assert await check.run(AFTER) == 0  # idempotent: one visit per elder and week
    visits = await remote_visits(db)
    assert [v.source_ref for v in visits] == [f"remote:E0001:{WEEK}", f"remote:E0002:{WEEK}"]
    evidence = visits[0].evidence
    assert [d["date"] for d in evidence["days"]] == [d.isoformat() for d in WEEK.days()]
    assert evidence["devices"] == ["wm-1"] and evidence["rejected"] == []
    figures = evidence["days"][0]["devices"]["wm-1"]
    assert figures["reported_hours"] == 24 and figures["median"] > 0 and figures["normal"]
    assert WEEK.start <= visits[0].at < WEEK.end

    settings = CoverageConfig()
    async with db.sessions() as session:
        rows = {r.elder.id: r for r in (await weekly_coverage(session, WEEK, settings)).rows}
    assert rows["E0001"].covered and rows["E0001"].contacts["remote_monitoring"] == 1
    key = rows["E0002"]
    assert not key.covered and key.need.contacts == 2 and key.counted == 1
    assert "需至少一次人工联系（电话、视频或上门）" in key.reasons()

    async with db.transaction() as session:
        await record_visit(session, NewVisit("E0002", "phone", WEEK.start + timedelta(days=2),
                                             "社区王", "staff"))
    async with db.sessions() as session:
        rows = {r.elder.id: r for r in (await weekly_coverage(session, WEEK, settings)).rows}
    assert rows["E0002"].covered and rows["E0002"].counted == 2


async def test_a_meter_offline_for_three_days_removes_those_days(
    db: Database, make_elder: MakeElder
) -> None:
    await make_elder(db, "E0001", categories=["高龄"],
                     devices={"wm-1": "water_meter", "pm-1": "power_meter"})
    await installed_long_ago(db)
    offline = WEEK.days()[2:5]  # Wednesday to Friday
    await feed(db, meter_readings("wm-1", "water_meter", "E0001", history_and_week(offline))
               + meter_readings("pm-1", "power_meter", "E0001", history_and_week(), 0.2))

    assert await RemoteCheck(db, RemoteCheckConfig()).run(AFTER) == 0  # 4 days < 5
    assert await RemoteCheck(db, RemoteCheckConfig(min_days=4)).run(AFTER) == 1
    (visit,) = await remote_visits(db)
    counted = {d["date"] for d in visit.evidence["days"]}
    rejected = {d["date"]: d for d in visit.evidence["rejected"]}
    assert counted == {d.isoformat() for d in WEEK.days()} - {d.isoformat() for d in offline}
    assert set(rejected) == {d.isoformat() for d in offline}
    for day in rejected.values():
        assert "设备离线或未上报: wm-1" in day["reason"]
        assert day["devices"]["wm-1"]["online"] is False
        assert day["devices"]["pm-1"]["online"] is True


async def test_an_open_alarm_or_no_devices_gives_no_evidence(
    sqlite_db: Database, make_elder: MakeElder
) -> None:
    db = sqlite_db
    await make_elder(db, "E0001", categories=["高龄"], devices={"wm-1": "water_meter"})
    await make_elder(db, "E0002", categories=["高龄"])  # a call button only
    await installed_long_ago(db)
    await feed(db, meter_readings("wm-1", "water_meter", "E0001", history_and_week()))
    async with db.transaction() as session:  # open from Tuesday noon, never resolved
        await raise_alarm(session, AlarmDecision("E0001", "mgl-01", "wm-1", "inactivity",
                                                 "warning", WEEK.start + timedelta(days=1.5)))
    check = RemoteCheck(db, RemoteCheckConfig(min_days=1))
    async with db.sessions() as session:
        devices = {"E0001": await activity_devices(session, "E0001")}
        (verdict,) = await check.judge(session, WEEK, WEEK.days(), devices)
    assert [d.evidence for d in verdict.days] == [True] + [False] * 6
    assert "告警未关闭" in (verdict.days[3].reason or "")
    assert await check.run(AFTER) == 1  # Monday alone is enough with min_days=1
    assert [v.elder_id for v in await remote_visits(db)] == ["E0001"]  # never E0002


async def test_usage_far_below_the_usual_range_is_not_normal(
    sqlite_db: Database, make_elder: MakeElder
) -> None:
    db = sqlite_db
    await make_elder(db, "E0001", categories=["高龄"], devices={"wm-1": "water_meter"})
    await installed_long_ago(db)
    in_week = set(WEEK.days())
    await feed(db, meter_readings("wm-1", "water_meter", "E0001", history_and_week(),
                                  lambda day: 0.001 if day in in_week else 0.01))
    check = RemoteCheck(db, RemoteCheckConfig())
    async with db.sessions() as session:
        devices = {"E0001": await activity_devices(session, "E0001")}
        (verdict,) = await check.judge(session, WEEK, WEEK.days()[:1], devices)
    day = verdict.days[0]
    assert not day.evidence and "用量不在平常范围: wm-1" in (day.reason or "")
    assert day.devices["wm-1"]["history_days"] == 14

