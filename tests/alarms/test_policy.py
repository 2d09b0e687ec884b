"""Policies: chosen by kind and severity, frozen into the alarm, checked when loaded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from monitor.alarms.escalation import quiet_until, select_policy
from monitor.config import EscalationConfig, EscalationPolicy
from monitor.store.models import Alarm
from tests.alarms.conftest import DUTY_PHONE, close_bench, make_bench
from tests.fixtures.factories import MakeElder
from tests.fixtures.twilio import FakeTwilio


@pytest.mark.parametrize(("kind", "severity", "policy"), [
    ("sos", "critical", "emergency"),
    ("gas", "critical", "emergency"),
    ("inactivity_water", "warning", "check_on_elder"),
    ("no_water", "warning", "check_on_elder"),
    ("no_activity", "critical", "check_on_elder_urgent"),
    ("water_running", "warning", "check_on_elder"),
    ("spo2_low", "critical", "critical"),
    ("device_offline", "info", "maintenance"),
    ("battery_low", "warning", "maintenance"),
    ("button_untested", "warning", "maintenance"),
    ("device_clock_drift", "info", "maintenance"),
    ("something_new", "warning", "check_on_elder"),
])
def test_default_policy_by_kind_and_severity(kind: str, severity: str, policy: str) -> None:
    chosen = select_policy(EscalationConfig(), kind, severity)
    assert chosen is not None and chosen.name == policy


def test_prefix_and_severity_matching() -> None:
    policy = EscalationPolicy.model_validate({"name": "p", "kinds": ["inactivity_*"],
                                              "severities": ["warning"],
                                              "steps": [{"notify": ["elder"]}]})
    assert policy.matches("inactivity_power", "warning")
    assert not policy.matches("inactivity_power", "critical")
    assert not policy.matches("continuous_water", "warning")


@pytest.mark.parametrize("steps", [
    [{"notify": ["neighbour"]}],
    [{"notify": ["elder"], "channels": ["pager"]}],
    [{"notify": ["elder"], "wait_min": 3}],
    [{}],
    [{"notify": ["elder"]}, {"repeat_from": 0}],  # repeats without waiting: a busy loop
    [{"wait_min": 1}, {"repeat_from": 1}],
])
def test_bad_policies_are_refused(steps: list[dict[str, object]]) -> None:
    with pytest.raises(ValidationError):
        EscalationPolicy.model_validate({"name": "bad", "steps": steps})


def test_quiet_hours_run_past_midnight() -> None:
    config = EscalationConfig()  # 22:00 to 07:00 in Shanghai
    assert quiet_until(config, datetime(2026, 12, 3, 13, 59, tzinfo=UTC)) is None  # 21:59
    assert quiet_until(config, datetime(2026, 12, 3, 14, 0, tzinfo=UTC)) == datetime(
        2026, 12, 3, 23, 0, tzinfo=UTC)
    assert quiet_until(config, datetime(2026, 12, 3, 22, 30, tzinfo=UTC)) == datetime(
        2026, 12, 3, 23, 0, tzinfo=UTC)
    assert quiet_until(config, datetime(2026, 12, 3, 23, 0, tzinfo=UTC)) is None


async def test_the_policy_is_frozen_when_the_escalation_starts(
    tmp_path: Path, fake_twilio: FakeTwilio, make_elder: MakeElder
) -> None:
    bench = await make_bench(f"sqlite:///{tmp_path}/state.db", fake_twilio, make_elder)
    try:
        alarm_id = await bench.raise_sos()
        await bench.step(0)
        # The operator shortens the emergency policy: the running alarm keeps its own.
        bench.engine.config = EscalationConfig.model_validate({"policies": [
            {"name": "emergency", "steps": [{"notify": ["elder"]}, {"wait_min": 60}]}]})
        assert await bench.step(3) == (1, 2)
        alarm = await bench.alarm(alarm_id)
        assert alarm.escalation is not None and len(alarm.escalation["steps"]) == 7
    finally:
        await close_bench(bench)


async def test_maintenance_at_night_waits_for_the_morning_without_calls(
    tmp_path: Path, fake_twilio: FakeTwilio, make_elder: MakeElder
) -> None:
    bench = await make_bench(f"sqlite:///{tmp_path}/state.db", fake_twilio, make_elder)
    try:
        bench.t0 = bench.t0.replace(hour=15)  # 23:00 in Shanghai
        alarm_id = await bench.raise_sos(kind="battery_low", severity="warning")
        assert await bench.step(0) == (1, 0)
        [row] = await bench.notifications(alarm_id)
        assert (row.channel, row.address, row.recipient_kind) == ("sms", DUTY_PHONE, "duty")
        assert row.next_attempt_at == bench.t0 + timedelta(hours=8)  # 07:00
        assert await bench.outbox.run_once(bench.t0 + timedelta(hours=8)) == 1
        assert bench.sent_to("Calls") == []
    finally:
        await close_bench(bench)


async def test_hourly_limit_per_person_spares_critical_alarms(
    tmp_path: Path, fake_twilio: FakeTwilio, make_elder: MakeElder
) -> None:
    bench = await make_bench(f"sqlite:///{tmp_path}/state.db", fake_twilio, make_elder,
                             max_per_hour=2)
    try:
        await make_elder(bench.db, "E0002", contacts=[("赵六", "+8613800000006")])
        await make_elder(bench.db, "E0003", contacts=[("钱七", "+8613800000007")])
        first = await bench.raise_sos("E0001", kind="battery_low", severity="warning")
        second = await bench.raise_sos("E0002", kind="battery_low", severity="warning")
        urgent = await bench.raise_sos("E0003", kind="smoke")
        await bench.step(0)
        states = {a: [n.state for n in await bench.notifications(a) if n.address == DUTY_PHONE]
                  for a in (first, second, urgent)}
        assert states[first] == ["sent"]
        assert states[second] == ["sent"]
        assert states[urgent] == ["sent", "sent"]  # critical: SMS and call, over the limit
        third = await bench.raise_sos("E0001", kind="device_offline", severity="warning")
        await bench.step(1)
        assert [n.state for n in await bench.notifications(third)] == ["suppressed"]
    finally:
        await close_bench(bench)


async def test_a_broken_alarm_does_not_hold_up_the_others(
    tmp_path: Path, fake_twilio: FakeTwilio, make_elder: MakeElder
) -> None:
    bench = await make_bench(f"sqlite:///{tmp_path}/state.db", fake_twilio, make_elder)
    try:
        await make_elder(bench.db, "E0002", contacts=[("赵六", "+8613800000006")])
        broken = await bench.raise_sos("E0001")
        healthy = await bench.raise_sos("E0002")
        async with bench.db.transaction() as session:
            alarm = await session.get(Alarm, broken)
            assert alarm is not None
            alarm.escalation = {"steps": "not a list"}  # a snapshot no code can follow

        assert await bench.engine.tick(bench.at(0)) == 1
        assert [n.address for n in await bench.notifications(healthy)] != []
        assert (await bench.alarm(broken)).next_step_at == bench.at(1)  # tried again later
    finally:
        await close_bench(bench)


async def test_without_sms_or_voice_every_step_goes_to_the_webhook(
    tmp_path: Path, fake_twilio: FakeTwilio, make_elder: MakeElder
) -> None:
    from monitor.alarms.escalation import EscalationEngine

    bench = await make_bench(f"sqlite:///{tmp_path}/state.db", fake_twilio, make_elder)
    try:
        alarm_id = await bench.raise_sos()
        engine = EscalationEngine(bench.db, bench.monitor.config.escalation, {"webhook", "log"})
        assert await engine.tick(bench.at(0)) == 1
        rows = await bench.notifications(alarm_id)
        assert {(n.recipient_kind, n.channel) for n in rows} == {
            ("duty", "webhook"), ("contact", "webhook")}
    finally:
        await close_bench(bench)
