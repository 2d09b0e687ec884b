"""What the outbox does when Twilio fails: retry, give up on a bad number, call a landline."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from monitor.notify.outbox import UNKNOWN_NOTE, Outbox
from monitor.store.models import AlarmEvent
from tests.alarms.conftest import CONTACTS, Bench, signed

FIRST, SECOND = CONTACTS[0][1], CONTACTS[1][1]
async def test_a_server_error_is_retried_with_backoff(sms_bench: Bench) -> None:
    bench = sms_bench
    alarm_id = await bench.raise_sos()
    bench.fake.fail_next(1, 500)

    await bench.step(0)
    [row] = await bench.notifications(alarm_id)
    assert row.state == "retry" and row.attempts == 1 and "http_500" in (row.error or "")
    assert row.next_attempt_at == bench.at(seconds=30)
    assert await bench.outbox.run_once(bench.at(seconds=29)) == 0
    assert await bench.outbox.run_once(bench.at(seconds=30)) == 1

    [row] = await bench.notifications(alarm_id)
    assert row.state == "sent" and row.attempts == 2 and row.provider_id
    assert bench.sent_to("Messages") == [FIRST, FIRST]  # the failed attempt, then the good one


async def test_transient_errors_give_up_after_max_attempts(sms_bench: Bench) -> None:
    bench = sms_bench
    alarm_id = await bench.raise_sos()
    bench.fake.fail_next(3, 503)
    await bench.step(0)
    await bench.outbox.run_once(bench.at(seconds=30))
    await bench.outbox.run_once(bench.at(seconds=90))  # 30 s, then 60 s

    [row] = await bench.notifications(alarm_id)
    assert row.state == "failed" and row.attempts == 3
    # Nobody reached: the next contact is tried at once, not after the five-minute wait.
    assert await bench.step(seconds=91) == (1, 1)
    assert bench.sent_to("Messages")[-1] == SECOND


async def test_an_invalid_number_fails_and_the_next_contact_is_tried(sms_bench: Bench) -> None:
    bench = sms_bench
    alarm_id = await bench.raise_sos()
    bench.fake.twilio_error_next(21211)

    await bench.step(0)
    [row] = await bench.notifications(alarm_id)
    assert row.state == "failed" and row.attempts == 1 and "21211" in (row.error or "")
    alarm = await bench.alarm(alarm_id)
    assert alarm.next_step_at == bench.at(0)  # the five-minute wait is cut short

    assert await bench.step(seconds=1) == (1, 1)
    assert bench.sent_to("Messages") == [FIRST, SECOND]
    async with bench.db.sessions() as session:
        kinds = list((await session.execute(select(AlarmEvent.kind).where(
            AlarmEvent.alarm_id == alarm_id).order_by(AlarmEvent.id))).scalars())
    assert "notify_failed" in kinds and "unreachable" in kinds


async def test_a_landline_gets_a_call_instead_of_an_sms(sms_bench: Bench) -> None:
    bench = sms_bench
    alarm_id = await bench.raise_sos()
    bench.fake.twilio_error_next(21614)

    await bench.step(0)
    sms, call = await bench.notifications(alarm_id)
    assert (sms.channel, sms.state) == ("sms", "failed")
    assert (call.channel, call.state, call.address) == ("voice", "pending", FIRST)
    assert "回复1" not in call.body  # worded for the ear
    await bench.outbox.run_once(bench.at(seconds=1))

    assert bench.sent_to("Calls") == [FIRST]
    alarm = await bench.alarm(alarm_id)
    assert alarm.next_step_at == bench.at(5)  # the call reaches the person: no hurry


async def test_delivery_callbacks_update_the_notification(sms_bench: Bench) -> None:
    bench = sms_bench
    alarm_id = await bench.raise_sos()
    await bench.step(0)
    [row] = await bench.notifications(alarm_id)
    path = f"/api/twilio/status/{row.id}"

    delivered = {"MessageSid": row.provider_id or "", "MessageStatus": "delivered"}
    answer = await bench.http.post(path, data=delivered, headers=signed(path, delivered))
    assert answer.status_code == 204
    [row] = await bench.notifications(alarm_id)
    assert row.state == "delivered" and row.delivered_at is not None

    # A later report that the carrier could not deliver (30006: landline): call instead.
    failed = {"MessageSid": row.provider_id or "", "MessageStatus": "undelivered",
              "ErrorCode": "30006"}
    answer = await bench.http.post(path, data=failed, headers=signed(path, failed))
    assert answer.status_code == 204
    sms, call = await bench.notifications(alarm_id)
    assert sms.state == "failed" and "30006" in (sms.error or "")
    assert (call.channel, call.state) == ("voice", "pending")


@pytest.mark.parametrize("path", ["/api/twilio/sms", "/api/twilio/status/1",
                                  "/api/twilio/voice/1"])
async def test_a_forged_signature_is_refused(bench: Bench, path: str) -> None:
    alarm_id = await bench.raise_sos()
    await bench.step(0)
    form = {"MessageSid": "SM1", "CallSid": "CA1", "From": FIRST, "Body": "1", "Digits": "1",
            "MessageStatus": "delivered"}
    forged = signed(path, form, token="not-our-token")

    assert (await bench.http.post(path, data=form, headers=forged)).status_code == 403
    assert (await bench.http.post(path, data=form)).status_code == 403
    assert (await bench.alarm(alarm_id)).state == "open"
    assert {n.state for n in await bench.notifications(alarm_id)} == {"sent"}


class Crash(BaseException):
    """The process dies: nothing after this point runs."""


async def test_a_crash_between_send_and_record_sends_nothing_twice(
    sms_bench: Bench, monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = sms_bench
    alarm_id = await bench.raise_sos()
    await bench.engine.tick(bench.at(0))

    async def die(*args: object, **kwargs: object) -> None:
        raise Crash

    with monkeypatch.context() as patch:
        patch.setattr(Outbox, "_sent", die)
        with pytest.raises(Crash):
            await bench.outbox.run_once(bench.at(0))
    assert bench.sent_to("Messages") == [FIRST]
    [row] = await bench.notifications(alarm_id)
    assert row.state == "sending"

    # A restarted daemon: the row's lease has not run out, nobody touches it ...
    restarted = Outbox(bench.db, bench.monitor.notifiers, bench.monitor.config.notify,
                       bench.monitor.config.escalation)
    assert await restarted.run_once(bench.at(seconds=60)) == 0
    # ... after it, the row is marked unknown and never sent again.
    for seconds in (121, 300, 3600):
        await restarted.run_once(bench.at(seconds=seconds))
    [row] = await bench.notifications(alarm_id)
    assert row.state == "unknown" and row.error == UNKNOWN_NOTE
    assert bench.sent_to("Messages") == [FIRST]
    # The escalation goes on: the next contact at the next step's time.
    assert await bench.engine.tick(bench.at(5)) == 1
    await restarted.run_once(bench.at(5))
    assert bench.sent_to("Messages") == [FIRST, SECOND]
