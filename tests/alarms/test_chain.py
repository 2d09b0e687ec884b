"""The full chain with a controllable clock: each step at its time, until someone answers."""

from __future__ import annotations

import pytest

from tests.alarms.conftest import CONTACTS, DUTY_PHONE, Bench, signed

FIRST, SECOND = CONTACTS[0][1], CONTACTS[1][1]


async def test_emergency_steps_come_at_their_time(bench: Bench) -> None:
    alarm_id = await bench.raise_sos()

    assert await bench.step(0) == (1, 4)
    assert sorted(bench.sent_to("Messages")) == sorted([DUTY_PHONE, FIRST])
    assert sorted(bench.sent_to("Calls")) == sorted([DUTY_PHONE, FIRST])
    first_round = await bench.notifications(alarm_id)
    assert {n.state for n in first_round} == {"sent"}
    assert all(n.provider_id for n in first_round)
    assert "按下一键呼叫" in first_round[0].body and "张*兰" in first_round[0].body

    assert await bench.step(2, 59) == (0, 0)  # the wait is three minutes
    assert await bench.step(3) == (1, 2)
    assert bench.sent_to("Messages")[-1] == SECOND
    assert await bench.step(6) == (1, 2)
    assert bench.sent_to("Messages")[-1] == FIRST  # the list is called again
    # After the third wait the round repeats: duty staff and the first contact again.
    assert await bench.step(9) == (1, 4)
    assert sorted(bench.sent_to("Messages")[-2:]) == sorted([DUTY_PHONE, FIRST])
    alarm = await bench.alarm(alarm_id)
    assert alarm.escalation is not None and alarm.escalation["policy"] == "emergency"
    assert alarm.escalation["round"] == 1


async def ack_by_api(bench: Bench, alarm_id: int) -> None:
    from monitor.accounts import create_account

    async with bench.db.transaction() as session:
        await create_account(session, "east", "east-pass-123", "duty", "mgl-01")
    token = (await bench.http.post("/api/auth/token", data={
        "username": "east", "password": "east-pass-123"})).json()["access_token"]
    answer = await bench.http.post(f"/api/alarms/{alarm_id}/ack", json={"note": "我来"},
                                   headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text


async def ack_by_sms(bench: Bench, alarm_id: int) -> None:
    form = {"MessageSid": "SMreply1", "From": SECOND, "To": "+8655100000000", "Body": "1"}
    answer = await bench.http.post("/api/twilio/sms", data=form,
                                   headers=signed("/api/twilio/sms", form))
    assert answer.status_code == 200, answer.text
    assert f"告警{alarm_id}由您处理" in answer.text


async def ack_by_key(bench: Bench, alarm_id: int) -> None:
    call = next(n for n in await bench.notifications(alarm_id)
                if n.channel == "voice" and n.address == SECOND)
    path = f"/api/twilio/voice/{call.id}"
    form = {"CallSid": call.provider_id or "", "Digits": "1"}
    answer = await bench.http.post(path, data=form, headers=signed(path, form))
    assert answer.status_code == 200, answer.text
    assert "已确认收到" in answer.text


@pytest.mark.parametrize(("ack", "method", "who"), [
    (ack_by_api, "api", "east"),
    (ack_by_sms, "sms_reply", "联系人 王* +86138****0002"),
    (ack_by_key, "voice_key", "联系人 王* +86138****0002"),
], ids=["api", "sms_reply", "key_press"])
async def test_acknowledgement_stops_the_escalation(bench: Bench, ack, method: str,  # type: ignore[no-untyped-def]
                                                    who: str) -> None:
    alarm_id = await bench.raise_sos()
    await bench.step(0)
    await bench.step(3)  # the second contact has had an SMS and a call
    # The next step is decided but not yet sent when the acknowledgement comes.
    assert await bench.engine.tick(bench.at(6)) == 1
    before = len(bench.fake.requests)

    await ack(bench, alarm_id)

    alarm = await bench.alarm(alarm_id)
    assert alarm.state == "acknowledged" and alarm.ack_method == method
    assert alarm.acknowledged_by == who and alarm.next_step_at is None
    later = [await bench.step(minutes) for minutes in (6, 9, 12, 30)]
    assert later == [(0, 0)] * 4
    assert len(bench.fake.requests) == before
    states = [n.state for n in await bench.notifications(alarm_id)]
    assert states[-2:] == ["cancelled", "cancelled"] and "pending" not in states



async def test_a_quiet_house_asks_the_elder_first_and_her_reply_ends_it(bench: Bench) -> None:
    from tests.alarms.conftest import ELDER_PHONE

    alarm_id = await bench.raise_sos(kind="inactivity_water", severity="warning")
    assert await bench.step(0) == (1, 2)
    assert bench.sent_to("Messages") == [ELDER_PHONE] and bench.sent_to("Calls") == [ELDER_PHONE]
    [sms] = [n for n in await bench.notifications(alarm_id) if n.channel == "sms"]
    assert sms.recipient_kind == "elder" and sms.body.endswith("请回复1报平安。")
    assert await bench.step(9, 59) == (0, 0)
    assert await bench.step(10) == (1, 2)
    assert bench.sent_to("Messages")[-1] == FIRST

    form = {"MessageSid": "SMelder", "From": ELDER_PHONE, "Body": "１。"}
    answer = await bench.http.post("/api/twilio/sms", data=form,
                                   headers=signed("/api/twilio/sms", form))
    assert answer.status_code == 200 and "由您处理" in answer.text

    alarm = await bench.alarm(alarm_id)
    assert (alarm.state, alarm.ack_method) == ("acknowledged", "sms_reply")
    assert alarm.acknowledged_by == "老人 张*兰 +86138****0000"
    assert await bench.step(20) == (0, 0)


async def test_a_reply_from_a_stranger_or_not_an_ack_takes_nothing(bench: Bench) -> None:
    alarm_id = await bench.raise_sos()
    await bench.step(0)
    for sender, text in (("+8613900000000", "1"), (FIRST, "怎么回事？")):
        form = {"MessageSid": "SMx", "From": sender, "Body": text}
        answer = await bench.http.post("/api/twilio/sms", data=form,
                                       headers=signed("/api/twilio/sms", form))
        assert answer.status_code == 200 and "<Message>" not in answer.text
    assert (await bench.alarm(alarm_id)).state == "open"


async def test_the_alarm_detail_shows_the_escalation_masked(bench: Bench) -> None:
    from monitor.accounts import create_account

    alarm_id = await bench.raise_sos()
    await bench.step(0)
    async with bench.db.transaction() as session:
        await create_account(session, "east", "east-pass-123", "duty", "mgl-01")
    token = (await bench.http.post("/api/auth/token", data={
        "username": "east", "password": "east-pass-123"})).json()["access_token"]

    detail = (await bench.http.get(f"/api/alarms/{alarm_id}",
                                   headers={"Authorization": f"Bearer {token}"})).json()

    assert detail["escalation"]["policy"] == "emergency"
    assert detail["escalation"]["next_step_at"].startswith(bench.at(3).isoformat()[:16])
    told = {(n["recipient_kind"], n["recipient_name"], n["address"], n["channel"], n["state"])
            for n in detail["notifications"]}
    assert told == {
        ("duty", "赵*班", "+86137****0009", "sms", "sent"),
        ("duty", "赵*班", "+86137****0009", "voice", "sent"),
        ("contact", "李*", "+86138****0001", "sms", "sent"),
        ("contact", "李*", "+86138****0001", "voice", "sent"),
    }
    kinds = [e["kind"] for e in detail["events"]]
    assert kinds[:3] == ["opened", "escalation_started", "escalation_step"]
    assert kinds.count("notified") == 4
