"""An SOS from a device takes its first escalation step as soon as its alarm is committed: the
first SMS leaves at once, with no tick, and never twice."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from sqlalchemy import select

from monitor.ingest.message import ReceivedMessage
from monitor.store.models import Alarm, AlarmEvent
from tests.alarms.conftest import CONTACTS, Bench


async def press(bench: Bench, msg_id: str) -> int:
    """An SOS event through the daemon's pipeline, as MQTT hands it over; the alarm's id."""
    await bench.monitor.directory.load()
    # The escalation and the outbox on the bench's clock (noon: outside quiet hours).
    bench.engine.clock = bench.outbox.clock = lambda: bench.at(0)
    body = json.dumps({"msg_id": msg_id, "ts": int(time.time() * 1000), "type": "sos"})
    await bench.monitor.pipeline.handle(
        [ReceivedMessage("tanfang/v1/btn-E0001/event", body.encode(), 1, 1)])
    async with bench.db.sessions() as session:
        return int((await session.execute(select(Alarm.id))).scalar_one())


async def test_the_first_sms_leaves_as_soon_as_the_alarm_is_committed(sms_bench: Bench) -> None:
    bench = sms_bench
    alarm_id = await press(bench, "first-1")
    await bench.outbox.close()  # the delivery task started by the commit

    assert bench.sent_to() == [CONTACTS[0][1]]
    [row] = await bench.notifications(alarm_id)
    assert (row.state, row.attempts, row.provider_id is not None) == ("sent", 1, True)
    alarm = await bench.alarm(alarm_id)
    assert alarm.escalation_step == 1
    assert alarm.escalation is not None and alarm.escalation["policy"] == "contacts"
    async with bench.db.sessions() as session:
        trail = list((await session.execute(
            select(AlarmEvent.kind).where(AlarmEvent.alarm_id == alarm_id)
            .order_by(AlarmEvent.id))).scalars())
    assert trail[:3] == ["opened", "escalation_started", "escalation_step"]
    assert "notified" in trail

    # The scheduler's round finds nothing left to do; five minutes on, the next contact.
    assert await bench.step(0) == (0, 0)
    assert bench.sent_to() == [CONTACTS[0][1]]
    await bench.step(5)
    assert bench.sent_to() == [CONTACTS[0][1], CONTACTS[1][1]]


async def test_a_failed_first_send_is_retried_by_the_outbox(sms_bench: Bench) -> None:
    bench = sms_bench
    bench.fake.fail_next(1, status=500)
    alarm_id = await press(bench, "first-2")
    await bench.outbox.close()

    [row] = await bench.notifications(alarm_id)
    assert (row.state, row.attempts) == ("retry", 1)
    await bench.outbox.run_once(row.next_attempt_at)
    [row] = await bench.notifications(alarm_id)
    assert (row.state, row.attempts) == ("sent", 2)
    assert bench.sent_to() == [CONTACTS[0][1]] * 2  # the refused try and the retry


async def test_a_first_step_that_fails_leaves_the_alarm_to_the_tick(
    sms_bench: Bench, monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = sms_bench
    real = bench.engine._run_steps

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a policy that cannot run")

    monkeypatch.setattr(bench.engine, "_run_steps", broken)
    alarm_id = await press(bench, "first-3")
    await bench.outbox.close()

    # The alarm opened all the same, its step undone: nothing sent, nothing half-written.
    assert await bench.notifications() == []
    alarm = await bench.alarm(alarm_id)
    assert (alarm.state, alarm.escalation_step, alarm.escalation) == ("open", 0, None)

    monkeypatch.setattr(bench.engine, "_run_steps", real)
    # The alarm is due at the wall clock's instant of opening: the tick after it runs the step.
    assert alarm.next_step_at is not None
    await bench.engine.tick(max(alarm.next_step_at, bench.at(0)))
    await bench.outbox.run_once(max(alarm.next_step_at, bench.at(0)))
    assert bench.sent_to() == [CONTACTS[0][1]]
