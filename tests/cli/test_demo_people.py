"""The demo's people: who answers which alarm, the family's SMS reply, the remote check."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update

from monitor.alarms.service import AlarmDecision, raise_alarm
from monitor.demo_actors import DEFAULT, PLAYBOOK, DemoPeople, response_for
from monitor.store.db import Database
from monitor.store.models import Alarm, Device, Visit
from tests.fixtures.factories import MakeElder


def test_a_cancelled_sos_is_answered_by_the_family() -> None:
    assert response_for({"kind": "sos", "details": {}}) == PLAYBOOK["sos"]
    cancelled = {"kind": "sos", "details": {"cancelled_by_elder": "2026-12-04T01:00:00+00:00"}}
    assert response_for(cancelled).by == "family"
    assert response_for({"kind": "night_power", "details": {}}) == DEFAULT
    assert all(p.resolve_after_s is None or p.resolve_after_s > p.ack_after_s
               for p in PLAYBOOK.values())


async def test_family_reply_takes_the_alarm_and_a_remote_check_is_a_visit(
    db: Database, make_elder: MakeElder
) -> None:
    await make_elder(db, "E0001", devices={"btn-E0001": "call_button", "wm-E0001": "water_meter"})
    now = datetime.now(UTC)
    async with db.transaction() as session:
        alarm, _ = await raise_alarm(session, AlarmDecision(
            "E0001", "mgl-01", "btn-E0001", "sos", "critical", now))
        await session.execute(update(Device).where(Device.id == "wm-E0001").values(
            last_seen_at=now, last_reading={"total_m3": 12.345}))
    people = DemoPeople(db, "http://127.0.0.1:9", "duty-demo", "unused")
    assert await people.family_replies(alarm.id)
    assert not await people.family_replies(alarm.id)  # already taken
    async with db.sessions() as session:
        taken = await session.get(Alarm, alarm.id)
    assert taken is not None and taken.state == "acknowledged"
    assert taken.ack_method == "sms_reply" and taken.acknowledged_by == "家属 李*（儿子）"

    visit = await people.remote_check()
    assert visit is not None and visit.elder_id == "E0001"
    assert await people.remote_check() is None  # each elder once; there is no other
    async with db.sessions() as session:
        visits = (await session.execute(select(Visit))).scalars().all()
    assert [(v.method, v.source) for v in visits] == [("remote_monitoring", "remote_check")]
    assert visits[0].evidence["devices"]["wm-E0001"] == {"total_m3": 12.345}
    assert "1台近30分钟在线" in visits[0].findings["summary"]
